"""The report pages rendered from templates (``report_*.html``): every string from the data
appears escaped, as text a parser reads back, never as markup."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from prodml.deploy.html import render as render_comparison
from prodml.evaluate.html import render_html as render_evaluation
from prodml.monitor.html import render as render_monitoring

HOSTILE = "<script>alert(1)</script>"


class Texts(HTMLParser):
    """The tags of a page and its texts, character references decoded."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.texts: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def assert_escaped(markup: str, places: int) -> None:
    """``HOSTILE`` is in ``markup`` only escaped, and reads back as text exactly ``places`` times."""
    page = Texts(markup)
    assert "script" not in page.tags and "<script" not in markup.lower()
    assert markup.count("&lt;script&gt;alert(1)&lt;/script&gt;") == places
    assert sum(text.count(HOSTILE) for text in page.texts) == places


def arm(version: int, role: str) -> dict[str, Any]:
    return {
        "version": version,
        "role": role,
        "answers": 4,
        "predicted": {HOSTILE: 3, "benign": 1},
        "latency_ms": {"p50": 1.0, "p95": 2.5},
        "errors": 0,
        "error_rate": 0.0,
        "labelled": 2,
        "accuracy": 0.5,
        "interval": [0.09, 0.91],
    }


def test_the_comparison_page_escapes_names_labels_outputs_and_slices() -> None:
    canary: dict[str, Any] = {
        "endpoint": HOSTILE,
        "kind": "canary",
        "since": "2026-11-22T10:00:00+00:00",
        "until": None,
        "primary": arm(1, "primary"),
        "candidate": arm(2, "canary"),
        "deltas": {"accuracy": 0.0},
        "drift": {HOSTILE: {"method": "chi2", "score": 1.5, "p_value": 0.2, "drifted": False}},
        "slices": [
            {
                "name": HOSTILE,
                "rows": {"primary": 4, "candidate": 4},
                "labelled": {"primary": 2, "candidate": 2},
                "accuracy": {"primary": 0.5, "candidate": 0.5},
                "sufficient": False,
            }
        ],
        "unsliced": [HOSTILE],
        "min_count": 30,
    }
    # the title, the heading (twice), the answers by class, the drift, the slice, the reason
    assert_escaped(render_comparison(canary), 7)
    shadow = {**canary, "kind": "shadow", "pairs": 4, "agreement": 0.75, "interval": None}
    shadow["confusion"] = {HOSTILE: {HOSTILE: 2, "benign": 1}, "benign": {"benign": 1}}
    shadow["slices"] = [
        {**canary["slices"][0], "agreement": 0.5, "interval": [0.1, 0.9], "sufficient": True}
    ]
    # the confusion's labels once as a column and once as a row
    assert_escaped(render_comparison(shadow), 8)


def test_the_evaluation_page_escapes_names_labels_slices_and_notes() -> None:
    evaluation = {
        "project": HOSTILE,
        "run": "ab12",
        "task": "classification",
        "labels": ["x", HOSTILE],
        "confusion": [[3, 1], [0, 4]],
        "metrics": {"accuracy": 0.875, HOSTILE: 0.5},
        "warnings": [HOSTILE],
        "baselines": [{"name": HOSTILE, "kind": HOSTILE, "metrics": {"accuracy": 0.5}}],
        "slices": [{"name": HOSTILE, "count": 8, "value": 0.875, "reference": 0.9,
                    "reference_name": HOSTILE, "interval": [0.5, 0.98], "sufficient": True}],
        "golden": {"file": HOSTILE, "count": 1,
                   "failures": [{"id": HOSTILE, "expected": "x", "predicted": HOSTILE}]},
        "audit": {"passed": False, "rules": [{"rule": HOSTILE, "value": 0.5, "passed": False,
                                               "reason": HOSTILE}]},
        "sign_off": {"by": HOSTILE, "note": HOSTILE, "at": "2026-11-22T10:05:00+00:00"},
    }  # fmt: skip
    # the title and heading; the warning; the headline card; the confusion's tooltips (four
    # times in three cells: its drawn labels are clipped) and the per-class row; the
    # baseline's name and kind; the slice's name and reference, and in the chart its name
    # and tooltip; the golden file, id and answer; the rule and its reason; who signed off
    # and the note
    assert_escaped(render_evaluation(evaluation), 22)


def test_the_monitoring_page_escapes_the_endpoint_rules_columns_and_categories() -> None:
    window = {
        "id": 1,
        "model": HOSTILE,
        "rows": 10,
        "starts_at": "2026-11-22T01:00:00+00:00",
        "ends_at": "2026-11-22T01:59:59+00:00",
        "metrics": {"error_rate": 0.1},
    }
    drift = {
        "window_id": 1,
        "kind": "drift",
        "column": HOSTILE,
        "method": "psi",
        "score": 0.3,
        "p_value": None,
        "threshold": 0.2,
        "threshold_on": "score",
        "drifted": True,
    }
    alert = {
        "rule": HOSTILE,
        "metric": "error_rate",
        "value": 0.1,
        "window_id": 1,
        "fired_at": "2026-11-22T01:59:59+00:00",
        "resolved_at": None,
        "deliveries": {
            "webhooks": [
                {
                    "url": "https://hooks.example.com/T0",
                    "ok": False,
                    "attempts": 1,
                    "status": 500,
                    "error": HOSTILE,
                }
            ]
        },
    }
    monitoring = {
        "endpoint": HOSTILE,
        "generated_at": "2026-11-22T10:00:00+00:00",
        "windows": [window],
        "scores": [drift, {**drift, "kind": "skew"}],
        "alerts": [alert],
        "change_points": [{"detector": HOSTILE, "started_id": 1, "detected_id": 2,
                           "started_at": "2026-11-22T01:10:00+00:00",
                           "detected_at": "2026-11-22T01:20:00+00:00"}],
        "distributions": {HOSTILE: {"kind": "categorical", "categories": [HOSTILE, "b"],
                                    "reference": [0.5, 0.5], "current": [0.9, 0.1]}},
    }  # fmt: skip
    # the title and heading; the model; the rule and the webhook's error; the detector; the
    # drift chart's caption, title, tooltip; the heat map's row; the skew's row; the
    # distribution's caption and title, and its bins' tooltips: the first names it twice (the
    # bins' labels are clipped)
    assert_escaped(render_monitoring(monitoring), 16)
