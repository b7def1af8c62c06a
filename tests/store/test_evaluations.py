"""`Evaluations`: a finished run's report and verdict, the newest first, signed off once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.orm import Session

from prodml.errors import DataError, IntegrityError, NotFoundError
from prodml.store import evaluations as evaluations_module
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.evaluations import Evaluation, Evaluations, SignOff
from prodml.store.runs import Runs
from prodml.store.tables import RunRow

DATA = {"source": "data/loans.parquet", "fingerprint": "f" * 64, "rows": 1_000}
MOMENT = datetime(2024, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def evaluations(database: Database) -> Evaluations:
    return Evaluations(database)


@pytest.fixture
def run_id(runs: Runs, project: str) -> str:
    """A finished run, ready to be evaluated."""
    run_id = runs.start(project, "fit")
    runs.finish(run_id)
    return run_id


def record(evaluations: Evaluations, run_id: str, project: str, **kwargs: Any) -> Evaluation:
    """Record a passing evaluation whose result says which one it is."""
    kwargs.setdefault("result", {"n": len(evaluations.list(run_id))})
    kwargs.setdefault("passed", True)
    return evaluations.record(run_id, project, data=DATA, **kwargs)


def ids(evaluations: list[Evaluation]) -> list[str]:
    return [evaluation.id for evaluation in evaluations]


# --- recording -------------------------------------------------------------------------


def test_record_and_latest_round_trip_a_nested_report(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    result = {
        "metrics": {"auc": np.float64(0.9123456789012345), "log_loss": float("nan")},
        "slices": [
            {"region": "north", "rows": np.int64(400), "auc": np.float32(0.5)},
            {"region": "south", "rows": 600, "auc": float("-inf")},
        ],
        "thresholds": (0.25, 0.5),
        "checks": {"calibration": {"passed": False, "reason": None}},
    }
    before = datetime.now(UTC)

    recorded = evaluations.record(run_id, project, data=DATA, result=result, passed=False)

    assert evaluations.latest(run_id) == recorded
    assert (recorded.run_id, recorded.project, recorded.passed) == (run_id, project, False)
    assert re.fullmatch(r"[0-9a-f]{12}", recorded.id)
    assert recorded.data == DATA
    assert recorded.result == {
        "metrics": {"auc": 0.9123456789012345, "log_loss": None},
        "slices": [
            {"region": "north", "rows": 400, "auc": 0.5},
            {"region": "south", "rows": 600, "auc": None},
        ],
        "thresholds": [0.25, 0.5],
        "checks": {"calibration": {"passed": False, "reason": None}},
    }
    assert recorded.sign_off is None
    assert recorded.created_at.tzinfo is not None
    assert before - timedelta(seconds=1) <= recorded.created_at <= datetime.now(UTC)


def test_a_report_of_a_few_hundred_kilobytes_round_trips(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    rows = [{"id": i, "score": i / 7, "label": f"row {i}"} for i in range(8_000)]

    record(evaluations, run_id, project, result={"rows": rows})

    latest = evaluations.latest(run_id)
    assert latest is not None
    assert latest.result == {"rows": rows}
    assert len(repr(rows)) > 300_000


def test_latest_is_the_newest_of_several(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    recorded = [record(evaluations, run_id, project) for _ in range(4)]

    latest = evaluations.latest(run_id)

    assert latest == recorded[-1]
    assert latest.result == {"n": 3}


def test_list_gives_the_evaluations_of_one_run_newest_first(
    evaluations: Evaluations, runs: Runs, run_id: str, project: str
) -> None:
    other = runs.start(project, "fit")
    runs.finish(other)
    recorded = []
    for _ in range(3):
        recorded.append(record(evaluations, run_id, project))
        record(evaluations, other, project)

    listed = evaluations.list(run_id)

    assert ids(listed) == ids(recorded[::-1])
    assert [e.result for e in listed] == [{"n": 2}, {"n": 1}, {"n": 0}]
    assert listed[0].created_at > listed[1].created_at > listed[2].created_at


def test_evaluations_recorded_in_one_instant_keep_the_order_they_were_recorded(
    evaluations: Evaluations, run_id: str, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evaluations_module, "utc_now", lambda: MOMENT)

    recorded = [record(evaluations, run_id, project) for _ in range(5)]

    assert ids(evaluations.list(run_id)) == ids(recorded[::-1])
    assert evaluations.latest(run_id) == recorded[-1]
    assert recorded[0].created_at == MOMENT


def test_a_run_without_evaluations_has_no_latest(evaluations: Evaluations, run_id: str) -> None:
    assert evaluations.latest(run_id) is None
    assert evaluations.list(run_id) == []


# --- refusals --------------------------------------------------------------------------


def test_evaluating_an_unknown_run_is_refused_naming_it(
    evaluations: Evaluations, project: str
) -> None:
    with pytest.raises(
        NotFoundError, match=r"^run 'nosuchrun' is not in the store; `prodml runs list` shows"
    ):
        record(evaluations, "nosuchrun", project)


@pytest.mark.parametrize("status", ["running", "failed"])
def test_evaluating_a_run_that_did_not_finish_is_refused(
    evaluations: Evaluations, runs: Runs, project: str, status: str
) -> None:
    unfinished = runs.start(project, "fit")
    if status == "failed":
        runs.fail(unfinished, "boom")

    with pytest.raises(
        NotFoundError,
        match=rf"^run {unfinished} is {status}; only finished runs can be evaluated$",
    ):
        record(evaluations, unfinished, project)
    assert evaluations.list(unfinished) == []


# --- sign-off --------------------------------------------------------------------------


def test_an_evaluation_recorded_with_a_sign_off_keeps_it(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    sign_off = SignOff(by="Ana Ruiz", note="checked the slices", at=MOMENT)

    recorded = record(evaluations, run_id, project, sign_off=sign_off)

    assert recorded.sign_off == sign_off
    assert evaluations.latest(run_id) == recorded


def test_an_evaluation_can_be_signed_off_later(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    recorded = record(evaluations, run_id, project)
    sign_off = SignOff(by="Ana Ruiz", note="", at=MOMENT)

    signed = evaluations.sign(recorded.id, sign_off)

    assert signed.sign_off == sign_off
    assert signed == evaluations.latest(run_id)
    assert (signed.id, signed.result, signed.created_at) == (
        recorded.id,
        recorded.result,
        recorded.created_at,
    )


def test_a_sign_off_in_another_time_zone_is_read_back_in_utc(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    madrid = MOMENT.astimezone(timezone(timedelta(hours=2)))

    recorded = record(evaluations, run_id, project, sign_off=SignOff("ana", "ok", madrid))

    latest = evaluations.latest(run_id)
    assert latest is not None and latest.sign_off is not None
    assert latest.sign_off.at == MOMENT
    assert latest.sign_off.at.utcoffset() == timedelta(0)
    assert recorded == latest


def test_a_second_sign_off_is_refused_saying_who_signed_when(
    evaluations: Evaluations, run_id: str, project: str
) -> None:
    recorded = record(evaluations, run_id, project)
    first = SignOff(by="Ana Ruiz", note="checked the slices", at=MOMENT)
    evaluations.sign(recorded.id, first)

    with pytest.raises(
        IntegrityError,
        match=rf"^evaluation {recorded.id} was already signed off by Ana Ruiz at "
        r"2024-05-17 09:30:15 UTC; a sign-off cannot be replaced",
    ):
        evaluations.sign(recorded.id, SignOff(by="Bo", note="me instead", at=datetime.now(UTC)))
    latest = evaluations.latest(run_id)
    assert latest is not None and latest.sign_off == first


def test_signing_an_unknown_evaluation_is_refused_naming_it(evaluations: Evaluations) -> None:
    with pytest.raises(NotFoundError, match=r"^evaluation 'nosuchone' is not in the store$"):
        evaluations.sign("nosuchone", SignOff.parse("ana: ok"))


@pytest.mark.parametrize(
    ("text", "by", "note"),
    [
        ("Ana Ruiz: checked the slices", "Ana Ruiz", "checked the slices"),
        ("  Ana Ruiz  :   checked  ", "Ana Ruiz", "checked"),
        ("ana: ratio 3:1 is fine", "ana", "ratio 3:1 is fine"),
    ],
)
def test_sign_off_parse_reads_name_and_note(text: str, by: str, note: str) -> None:
    assert SignOff.parse(text, now=MOMENT) == SignOff(by=by, note=note, at=MOMENT)


def test_sign_off_parse_stamps_the_current_time_in_utc() -> None:
    before = datetime.now(UTC)

    at = SignOff.parse("ana: ok").at

    assert at.utcoffset() == timedelta(0)
    assert before <= at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "names nobody"),
        ("   ", "names nobody"),
        (": looks fine", "names nobody"),
        (" :", "names nobody"),
        ("ana", "has no note"),
        ("ana:", "has no note"),
        ("  ana  :\t", "has no note"),
    ],
)
def test_sign_off_without_a_name_or_a_note_is_refused_showing_the_form(
    text: str, problem: str
) -> None:
    with pytest.raises(DataError) as caught:
        SignOff.parse(text)
    assert str(caught.value) == (
        f"sign-off {text!r} {problem}; give who signs and what they checked, as "
        '"name: note", e.g. "Ana Ruiz: checked the slices"'
    )


def test_sign_off_with_a_name_too_long_for_the_store_is_refused() -> None:
    with pytest.raises(DataError, match=r"names someone longer than 200; give who signs"):
        SignOff.parse("a" * 201 + ": note")
    assert SignOff.parse("a" * 200 + ": note").by == "a" * 200


# --- migrations ------------------------------------------------------------------------


def test_a_new_database_gets_the_evaluations_table(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    try:
        columns = {c["name"]: c for c in inspect(database.engine).get_columns("evaluations")}
        indexes = {i["name"] for i in inspect(database.engine).get_indexes("evaluations")}
    finally:
        database.dispose()

    assert list(columns) == [
        "id",
        "run_id",
        "project",
        "created_at",
        "data",
        "result",
        "passed",
        "signed_by",
        "sign_note",
        "signed_at",
    ]
    nullable = {name for name, column in columns.items() if column["nullable"]}
    assert nullable == {"signed_by", "sign_note", "signed_at"}
    assert {"ix_evaluations_run_id", "ix_evaluations_project"} <= indexes


def test_a_database_at_revision_0001_is_upgraded_keeping_its_runs(
    empty_database_url: str, artifacts_root: Path, project: str
) -> None:
    engine = create_engine(empty_database_url)
    with engine.connect() as conn:
        config = Config()
        config.set_main_option(
            "script_location", str(resources.files("prodml.store") / "migrations")
        )
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.commit()
    with Session(engine) as session, session.begin():
        session.add(
            RunRow(
                id="oldrun",
                project=project,
                kind="fit",
                status="finished",
                started_at=MOMENT,
                ended_at=MOMENT,
                host="old-host",
                pid=1,
                metrics={"auc": 0.8},
            )
        )
    assert "evaluations" not in inspect(engine).get_table_names()
    engine.dispose()

    database = Database(empty_database_url)
    try:
        assert database.revision() == ScriptDirectory.from_config(config).get_current_head()
        old = Runs(database, ArtifactStore(str(artifacts_root))).get("oldrun")
        evaluation = record(Evaluations(database), "oldrun", project)
    finally:
        database.dispose()

    assert (old.status, old.metrics, old.started_at) == ("finished", {"auc": 0.8}, MOMENT)
    assert evaluation.run_id == "oldrun"
