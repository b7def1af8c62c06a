"""Where served models come from: a :class:`Source` names endpoints, says which versions
answer for each (its :class:`Lineup`) and loads them.

The server asks a source for an endpoint's lineup when it starts and again whenever the
endpoint's :meth:`Source.revision` grows (a candidate deployed, a promotion, a rollback),
so a source is the one seam between serving and the registry. :class:`RunSource` serves
one tracked run, outside the registry, under the project's name.

>>> import prodml, tempfile
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> run = project.fit()
>>> source = RunSource(project, run.id)
>>> served = source.load("breast-cancer")
>>> served.model_id, len(served.schema.columns), served.metadata
('breast-cancer:0', 30, ())
>>> project.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from prodml.automation.levels import Automation
from prodml.automation.setting import run_curve, served_automation
from prodml.config import Unseen
from prodml.data.schema import Schema
from prodml.errors import NotFoundError, listing
from prodml.serve.stand_in import stand_in

if TYPE_CHECKING:
    from prodml.model.rules import RuleModel
    from prodml.project import Project
    from prodml.store.runs import Run

#: The kinds of run that keep a model to serve.
SERVABLE_KINDS = ("fit", "search")


@dataclass(frozen=True)
class Served:
    """A model that answers under an endpoint, the input it takes, and the fields a
    request may carry beside it to be logged with its rows (the project's
    ``data.metadata``; see :mod:`prodml.serve.metadata`)."""

    endpoint: str  # the name clients use (the V2 model name; MLflow has just one)
    name: str
    version: int
    model: Any  # a fitted scikit-learn-compatible estimator
    schema: Schema
    run_id: str | None = None  # the run that fitted it
    metadata: tuple[str, ...] = ()
    time: str | None = None  # the field that gives a row's event time (data.time)
    stand_in: bool = False  # the model is the fallback rule (prodml.serve.stand_in)
    unseen: Unseen = "reject"  # a value never seen in training: refused, or answered

    @property
    def model_id(self) -> str:
        """``name:version``, as answers and logs show it."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Lineup:
    """The versions that answer for an endpoint: its primary, and a candidate beside it
    (``mode`` shadow, canary or blue-green) with its ``share`` of requests, percent; and
    who decides the answers (:mod:`prodml.automation.levels`)."""

    primary: int
    candidate: int | None = None
    mode: str | None = None
    share: float = 0.0
    automation: Automation = field(default_factory=Automation)


class Source(Protocol):
    """Endpoints and the models each serves now."""

    def revision(self, endpoint: str) -> int:
        """A number that grows when the endpoint's lineup changes; cheap to ask often."""
        ...

    def lineup(self, endpoint: str) -> Lineup:
        """Which versions answer for the endpoint now, and how."""
        ...

    def load(self, endpoint: str, version: int | None = None) -> Served:
        """A version of the endpoint's model (its primary now by default);
        :class:`NotFoundError` for an unknown endpoint."""
        ...

    def stand_in(self, endpoint: str, rule: RuleModel) -> Served:
        """The endpoint's primary with ``rule`` in the place of its model, which could
        not be loaded (see :mod:`~prodml.serve.stand_in`)."""
        ...

    def endpoints(self) -> list[str]:
        """Every endpoint this source can load."""
        ...


class RunSource:
    """One run's model, served under ``endpoint`` (default: the project's name) as version 0,
    since a run outside the registry has no version number."""

    def __init__(self, project: Project, run: str | None = None, endpoint: str | None = None):
        self.project = project
        self.run: Run = newest_servable(project) if run is None else project.run(run)
        if self.run.kind not in SERVABLE_KINDS or self.run.status != "finished":
            raise NotFoundError(
                f"run {self.run.id} is a {self.run.status} {self.run.kind} run, which has no "
                f"model to serve; give a finished {' or '.join(SERVABLE_KINDS)} run "
                "(see `prodml runs list`)"
            )
        if self.run.input_schema is None:
            raise NotFoundError(
                f"run {self.run.id} has no input schema (it was fitted by an older prodml), "
                "so requests cannot be checked; fit again to record one"
            )
        self.endpoint = endpoint or project.name

    def revision(self, endpoint: str) -> int:
        self._check(endpoint)
        return 0

    def lineup(self, endpoint: str) -> Lineup:
        self._check(endpoint)
        settings = self.project.settings.serve.automation
        points = partial(run_curve, self.project.runs_store, self.run.id, f"run {self.run.id}")
        return Lineup(primary=0, automation=served_automation(None, settings, points))

    def load(self, endpoint: str, version: int | None = None) -> Served:
        self._check(endpoint)
        if version not in (None, 0):
            raise NotFoundError(f"endpoint '{endpoint}' serves one run, as version 0")
        return self._served(endpoint, self.project.load_model(self.run.id))

    def stand_in(self, endpoint: str, rule: RuleModel) -> Served:
        self._check(endpoint)
        ruled = stand_in(rule, self.project.runs_store, self.run.id, f"run {self.run.id}")
        return replace(self._served(endpoint, ruled), stand_in=True)

    def _served(self, endpoint: str, model: Any) -> Served:
        assert self.run.input_schema is not None  # checked in __init__
        return Served(
            endpoint=endpoint,
            name=self.project.name,
            version=0,
            model=model,
            schema=Schema.from_dict(self.run.input_schema),
            run_id=self.run.id,
            metadata=self.project.settings.data.metadata,
            time=self.project.settings.data.time,
            unseen=self.project.settings.serve.unseen,
        )

    def endpoints(self) -> list[str]:
        return [self.endpoint]

    def _check(self, endpoint: str) -> None:
        if endpoint != self.endpoint:
            raise NotFoundError(
                f"endpoint '{endpoint}' is not served here; endpoints are: "
                f"{listing(self.endpoints())}"
            )


def newest_servable(project: Project) -> Run:
    """The project's newest finished fit or search."""
    for run in project.runs():
        if run.kind in SERVABLE_KINDS and run.status == "finished":
            return run
    raise NotFoundError(
        f"project {project.name} has no finished fit or search run to serve; "
        "start with `prodml fit`"
    )
