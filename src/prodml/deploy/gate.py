"""The audit gate: a version serves as primary or candidate only when the latest evaluation
of its run passed the project's audit, unless someone forces it and says why.

>>> from prodml.store.evaluations import Evaluation
>>> from datetime import datetime, UTC
>>> failed = Evaluation("e1", "r1", "p", datetime.now(UTC), {}, {"audit": {"passed": False,
...     "rules": [{"rule": "recall >= 0.9", "passed": False, "reason": "recall is 0.8"}]}},
...     False, None)
>>> print(refusal("loans:2", "r1", failed))
loans:2 failed its audit in evaluation e1 (recall >= 0.9: recall is 0.8)
"""

from __future__ import annotations

from typing import Any

from prodml.errors import ConfigError, GateError
from prodml.registry import ModelVersion
from prodml.store.evaluations import Evaluation, Evaluations


def refusal(ref: str, run_id: str, evaluation: Evaluation | None) -> str | None:
    """Why the gate stops ``ref`` (a version of run ``run_id``), or None when it passes."""
    if evaluation is None:
        return f"{ref} was never evaluated (run {run_id})"
    if evaluation.passed:
        return None
    rules = (evaluation.result.get("audit") or {}).get("rules") or []
    failed = "; ".join(f"{r['rule']}: {r['reason']}" for r in rules if not r.get("passed"))
    return f"{ref} failed its audit in evaluation {evaluation.id}" + (
        f" ({failed})" if failed else ""
    )


def check(
    evaluations: Evaluations,
    version: ModelVersion,
    action: str,
    *,
    force: bool = False,
    reason: str | None = None,
) -> dict[str, Any]:
    """Let ``version`` through the gate for ``action`` (deploy, promote...) or raise
    :class:`GateError` saying which rule failed and how to go on; what the gate saw, for
    the change's event."""
    evaluation = evaluations.latest(version.run_id)
    why = refusal(version.ref, version.run_id, evaluation)
    seen: dict[str, Any] = {
        "evaluation": None if evaluation is None else evaluation.id,
        "audit": "passed"
        if why is None
        else ("never evaluated" if evaluation is None else "failed"),
    }
    if why is None:
        return seen
    if force:
        if not (reason or "").strip():
            raise ConfigError(
                f"--force lets {version.ref} past the audit gate only with a reason; add "
                '--reason "why it may serve anyway" (it is recorded with the change)'
            )
        return {**seen, "forced": why}
    fix = (
        f"evaluate it (`prodml evaluate {version.run_id[:8]}`)"
        if evaluation is None
        else "fix the model and register a new version"
    )
    raise GateError(f'cannot {action} {why}; {fix}, or override with --force --reason "..."')
