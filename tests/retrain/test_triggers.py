"""The retrain triggers' decision, pure: N windows in a row, the schedule, the label count,
the cooldown, the daily budget and the stop after K failed candidates, each against an
expectation worked out by hand from the times and counts given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prodml.config import RetrainTriggers, parse_settings
from prodml.errors import ConfigError
from prodml.retrain.triggers import History, Seen, decide

RULE = "drift_share > 0.3"
#: The last retrain, and the day the checks happen on.
SINCE = datetime(2026, 3, 1, tzinfo=UTC)
DAY = datetime(2026, 3, 10, tzinfo=UTC)


def at(hour: float, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=hour)


def windows(*ids: int, first_end: datetime = DAY) -> tuple[Seen, ...]:
    """Windows of the given ids, an hour apart, each with drift share 0.1 x its id."""
    return tuple(Seen(i, first_end + timedelta(hours=k), 0.1 * i) for k, i in enumerate(ids))


def test_an_alert_fires_a_retrain_once_it_fired_on_n_windows_in_a_row() -> None:
    settings = RetrainTriggers(alert=RULE, windows=3)
    now = at(12)
    # the alert (id 9) fired on window 5: of the newest three (4, 5, 6), it fired on two
    two = decide(settings, History(SINCE, windows(4, 5, 6), alert=(9, 5)), now)
    assert (two.due, two.fires) == ((), False)
    # one window later it has fired on 5, 6 and 7
    three = decide(settings, History(SINCE, windows(5, 6, 7), alert=(9, 5)), now)
    assert (three.due, three.fires, three.held) == (("alert",), True, None)
    assert three.evidence["windows"] == [5, 6, 7] and three.evidence["alert"] == 9
    assert three.evidence["values"] == pytest.approx([0.5, 0.6, 0.7])
    assert three.evidence["rule"] == RULE and three.evidence["by"] == ["alert"]
    # without an open alert the windows alone trigger nothing
    assert decide(settings, History(SINCE, windows(5, 6, 7), alert=None), now).due == ()


def test_windows_that_ended_before_the_last_retrain_do_not_count() -> None:
    settings = RetrainTriggers(alert=RULE, windows=2)
    seen = windows(5, 6, 7, first_end=at(0))  # they end at 00:00, 01:00 and 02:00
    # a retrain at 00:30: window 5 ended before it, 6 and 7 after: two in a row
    assert decide(settings, History(at(0.5), seen, alert=(9, 5)), at(3)).fires
    # a retrain at 01:30: only window 7 ended after it
    assert decide(settings, History(at(1.5), seen, alert=(9, 5)), at(3)).due == ()


def test_the_schedule_is_due_every_so_long_after_the_last_retrain() -> None:
    settings = RetrainTriggers(every="7d")
    # 7 days after 2026-03-01 00:00 is 2026-03-08 00:00
    one_second_early = datetime(2026, 3, 7, 23, 59, 59, tzinfo=UTC)
    assert decide(settings, History(SINCE), one_second_early).due == ()
    due = decide(settings, History(SINCE), datetime(2026, 3, 8, tzinfo=UTC))
    assert (due.due, due.fires, due.evidence["every"]) == (("schedule",), True, "7d")
    assert due.evidence["since"] == "2026-03-01T00:00:00+00:00"
    # never retrained: due at once
    assert decide(settings, History(None), SINCE).fires


def test_labels_are_due_at_the_count_since_the_last_retrain() -> None:
    settings = RetrainTriggers(labels=1000)
    assert decide(settings, History(SINCE, labels=999), at(0)).due == ()
    due = decide(settings, History(SINCE, labels=1000), at(0))
    assert (due.due, due.evidence["labels"], due.fires) == (("labels",), 1000, True)


def test_every_due_trigger_is_in_the_evidence() -> None:
    settings = RetrainTriggers(alert=RULE, labels=10, every="1d")
    history = History(SINCE, windows(3), alert=(1, 3), labels=12)
    decision = decide(settings, history, at(0))
    assert decision.due == ("alert", "labels", "schedule")
    evidence: dict[str, Any] = decision.evidence
    assert (evidence["windows"], evidence["labels"], evidence["every"]) == ([3], 12, "1d")


def test_the_cooldown_holds_a_due_retrain_until_it_has_passed() -> None:
    settings = RetrainTriggers(labels=1, cooldown="2h", daily_budget=10)
    history = History(SINCE, labels=5, triggered=(at(10),))
    held = decide(settings, history, at(11, DAY) + timedelta(minutes=59))
    assert held.due == ("labels",) and not held.fires
    assert held.held == (
        "cooldown: the last retrain was triggered at 2026-03-10 10:00 UTC; the next may be at 12:00"
    )
    assert decide(settings, history, at(12)).fires  # 10:00 + 2h
    # a cooldown that reaches into the next day names the day
    late = decide(settings, History(SINCE, labels=5, triggered=(at(23),)), at(23.5))
    assert late.held is not None and late.held.endswith("the next may be at 03-11 01:00")


def test_the_daily_budget_counts_the_retrains_triggered_in_this_utc_day() -> None:
    settings = RetrainTriggers(labels=1, cooldown="1h", daily_budget=2)
    two_today = History(SINCE, labels=5, triggered=(at(1), at(5)))
    held = decide(settings, two_today, at(9))
    assert held.held is not None and held.held.startswith("daily budget: 2 retrains triggered")
    # one of them was yesterday (23:30): one today, so a second may run
    yesterday = History(SINCE, labels=5, triggered=(at(-0.5), at(5)))
    assert decide(settings, yesterday, at(9)).fires
    # tomorrow the budget is whole again
    assert decide(settings, two_today, at(24)).fires


def test_triggers_stop_after_k_failed_candidates_in_a_row() -> None:
    settings = RetrainTriggers(labels=1, stop_after=3, cooldown="1s", daily_budget=100)

    def decision(*outcomes: bool) -> str | None:
        return decide(settings, History(SINCE, labels=5, outcomes=outcomes), at(0)).held

    assert decision(True, False, False) is None  # two failures in a row
    stopped = decision(True, False, False, False)
    assert stopped is not None
    assert stopped.startswith("stopped after 3 failed candidates in a row")
    assert "prodml retrain" in stopped
    # a candidate that passed (a person's retrain) in between resumes it
    assert decision(False, False, True, False, False) is None
    assert History(None, outcomes=(False, True, False, False, False, False)).failures == 4


def test_a_candidate_on_the_endpoint_holds_a_retrain() -> None:
    settings = RetrainTriggers(labels=1)
    held = decide(settings, History(SINCE, labels=3, candidate="loans:4 (shadow)"), at(0)).held
    assert held == "the endpoint has a candidate, loans:4 (shadow); promote or stop it first"


def test_nothing_due_is_never_held() -> None:
    settings = RetrainTriggers(labels=10, stop_after=1)
    decision = decide(settings, History(SINCE, labels=3, outcomes=(False,)), at(0))
    assert (decision.due, decision.held, decision.fires) == ((), None, False)


BASE: dict[str, Any] = {
    "project": "p",
    "model": "x.Y",
    "data": {"source": "d.csv", "target": "y"},
}


def monitor(**settings: Any) -> dict[str, Any]:
    return {**BASE, "monitor": settings}


def test_monitor_retrain_names_a_rule_of_monitor_alerts() -> None:
    alerts = [{"metric": "drift_share", "above": 0.3}]
    parsed = parse_settings(monitor(alerts=alerts, retrain={"alert": RULE, "windows": 2}))
    assert parsed.monitor.retrain == RetrainTriggers(alert=RULE, windows=2)
    with pytest.raises(
        ConfigError, match=r"retrain.alert 'drift_share > 0.5' is not an alert rule"
    ):
        parse_settings(monitor(alerts=alerts, retrain={"alert": "drift_share > 0.5"}))
    with pytest.raises(ConfigError, match=r"did you mean 'drift_share > 0.3'"):
        parse_settings(monitor(alerts=alerts, retrain={"alert": "drift_share > 0.5"}))
    with pytest.raises(ConfigError, match=r"add it there first"):
        parse_settings(monitor(retrain={"alert": RULE}))


def test_monitor_retrain_needs_a_trigger_and_durations() -> None:
    with pytest.raises(ConfigError, match=r"monitor.retrain: give at least one trigger"):
        parse_settings(monitor(retrain={"cooldown": "1h"}))
    with pytest.raises(ConfigError, match=r"monitor.retrain.every '7x': '7x' is not a duration"):
        parse_settings(monitor(retrain={"every": "7x"}))
    with pytest.raises(ConfigError, match=r"monitor.retrain.cooldown"):
        parse_settings(monitor(retrain={"labels": 10, "cooldown": "soon"}))
    with pytest.raises(ConfigError, match=r"unknown key 'budget' in monitor.retrain"):
        parse_settings(monitor(retrain={"labels": 10, "budget": 2}))
    assert parse_settings(BASE).monitor.retrain is None
