"""Evaluations: the report on a finished run, its audit verdict and who signed it off.

An evaluation is recorded once, whole; the only later change is a sign-off, given once.

>>> SignOff.parse("Ana Ruiz: checked the slices").by
'Ana Ruiz'
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from prodml.errors import DataError, IntegrityError, NotFoundError
from prodml.store.database import Database
from prodml.store.runs import as_utc, jsonable, utc_now
from prodml.store.tables import EvaluationRow, RunRow

#: The longest name a sign-off may carry (the width of its column).
MAX_SIGNER = 200


@dataclass(frozen=True)
class SignOff:
    """Who accepted an evaluation, what they noted, and when."""

    by: str
    note: str
    at: datetime

    @classmethod
    def parse(cls, text: str, now: datetime | None = None) -> SignOff:
        """Read ``"name: note"``: who signs and what they checked, both required.

        The one check of a sign-off, for the library and the CLI alike.

        >>> SignOff.parse("ana: slices checked").note
        'slices checked'
        """
        name, _, note = text.partition(":")
        name, note = name.strip(), note.strip()
        problem = None
        if not name:
            problem = "names nobody"
        elif len(name) > MAX_SIGNER:
            problem = f"names someone longer than {MAX_SIGNER}"
        elif not note:
            problem = "has no note"
        if problem is not None:
            raise DataError(
                f"sign-off {text!r} {problem}; give who signs and what they checked, as "
                '"name: note", e.g. "Ana Ruiz: checked the slices"'
            )
        return cls(by=name, note=note, at=now or utc_now())


@dataclass(frozen=True)
class Evaluation:
    """What the store knows of one evaluation."""

    id: str
    run_id: str
    project: str
    created_at: datetime
    data: dict[str, Any]
    result: dict[str, Any]
    passed: bool
    sign_off: SignOff | None


class Evaluations:
    """The evaluations of a store's finished runs."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(
        self,
        run_id: str,
        project: str,
        *,
        data: dict[str, Any],
        result: dict[str, Any],
        passed: bool,
        sign_off: SignOff | None = None,
    ) -> Evaluation:
        """Store the evaluation of a finished run."""
        with self.database.session() as session:
            # Locking the run serializes evaluations of it, so created_at can be kept
            # strictly increasing: "newest" is then also the last one recorded.
            run = session.get(RunRow, run_id, with_for_update=True)
            if run is None:
                raise NotFoundError(
                    f"run '{run_id}' is not in the store; `prodml runs list` shows the runs"
                )
            if run.status != "finished":
                raise NotFoundError(
                    f"run {run_id} is {run.status}; only finished runs can be evaluated"
                )
            last = session.scalar(
                select(func.max(EvaluationRow.created_at)).where(EvaluationRow.run_id == run_id)
            )
            now = utc_now()
            row = EvaluationRow(
                id=uuid.uuid4().hex[:12],
                run_id=run_id,
                project=project,
                created_at=now if last is None else max(now, (as_utc(last) or last) + _TICK),
                data=jsonable(data),
                result=jsonable(result),
                passed=passed,
            )
            _sign(row, sign_off)
            session.add(row)
            return _evaluation(row)

    def sign(self, evaluation_id: str, sign_off: SignOff) -> Evaluation:
        """Sign off an evaluation recorded without one."""
        with self.database.session() as session:
            row = session.get(EvaluationRow, evaluation_id)
            if row is None:
                raise NotFoundError(f"evaluation '{evaluation_id}' is not in the store")
            earlier = _evaluation(row).sign_off
            if earlier is not None:
                raise IntegrityError(
                    f"evaluation {evaluation_id} was already signed off by {earlier.by} "
                    f"at {earlier.at:%Y-%m-%d %H:%M:%S} UTC; a sign-off cannot be replaced, "
                    "record a new evaluation instead"
                )
            _sign(row, sign_off)
            return _evaluation(row)

    def latest(self, run_id: str) -> Evaluation | None:
        """The run's newest evaluation, or None if it has none."""
        newest = self.list(run_id, limit=1)
        return newest[0] if newest else None

    def list(self, run_id: str, *, limit: int | None = None) -> builtins.list[Evaluation]:
        """The run's evaluations, newest first."""
        query = (
            select(EvaluationRow)
            .where(EvaluationRow.run_id == run_id)
            .order_by(EvaluationRow.created_at.desc())
            .limit(limit)
        )
        with self.database.session() as session:
            return [_evaluation(row) for row in session.scalars(query).all()]


#: The smallest step both SQLite and PostgreSQL keep apart.
_TICK = timedelta(microseconds=1)


def _sign(row: EvaluationRow, sign_off: SignOff | None) -> None:
    if sign_off is not None:
        # In UTC: SQLite keeps the wall-clock time and drops the offset.
        at = sign_off.at.astimezone(UTC)
        row.signed_by, row.sign_note, row.signed_at = sign_off.by, sign_off.note, at


def _evaluation(row: EvaluationRow) -> Evaluation:
    sign_off = None
    if row.signed_by is not None and row.signed_at is not None:
        at = as_utc(row.signed_at) or row.signed_at
        sign_off = SignOff(by=row.signed_by, note=row.sign_note or "", at=at)
    return Evaluation(
        id=row.id,
        run_id=row.run_id,
        project=row.project,
        created_at=as_utc(row.created_at) or row.created_at,
        data=row.data,
        result=row.result,
        passed=row.passed,
        sign_off=sign_off,
    )
