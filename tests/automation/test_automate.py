"""Setting an endpoint's automation on a real store: a target error becomes the threshold
the curve gives, recorded as an event with who and why; the command line shows and sets
it, and its mistakes are one line and exit 1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import prodml
from prodml.automation.threshold import threshold_for
from prodml.cli import app
from prodml.errors import ConfigError


def test_a_target_error_becomes_the_curve_s_threshold_with_an_event(
    loans: prodml.Project,
) -> None:
    expected = threshold_for(loans.automation_curve("loans"), 0.05)

    deployment = loans.automate(
        "loans", "partial", target_error=0.05, audit_sample=0.01, reason="pilot", actor="ana"
    )

    assert deployment.automation is not None
    assert deployment.automation["defer_below"] == expected.threshold
    assert deployment.automation["chosen"]["upper"] == pytest.approx(expected.upper)
    assert deployment.automation["audit_sample"] == 0.01
    last = loans.registry.events("loans")[-1]
    assert (last.action, last.actor, last.reason) == ("automation", "ana", "pilot")
    assert loans.registry.deployment("loans").automation == deployment.automation


def test_mistakes_are_refused_before_anything_changes(loans: prodml.Project) -> None:
    with pytest.raises(ConfigError, match="not both"):
        loans.automate("loans", "partial", defer_below=0.7, target_error=0.02)
    with pytest.raises(ConfigError, match=r"cannot be reached .* the lowest reachable is"):
        loans.automate("loans", "partial", target_error=0.0001)
    assert loans.registry.deployment("loans").automation is None


def test_the_command_shows_the_curve_and_sets_the_level(loans: prodml.Project) -> None:
    runner, folder = CliRunner(), str(loans.path)

    shown = runner.invoke(app, ["automation", "loans", "--curve", "--json", "--project", folder])
    setting = runner.invoke(
        app, ["automation", "loans", "partial", "--defer-below", "0.8", "--project", folder]
    )
    wrong = runner.invoke(app, ["automation", "loans", "most", "--project", folder])

    assert shown.exit_code == 0, shown.output
    printed = json.loads(shown.output)
    assert printed["automation"] == {"level": "full"}
    assert len(printed["curve"]) == len(loans.automation_curve("loans"))
    assert setting.exit_code == 0 and "the model decides at confidence 0.800 or above" in " ".join(
        setting.output.split()
    )
    assert wrong.exit_code == 1
    assert "automation level 'most' does not exist; give one of human, assist" in wrong.output
