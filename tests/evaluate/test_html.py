"""The HTML report: one self-contained, well-formed page, every string from the report escaped."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from prodml.evaluate.html import MAX_CHART_SLICES, render_html

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
INJECTED = "<script>alert(1)</script> & co"


class Page(HTMLParser):
    """A parsed page that fails on a misnested tag and keeps each text with its open elements.

    An open element is named by its tag, its classes and ``#id``:
    ``("td", {"insufficient", ...})`` lets a test ask for texts by where they stand.
    """

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.open: list[tuple[str, set[str]]] = []
        self.texts: list[tuple[list[tuple[str, set[str]]], str]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            named = dict(attrs)
            names = set((named.get("class") or "").split()) | {f"#{named.get('id')}"}
            self.open.append((tag, names))

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1][0] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append((list(self.open), data.strip()))

    def text_of(self, tag: str, name: str = "", within: str = "") -> list[str]:
        """Texts right inside ``tag`` (named ``name``), under an element named ``within``."""
        return [
            text
            for opened, text in self.texts
            if opened[-1][0] == tag
            and (not name or name in opened[-1][1])
            and (not within or any(within in names for _, names in opened))
        ]


def classification(labels: list[str], focus: str = "accuracy") -> dict[str, Any]:
    """A report like ``prodml evaluate --json`` prints, its metrics computed from the confusion."""
    n = len(labels)
    confusion = [[1800, 200], [250, 2750]]
    if n > 2:  # a strong diagonal, a few mistakes scattered off it
        confusion = [
            [900 + 40 * i if i == j else (3 * i + 7 * j) % 11 for j in range(n)] for i in range(n)
        ]
    total = sum(map(sum, confusion))
    metrics: dict[str, float] = {"accuracy": sum(confusion[i][i] for i in range(n)) / total}
    for i, label in enumerate(labels):
        precision = confusion[i][i] / sum(row[i] for row in confusion)
        recall = confusion[i][i] / sum(confusion[i])
        metrics[f"precision[{label}]"], metrics[f"recall[{label}]"] = precision, recall
        metrics[f"f1[{label}]"] = 2 * precision * recall / (precision + recall)
        metrics[f"support[{label}]"] = sum(confusion[i])
    metrics["f1_macro"] = sum(metrics[f"f1[{label}]"] for label in labels) / n
    metrics["roc_auc"] = 0.951
    slices = [
        slice_("region=north", 1200, 0.88, 0.93, interval=[0.861, 0.897]),
        slice_("income<20k", 14, 0.571, 0.93, interval=[0.326, 0.786], sufficient=False),
        slice_("region=south", 900, 0.95, None, interval=[0.934, 0.962]),
    ]
    return {
        "run": "ab12cd34ef56",
        "project": "loans",
        "task": "classification",
        "created": "2026-11-22T10:00:00+00:00",
        "data": {"source": "test split of run ab12cd34ef56", "rows": total, "fingerprint": "9f1c"},
        "labels": labels,
        "positive_class": labels[-1] if n == 2 else None,
        "focus": focus,
        "warnings": ["accuracy is misleading here: 60% of rows are class 1"],
        "metrics": metrics,
        "confusion": confusion,
        "baselines": [
            {"name": "model", "kind": "model", "metrics": metrics},
            {
                "name": "majority",
                "kind": "majority",
                "metrics": {"accuracy": 0.6, "f1_macro": 0.375},
            },
            {"name": "rules:rules.py:approve", "kind": "rule", "metrics": {"accuracy": 0.8}},
            {"name": "HLP", "kind": "hlp", "metrics": {"accuracy": 0.93}, "rows": 800},
        ],
        "slices": slices,
        "golden": {
            "file": "golden.csv",
            "count": 12,
            "failures": [{"id": "17", "expected": labels[-1], "predicted": labels[0]}],
        },
        "audit": {
            "passed": True,
            "rules": [
                {
                    "rule": f"{focus} >= 0.80",
                    "value": metrics[focus],
                    "passed": True,
                    "reason": "above the minimum 0.80",
                }
            ],
        },
        "sign_off": {
            "by": "Ana Ruiz",
            "note": "checked the slices",
            "at": "2026-11-22T10:05:00+00:00",
        },
    }


def slice_(
    name: str,
    count: int,
    value: float,
    reference: float | None,
    interval: list[float] | None = None,
    sufficient: bool = True,
) -> dict[str, Any]:
    share = count / 5000
    gap = None if reference is None else reference - value
    return {
        "name": name,
        "family": name.partition("=")[0],
        "count": count,
        "share": share,
        "metrics": {"accuracy": value},
        "value": value,
        "interval": interval,
        "error_rate": 1 - value,
        "error_share": share * (1 - value) / 0.09,
        "reference": reference,
        "reference_name": None if reference is None else "HLP",
        "gap": gap,
        "gain": None if gap is None else share * gap,
        "sufficient": sufficient,
    }


def regression() -> dict[str, Any]:
    report = classification(["0", "1"], focus="accuracy")
    metrics = {"mae": 1234.5, "rmse": 2001.25, "r2": 0.81, "mape": 0.123}
    slices = [slice_("region=north", 1200, 1500.0, 1100.0), slice_("new", 9, 900.0, 1100.0)]
    for s in slices:  # an error: the gap is how far the slice's error is above the reference
        gap = max(s["value"] - s["reference"], 0.0)
        s.update(metrics={"mae": s["value"], "rmse": s["value"] * 1.4}, interval=None)
        s.update(gap=gap, gain=s["share"] * gap, error_rate=None)
    slices[1]["sufficient"] = False
    baselines = [{"name": "model", "kind": "model", "metrics": metrics}]
    baselines.append({"name": "mean", "kind": "majority", "metrics": {"mae": 3100.0, "r2": 0.0}})
    report.update(task="regression", labels=[], positive_class=None, focus="mae", warnings=[])
    report.update(metrics=metrics, confusion=None, slices=slices, baselines=baselines)
    report["audit"]["rules"][0].update(rule="mae <= 1500", value=1234.5)
    return report


REPORTS = {
    "binary": classification(["0", "1"], focus="recall[1]"),
    "digits": classification([str(d) for d in range(10)]),
    "regression": regression(),
}


@pytest.mark.parametrize("report", REPORTS.values(), ids=REPORTS.keys())
def test_page_is_well_formed_and_needs_nothing_outside_itself(report: dict[str, Any]) -> None:
    markup = render_html(report)
    page = Page(markup)
    assert markup.startswith("<!DOCTYPE html>") and page.open == []
    assert {"html", "head", "body", "style", "svg", "table"} <= page.tags
    for outside in ("http://", "https://", "src=", "<link", "<script", "url(", "@import"):
        assert outside not in markup.lower(), outside


def test_every_string_from_the_report_is_escaped() -> None:
    report = classification([INJECTED, 'yes "quoted"'])
    report["slices"][0]["name"] = INJECTED
    report["warnings"] = [INJECTED]
    report["golden"]["failures"][0]["id"] = INJECTED
    report["audit"]["rules"][0]["reason"] = INJECTED
    report["sign_off"]["note"] = INJECTED
    report["baselines"][1]["name"] = INJECTED
    markup = render_html(report)
    page = Page(markup)
    assert "script" not in page.tags and "<script" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in markup
    assert INJECTED in page.text_of("td", within="#slices")
    assert INJECTED in page.text_of("td", within="#golden")
    assert INJECTED in page.text_of("li", within="warnings")
    assert 'yes "quoted"' in page.text_of("text", "label", within="confusion")


@pytest.mark.parametrize("classes", [2, 10])
def test_confusion_matrix_has_one_cell_per_label_pair_carrying_its_count(classes: int) -> None:
    report = classification([str(c) for c in range(classes)])
    page = Page(render_html(report))
    counts = page.text_of("text", "count", within="confusion")
    assert counts == [f"{c:,}" for row in report["confusion"] for c in row]
    assert len(counts) == classes**2
    axis = page.text_of("text", "axis", within="confusion")
    assert axis == ["predicted", "true"]
    labels = page.text_of("text", "label", within="confusion")
    assert sorted(labels) == sorted(report["labels"] * 2)  # once as a column, once as a row


@pytest.mark.parametrize(("passed", "verdict"), [(True, "PASS"), (False, "FAIL")])
def test_verdict_badge_follows_the_audit(passed: bool, verdict: str) -> None:
    report = classification(["0", "1"])
    report["audit"]["passed"] = passed
    page = Page(render_html(report))
    assert page.text_of("div", "verdict") == [verdict]
    assert page.text_of("div", verdict.lower()) == [verdict]


def test_slice_with_insufficient_evidence_shows_its_count_and_interval_not_a_bare_value() -> None:
    page = Page(render_html(classification(["0", "1"])))
    row = page.text_of("td", within="insufficient")
    assert row[:2] == ["income<20k", "insufficient evidence (n = 14, 95% interval [0.326, 0.786])"]
    assert "0.571" not in row
    assert page.text_of("text", within="weak")[-1] == "insufficient"


def test_numbers_read_as_shares_counts_and_metrics() -> None:
    page = Page(render_html(classification(["0", "1"], focus="recall[1]")))
    assert "5,000" in page.text_of("dd")
    north = page.text_of("td", within="#slices")[:8]
    assert north == [
        "region=north",
        "0.880",
        "0.930",
        "0.050",
        "24.0%",
        "1.2%",
        "1,200",
        "[0.861, 0.897]",
    ]
    assert page.text_of("div", "value", within="focus") == ["0.917"]  # recall[1] = 2750 / 3000
    assert "2,000" in page.text_of("td", within="#classes")


def test_baselines_stand_side_by_side_with_the_focus_metric_first_and_highlighted() -> None:
    page = Page(render_html(classification(["0", "1"])))
    names = page.text_of("th", within="#baselines")
    assert names == ["metric", "model", "majority", "rules:rules.py:approve", "HLP"]
    kinds = page.text_of("span", within="#baselines")
    assert kinds == ["model", "majority", "rule", "hlp, 800 rows"]
    assert page.text_of("td", within="focus") == ["accuracy", "0.910", "0.600", "0.800", "0.930"]
    # the positive class's recall, precision and F1, as the terminal shows them
    cells = page.text_of("td", within="#baselines")
    rows = [cells[i : i + 5] for i in range(0, len(cells), 5)]
    assert [row[0] for row in rows[:4]] == ["accuracy", "recall[1]", "precision[1]", "f1[1]"]
    assert rows[1][1:] == ["0.917", "\N{EM DASH}", "\N{EM DASH}", "\N{EM DASH}"]  # 2750 / 3000
    assert "f1[0]" not in cells and "support[1]" not in cells


def test_regression_has_no_confusion_matrix_or_per_class_table_and_no_intervals() -> None:
    page = Page(render_html(REPORTS["regression"]))
    assert not page.text_of("text", within="confusion") and not page.text_of(
        "td", within="#classes"
    )
    assert page.text_of("div", "name", within="#metrics") == ["mae", "rmse", "r2", "mape"]
    assert page.text_of("div", "value", within="#metrics") == ["1,234", "2,001", "0.810", "12.3%"]
    assert "95% interval" not in page.text_of("th", within="#slices")
    north = page.text_of("td", within="#slices")[:7]
    assert north == ["region=north", "1,500", "1,100", "400.0", "24.0%", "96.00", "1,200"]
    assert "insufficient evidence (n = 9)" in page.text_of("td", within="#slices")


def test_chart_keeps_the_highest_priority_slices_and_the_table_keeps_all() -> None:
    report = classification(["0", "1"])
    report["slices"] = [slice_(f"bucket={i}", 100, 0.9, 0.93, [0.83, 0.94]) for i in range(45)]
    page = Page(render_html(report))
    assert len(page.text_of("title", within="slices")) == MAX_CHART_SLICES == 30
    assert page.text_of("title", within="slices")[-1].startswith("bucket=29:")
    assert len(page.text_of("td", within="#slices")) == 45 * 8


def test_page_renders_without_the_optional_sections() -> None:
    report = classification(["0", "1"])
    del report["golden"], report["sign_off"]
    report.update(slices=[], baselines=[], warnings=[], audit={"passed": True, "rules": []})
    page = Page(render_html(report))
    assert page.open == [] and not page.text_of("title", within="slices")
    assert page.text_of("p", "muted") == [
        "Rows are the true class, columns the prediction; shade is the share of the row.",
        "No baselines were computed.",
        "No slices were evaluated.",
        "No golden examples were checked.",
        "No audit rules are configured.",
        "Not signed off.",
    ]
    assert Page(render_html({})).text_of("div", "verdict") == ["not audited"]
