"""Degrees of automation: who decides at each level, the audit sample's share and its
independence from canary routing, and every mistaken setting refused naming the value."""

from __future__ import annotations

from uuid import uuid4

import numpy as np
import pytest
from pydantic import ValidationError

from prodml.automation.levels import Automation, from_settings, sampled
from prodml.config import AutomationSettings
from prodml.errors import ConfigError
from prodml.serve.routing import point


@pytest.mark.parametrize(
    ("automation", "expected"),
    [
        (Automation("full"), ["model", "model", "model"]),
        (Automation("partial", defer_below=0.7), ["model", "model", "person"]),
        (Automation("assist"), ["person", "person", "person"]),
        (Automation("human"), ["person", "person", "person"]),
    ],
    ids=["full", "partial", "assist", "human"],
)
def test_who_decides_at_each_level(automation: Automation, expected: list[str]) -> None:
    assert [automation.decider(c) for c in (0.95, 0.7, 0.69)] == expected
    assert automation.suggests == (automation.level != "human")


def test_the_audit_sample_holds_its_share_and_is_not_the_canary_s_requests() -> None:
    ids = [str(uuid4()) for _ in range(40_000)]
    audited = np.array([sampled(i, 0.05) for i in ids])
    in_canary = np.array([point(i) < 10 for i in ids])  # a canary at 10%
    assert audited.mean() == pytest.approx(0.05, abs=0.005)
    assert in_canary[audited].mean() == pytest.approx(0.10, abs=0.02)  # independent
    assert [sampled(i, 0.05) for i in ids[:100]] == list(audited[:100])  # replayable


def test_mistaken_settings_name_the_value_and_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match="automation level 'most' does not exist; give one of"):
        Automation("most")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"defer_below 1\.5 is outside \(0, 1\)"):
        Automation("partial", defer_below=1.5)
    with pytest.raises(ConfigError, match="level partial needs a threshold"):
        Automation("partial")
    with pytest.raises(ConfigError, match=r"audit_sample 1\.0 is outside \[0, 1\)"):
        Automation("full", audit_sample=1.0)
    with pytest.raises(ValidationError, match=r"give defer_below .* or target_error .*not both"):
        AutomationSettings(level="partial", defer_below=0.7, target_error=0.02)
    with pytest.raises(ValidationError, match="level partial needs defer_below"):
        AutomationSettings(level="partial")


def test_the_project_file_s_setting_becomes_an_automation() -> None:
    given = from_settings(AutomationSettings(level="partial", defer_below=0.8, audit_sample=0.01))
    assert given == Automation("partial", 0.8, 0.01)
    target = AutomationSettings(level="partial", target_error=0.02)
    with pytest.raises(ConfigError, match=r"target_error 0\.02 needs a threshold chosen"):
        from_settings(target)
    chosen = from_settings(target, {"defer_below": 0.91, "coverage": 0.4})
    assert (chosen.defer_below, chosen.chosen) == (0.91, {"coverage": 0.4})
    assert Automation.from_dict(chosen.to_dict()) == chosen
    assert Automation.from_dict(None) == Automation("full")
