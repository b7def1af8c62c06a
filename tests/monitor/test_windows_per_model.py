"""Windows per model: a canary's requests among its primary's (two registered versions of
the breast-cancer example, their answers interleaved in one endpoint's log) are cut into
windows of each model's own rows, whatever the other's rows between them. Checked against
the ids and labels written: every window is full and of one model, each model's rows are
covered once and in order, each window's accuracy is scikit-learn's on its own rows; a
monitor that reads the log over many passes (a new project, as ``prodml monitor --once``,
each time) stores what one pass stores; a version switched off gets its last window closed
once a window of the other's rows follows; an accuracy rule is not judged on a window of
fewer than ``monitor.min_labels`` labels."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.metrics import accuracy_score

import prodml
from prodml.config import ModelSpec
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.monitoring import Window

NAME, WINDOW = "bc-test", 200
RULE = "accuracy < 0.7"
#: The second version: another model, so that its answers differ from the first's.
SECOND = ModelSpec(factory="sklearn.tree.DecisionTreeClassifier", params={"max_depth": 2})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The breast-cancer example with windows of WINDOW predictions and an accuracy rule;
    versions 1 (its logistic regression) and 2 (a shallow tree) registered."""
    folder = prodml.init(tmp_path_factory.mktemp("template") / "bc", example="breast-cancer")
    settings = yaml.safe_load((folder / "prodml.yaml").read_text())
    settings["project"] = NAME
    settings["monitor"] = {
        "window": WINDOW,
        "alerts": [{"metric": "accuracy", "below": 0.7}],
    }
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    with prodml.Project(folder) as project:
        for spec in (None, SECOND):
            run = project.fit(spec)
            project.evaluate(run.id)
            project.register(run.id)
    return folder


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Path:
    """A copy of the template: a store of its own, with an empty prediction log."""
    return Path(shutil.copytree(template, tmp_path / "bc"))


@dataclass(frozen=True)
class Traffic:
    """Requests answered by the two versions, in the order they came: each one's request
    id, version, inputs, answer and true label."""

    request_ids: list[str]
    versions: np.ndarray
    inputs: list[dict[str, Any]]
    answers: list[dict[str, Any]]
    truth: list[str]
    classes: tuple[str, ...]


def traffic(folder: Path, rows: int, seed: int, switch_at: int | None = None) -> Traffic:
    """``rows`` patients drawn from the data, 10% of them (all from ``switch_at`` on)
    answered by version 2, the others by version 1."""
    rng = np.random.default_rng(seed)
    with prodml.Project(folder) as project:
        data, target = project.load_data(), project.settings.data.target
        models = {v: project.registry.load(project.registry.get(f"{NAME}:{v}")) for v in (1, 2)}
    drawn = data.frame.iloc[rng.integers(len(data.frame), size=rows)].reset_index(drop=True)
    versions = np.where(rng.random(rows) < 0.1, 2, 1)
    if switch_at is not None:
        versions[switch_at:] = 2
    features = drawn[list(data.features)]
    answers: list[dict[str, Any]] = [{}] * rows
    classes = tuple(str(c) for c in models[1].classes_)
    for version, model in models.items():
        at = np.flatnonzero(versions == version)
        if not at.size:
            continue
        probabilities = model.predict_proba(features.iloc[at])
        for i, p in zip(at, probabilities.tolist(), strict=True):
            best = int(np.argmax(p))
            shares = {c: float(s) for c, s in zip(classes, p, strict=True)}
            answers[i] = {"label": classes[best], "probabilities": shares}
    records: list[dict[str, Any]] = json.loads(features.to_json(orient="records"))
    return Traffic(
        [f"req-{seed}-{i}" for i in range(rows)],
        versions,
        records,
        answers,
        drawn[target].astype(str).tolist(),
        classes,
    )


def log(folder: Path, served: Traffic, rows: range) -> None:
    """Log ``rows`` of ``served`` as the server does, on endpoint ``ep``."""
    entries = [
        entry(
            served.request_ids[i],
            "ep",
            NAME,
            int(served.versions[i]),
            served.inputs[i],
            served.answers[i],
            0.002,
            classes=served.classes,
        )
        for i in rows
    ]
    with prodml.Project(folder) as project:
        writer = PredictionLog(project.runs_store.database)
        try:
            writer.write(entries).result()
        finally:
            writer.close()


def label(folder: Path, served: Traffic, rows: range, wrong: bool = False) -> None:
    """Give ``rows`` their true labels as feedback (``wrong``: the class not answered)."""
    other = dict(zip(served.classes, served.classes[::-1], strict=True))
    said = [served.answers[i]["label"] for i in rows]
    truth = [other[s] for s in said] if wrong else [served.truth[i] for i in rows]
    pairs = list(zip([served.request_ids[i] for i in rows], truth, strict=True))
    with prodml.Project(folder) as project:
        project.monitoring.add_feedback(pairs, "test")


def monitor(folder: Path, close: bool = False) -> list[Window]:
    """A pass of a new project's monitor over ``ep``, as ``prodml monitor --once`` runs
    one; every window stored."""
    with prodml.Project(folder) as project:
        project.monitor("ep", close=close)
        return project.monitoring.windows("ep")


def log_ids(folder: Path, served: Traffic) -> np.ndarray:
    """The log id of each request of ``served`` (0: not logged)."""
    with prodml.Project(folder) as project:
        logged = {row.request_id: row.id for row in project.monitoring.logged("ep")}
    return np.array([logged.get(request_id, 0) for request_id in served.request_ids])


def rows_of(window: Window, served: Traffic, ids: np.ndarray) -> np.ndarray:
    """The requests (places in ``served``) of ``window``'s model in its id range."""
    inside = (ids >= window.first_id) & (ids <= window.last_id)
    return np.flatnonzero(inside & (served.versions == window.model_version))


def test_each_model_s_rows_are_cut_into_full_windows_of_its_own(folder: Path) -> None:
    served = traffic(folder, 4_000, seed=1)
    log(folder, served, range(4_000))
    label(folder, served, range(4_000))
    windows = monitor(folder)
    ids = log_ids(folder, served)

    for version in (1, 2):
        mine = [w for w in windows if w.model_version == version]
        expected = np.flatnonzero(served.versions == version)  # in the order of the log
        full = len(expected) // WINDOW
        assert len(mine) == full >= 2
        covered = np.concatenate([rows_of(w, served, ids) for w in mine])
        assert covered.tolist() == expected[: full * WINDOW].tolist()  # once, in order
    for w in windows:
        own = rows_of(w, served, ids)
        assert w.rows == len(own) == WINDOW and w.metrics["partial"] == 0
        assert (ids[own[0]], ids[own[-1]]) == (w.first_id, w.last_id)
        truth = [served.truth[i] for i in own]
        said = [served.answers[i]["label"] for i in own]
        assert w.metrics["accuracy"] == pytest.approx(accuracy_score(truth, said), abs=1e-12)
        assert w.metrics["labelled"] == WINDOW and w.metrics["too_few_labels"] == 0
    # the versions' answers differ, so a window of both would have another accuracy
    assert len({round(w.metrics["accuracy"], 3) for w in windows}) > 2


def test_many_passes_store_the_windows_one_pass_stores(folder: Path, tmp_path: Path) -> None:
    served = traffic(folder, 3_000, seed=2)
    other = Path(shutil.copytree(folder, tmp_path / "once"))
    cuts = [0, 150, 151, 777, 1_400, 1_420, 2_300, 3_000]
    for start, end in itertools.pairwise(cuts):
        log(folder, served, range(start, end))
        monitor(folder)
        label(folder, served, range(start, end))
        monitor(folder)
    log(other, served, range(3_000))
    label(other, served, range(3_000))

    def kept(windows: list[Window]) -> list[tuple[Any, ...]]:
        return sorted(
            (w.model_version, w.first_id, w.last_id, w.rows, w.metrics["accuracy"]) for w in windows
        )

    many, once = kept(monitor(folder)), kept(monitor(other))
    assert many == once
    full = sum(int(np.count_nonzero(served.versions == v)) // WINDOW for v in (1, 2))
    assert len(once) == full  # the full windows of each version; the rest waits
    assert np.array_equal(log_ids(folder, served), log_ids(other, served))


def test_a_version_switched_off_gets_its_last_window_closed_once_a_window_follows(
    folder: Path,
) -> None:
    served = traffic(folder, 2_600, seed=3, switch_at=1_500)
    last = int(np.flatnonzero(served.versions == 1)[-1])  # version 1's last request
    log(folder, served, range(last + WINDOW))  # 199 of version 2's after it
    windows = monitor(folder)
    ids = log_ids(folder, served)
    first = np.flatnonzero(served.versions == 1)
    held = len(first) % WINDOW
    assert held and [w.last_id for w in windows if w.model_version == 1][-1] < ids[last]

    log(folder, served, range(last + WINDOW, last + WINDOW + 1))  # the 200th
    stored = {w.id for w in windows}
    (closed,) = [w for w in monitor(folder) if w.id not in stored and w.model_version == 1]
    assert (closed.model_version, closed.rows, closed.metrics["partial"]) == (1, held, 1)
    assert rows_of(closed, served, log_ids(folder, served)).tolist() == first[-held:].tolist()

    log(folder, served, range(last + WINDOW + 1, 2_600))
    before = monitor(folder)
    stored = {w.id for w in before}
    closing = [w for w in monitor(folder, close=True) if w.id not in stored]
    twos = np.flatnonzero(served.versions == 2)
    assert [(w.model_version, w.rows, w.metrics["partial"]) for w in closing] == [
        (2, len(twos) % WINDOW, 1)
    ]
    assert all(w.metrics["partial"] == 0 for w in before if w.id != closed.id)


def test_an_accuracy_rule_is_judged_only_on_windows_of_enough_labels(folder: Path) -> None:
    served = traffic(folder, 2 * WINDOW, seed=4, switch_at=0)  # version 2 alone
    log(folder, served, range(2 * WINDOW))
    label(folder, served, range(0, 29), wrong=True)  # 29 labels, the model wrong on each
    label(folder, served, range(WINDOW, WINDOW + 30), wrong=True)  # 30
    with prodml.Project(folder) as project:
        done = project.monitor("ep")
        few, enough = project.monitoring.windows("ep")
        alerts = project.monitoring.alerts("ep")
    assert (few.metrics["labelled"], few.metrics["accuracy"], few.metrics["too_few_labels"]) == (
        29,
        0.0,
        1,
    )
    assert (enough.metrics["labelled"], enough.metrics["too_few_labels"]) == (30, 0)
    assert [(a.rule, a.window_id, a.value) for a in done.fired] == [(RULE, enough.id, 0.0)]
    assert [a.window_id for a in alerts] == [enough.id]
