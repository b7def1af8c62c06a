"""The registry as a :class:`~prodml.serve.source.Source`: every deployment's primary and
candidate.

A deployment's revision grows with each change (a candidate deployed or stopped, a ramp
step, a promotion, a rollback), so running servers see it on their next look and load
what they do not hold yet (its SHA-256 checked first). The project's ``data.metadata``
names, given once, go with every version loaded (:attr:`Served.metadata`). An endpoint's
lineup carries who decides its answers: the deployment's own setting (``prodml
automation``), else the project's ``serve.automation`` (a ``target_error`` there met on
the primary's dev curve when the lineup is read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from prodml.automation.setting import dev_curve, served_automation
from prodml.config import AutomationSettings, Unseen
from prodml.data.schema import Schema
from prodml.errors import NotFoundError, StoreError
from prodml.model.rules import RuleModel
from prodml.registry import ModelVersion, Registry
from prodml.serve.source import Lineup, Served
from prodml.serve.stand_in import stand_in


class RegistrySource:
    """The endpoints of the registry's deployments, each serving its primary version;
    ``metadata``: the fields requests may carry beside the inputs, to be logged, and
    ``time`` the one that gives a row's event time (``data.time``);
    ``automation``: who decides where a deployment does not say; ``unseen``: what a value
    never seen in training gets (``serve.unseen``)."""

    def __init__(
        self,
        registry: Registry,
        metadata: Sequence[str] = (),
        automation: AutomationSettings | None = None,
        unseen: Unseen = "reject",
        time: str | None = None,
    ) -> None:
        self.registry = registry
        self.metadata = tuple(metadata)
        self.time = time
        self.automation = automation or AutomationSettings()
        self.unseen = unseen

    def revision(self, endpoint: str) -> int:
        return self.registry.deployment(endpoint).revision

    def lineup(self, endpoint: str) -> Lineup:
        deployment = self.registry.deployment(endpoint)
        points = partial(dev_curve, self.registry, endpoint)
        automation = served_automation(deployment.automation, self.automation, points)
        candidate = deployment.candidate
        if candidate is None:
            return Lineup(primary=deployment.primary, automation=automation)
        return Lineup(
            deployment.primary, candidate.version, candidate.mode, candidate.share, automation
        )

    def load(self, endpoint: str, version: int | None = None) -> Served:
        found = self._version(endpoint, version)
        try:
            model = self.registry.load(found)
        except StoreError as exc:  # say which version, as the endpoint may serve another
            raise type(exc)(f"model {found.ref}: {exc}") from exc
        return self._served(endpoint, found, model)

    def stand_in(self, endpoint: str, rule: RuleModel) -> Served:
        found = self._version(endpoint, None)
        ruled = stand_in(rule, self.registry.runs, found.run_id, f"model {found.ref}")
        return replace(self._served(endpoint, found, ruled), stand_in=True)

    def _version(self, endpoint: str, version: int | None) -> ModelVersion:
        """A version of the endpoint's model (its primary by default), with its schema."""
        deployment = self.registry.deployment(endpoint)
        number = deployment.primary if version is None else version
        found = self.registry.get(f"{deployment.name}:{number}")
        if found.input_schema is None:
            raise NotFoundError(
                f"model {found.ref} has no input schema, so requests cannot be checked; "
                "register a new fit"
            )
        return found

    def _served(self, endpoint: str, found: ModelVersion, model: Any) -> Served:
        assert found.input_schema is not None  # checked in _version
        return Served(
            endpoint=endpoint,
            name=found.name,
            version=found.version,
            model=model,
            schema=Schema.from_dict(found.input_schema),
            run_id=found.run_id,
            metadata=self.metadata,
            time=self.time,
            unseen=self.unseen,
        )

    def endpoints(self) -> list[str]:
        return [d.endpoint for d in self.registry.deployments()]
