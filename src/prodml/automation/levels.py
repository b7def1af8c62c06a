"""Degrees of automation: who decides one prediction, the model or a person.

The course's ladder, from none to full: ``human`` (the model predicts and logs, a person
decides and sees no suggestion: shadow mode for a person), ``assist`` (a person decides,
with the model's suggestion and confidence), ``partial`` (the model decides when its
confidence reaches the threshold, a person otherwise), ``full`` (the model decides).
An endpoint's :class:`Automation` is its level with the threshold resolved (a number
given, or the one chosen for a target error, with how it was chosen).

A share ``audit_sample`` of the model's own decisions also goes to the review queue, so
that the accuracy of what it decides alone is measured without bias. Which ones is a
hash of the request id, so the choice can be replayed; the hash is keyed apart from the
canary's routing hash, so the audited requests are not the canary's.

>>> partial = Automation("partial", defer_below=0.7)
>>> partial.decider(0.9), partial.decider(0.55), Automation("assist").decider(0.99)
('model', 'person', 'person')
>>> sampled("0193f2c1-aaaa", 0.0), sampled("0193f2c1-aaaa", 1.0)
(False, True)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast, get_args

from prodml.config import AutomationSettings, Level
from prodml.errors import ConfigError, listing

Decider = Literal["model", "person", "fallback"]
LEVELS: tuple[Level, ...] = get_args(Level)


@dataclass(frozen=True)
class Automation:
    """An endpoint's level, and for ``partial`` the confidence below which a person
    decides; ``chosen`` says how a threshold for a target error was found (the target,
    the coverage and error bound on the dev split, how many rows)."""

    level: Level = "full"
    defer_below: float | None = None
    audit_sample: float = 0.0
    chosen: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ConfigError(
                f"automation level {self.level!r} does not exist; give one of {listing(LEVELS)}"
            )
        if self.defer_below is not None and not 0 < self.defer_below < 1:
            raise ConfigError(
                f"defer_below {self.defer_below!r} is outside (0, 1); give a confidence, e.g. 0.7"
            )
        if self.level == "partial" and self.defer_below is None:
            raise ConfigError(
                "level partial needs a threshold: --defer-below 0.7, or --target-error 0.02"
            )
        if not 0 <= self.audit_sample < 1:
            raise ConfigError(
                f"audit_sample {self.audit_sample!r} is outside [0, 1); give a share, e.g. 0.01"
            )

    def decider(self, confidence: float | None) -> Decider:
        """Who decides a prediction of this ``confidence`` (None: a regressor's)."""
        if self.level == "full":
            return "model"
        if self.level == "partial" and confidence is not None:
            assert self.defer_below is not None  # checked at construction
            return "model" if confidence >= self.defer_below else "person"
        return "person"

    @property
    def model_decides_all(self) -> bool:
        """Whether the model decides every row and none is audited (``full``, no audit
        sample): then nothing about a row's answer changes who decides it."""
        return self.level == "full" and self.audit_sample == 0

    @property
    def suggests(self) -> bool:
        """Whether a deferred answer shows the model's suggestion (not at ``human``)."""
        return self.level != "human"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Automation:
        if not data:
            return cls()
        return cls(
            level=cast(Level, data.get("level", "full")),
            defer_below=data.get("defer_below"),
            audit_sample=float(data.get("audit_sample", 0.0)),
            chosen=dict(data.get("chosen") or {}),
        )


def from_settings(settings: AutomationSettings, chosen: dict[str, Any] | None = None) -> Automation:
    """The project file's ``serve.automation`` as an :class:`Automation`; a target error
    needs its threshold ``chosen`` first (:func:`prodml.automation.threshold.threshold_for`),
    given as ``{"defer_below": ..., ...}``."""
    threshold = settings.defer_below
    if settings.target_error is not None:
        if not chosen or "defer_below" not in chosen:
            raise ConfigError(
                f"target_error {settings.target_error:g} needs a threshold chosen on labelled "
                "predictions first; run prodml automation NAME partial --target-error "
                f"{settings.target_error:g}"
            )
        threshold = float(chosen["defer_below"])
    extra = {k: v for k, v in (chosen or {}).items() if k != "defer_below"}
    return Automation(settings.level, threshold, settings.audit_sample, extra)


def sampled(request_id: str, share: float) -> bool:
    """Whether ``request_id`` falls in the audit sample of ``share`` (the same answer in
    every replica, and independent of canary routing)."""
    if share <= 0:
        return False
    digest = hashlib.blake2b(request_id.encode(), digest_size=8, person=b"prodml-audit").digest()
    return int.from_bytes(digest, "big") / 2**64 < share
