"""The monitoring page: one self-contained page, every number as in the report, every string
from it escaped, drift and firing alerts marked in words as well as in red."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from prodml.monitor.html import HEAT_WINDOWS, render

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
ODD = "<b>&co"  # a feature name that is markup if not escaped


class Node:
    """An element of the parsed page: its tag, attributes, children and texts in order."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed."""
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join(" ".join(parts).split())

    def all(self, tag: str, cls: str = "") -> list[Node]:
        """Every element below (depth first) with ``tag`` and the class ``cls``."""
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and (not cls or cls in child.classes):
                    found.append(child)
                found += child.all(tag, cls)
        return found

    def by_id(self, ident: str) -> Node:
        (found,) = [n for n in self.all_elements() if n.attrs.get("id") == ident]
        return found

    def all_elements(self) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                found += [child, *child.all_elements()]
        return found


class Page(HTMLParser):
    """The page as a tree of :class:`Node`; fails on a misnested or unclosed tag."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("", {})
        self.open = [self.root]
        self.feed(markup)
        self.close()
        assert self.open == [self.root], f"unclosed: {[n.tag for n in self.open[1:]]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        assert self.open[-1].tag == tag, f"</{tag}> closes <{self.open[-1].tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.open[-1].children.append(data)


def window(i: int, drift_share: float, **metrics: Any) -> dict[str, Any]:
    return {
        "id": i,
        "model": "loans:1",
        "starts_at": f"2026-11-22T0{i}:00:00+00:00",
        "ends_at": f"2026-11-22T0{i}:59:59+00:00",
        "rows": 500,
        "metrics": {
            "requests": 500,
            "error_rate": 0.002 * i,
            "latency_p50_seconds": 0.0123,
            "latency_p95_seconds": 0.0456,
            "latency_p99_seconds": 0.0789,
            "mean_confidence": 0.9,
            "drift_share": drift_share,
            **metrics,
        },
    }


def score(window_id: int, column: str, value: float, kind: str = "drift") -> dict[str, Any]:
    return {
        "window_id": window_id,
        "kind": kind,
        "column": column,
        "method": "wasserstein" if column == "income" else "jensen_shannon",
        "score": value,
        "p_value": None,
        "threshold": 0.1,
        "threshold_on": "score",
        "drifted": value > 0.1,
    }


def monitoring(endpoint: str = "loans") -> dict[str, Any]:
    """Three windows; income drifts in the newest; one alert firing, one resolved."""
    scores = [
        *(score(i, "income", s) for i, s in ((1, 0.021), (2, 0.045), (3, 0.312))),
        *(score(i, "region", s) for i, s in ((1, 0.011), (2, 0.013), (3, 0.017))),
        *(score(i, ODD, s) for i, s in ((1, 0.05), (2, 0.06), (3, 0.07))),
        *(score(i, "(predicted)", 0.02 * i, "prediction") for i in (1, 2, 3)),
        score(3, "income", 0.083, "skew"),
    ]
    return {
        "endpoint": endpoint,
        "generated_at": "2026-11-22T10:00:00+00:00",
        "windows": [window(1, 0.0), window(2, 0.0), window(3, 1 / 3, accuracy=0.875)],
        "scores": scores,
        "alerts": [
            {
                "id": 1,
                "endpoint": endpoint,
                "rule": "error_rate > 0.001",
                "metric": "error_rate",
                "value": 0.002,
                "window_id": 1,
                "fired_at": "2026-11-22T01:59:59+00:00",
                "resolved_at": "2026-11-22T02:59:59+00:00",
                "deliveries": {"webhooks": []},
            },
            {
                "id": 2,
                "endpoint": endpoint,
                "rule": "drift_share > 0.3",
                "metric": "drift_share",
                "value": 1 / 3,
                "window_id": 3,
                "fired_at": "2026-11-22T03:59:59+00:00",
                "resolved_at": None,
                "deliveries": {
                    "webhooks": [
                        {
                            "url": "https://hooks.example.com/services/T0/SECRET",
                            "ok": True,
                            "attempts": 1,
                            "status": 200,
                            "error": None,
                            "seconds": 0.1,
                        },
                        {
                            "url": "https://pager.example.org/v2/SECRET2",
                            "ok": False,
                            "attempts": 3,
                            "status": 503,
                            "error": "503 from https://pager.example.org/v2/SECRET2",
                            "seconds": 4.2,
                        },
                    ]
                },
            },
        ],
        "change_points": [
            {
                "endpoint": endpoint,
                "detector": "page_hinkley",
                "started_id": 1234,
                "detected_id": 1301,
                "started_at": "2026-11-22T03:10:00+00:00",
                "detected_at": "2026-11-22T03:20:00+00:00",
            }
        ],
        "distributions": {
            "income": {
                "kind": "numeric",
                "edges": [10_000.0 * k for k in range(13)],
                "reference": [
                    0.25,
                    0.25,
                    0.2,
                    0.1,
                    0.05,
                    0.05,
                    0.04,
                    0.03,
                    0.01,
                    0.01,
                    0.005,
                    0.005,
                ],
                "current": [0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05],
            },
            "region": {
                "kind": "categorical",
                "categories": ["north", "south", ODD],
                "reference": [0.5, 0.3, 0.2],
                "current": [0.45, 0.35, 0.2],
            },
        },
    }


def page(report: dict[str, Any] | None = None) -> Node:
    return Page(render(report or monitoring())).root


def heat_row(root: Node, column: str) -> list[Node]:
    """The cells of ``column``'s row in the heat map."""
    (heat,) = root.all("table", "heat")
    (row,) = [r for r in heat.all("tr") if r.all("td") and r.all("td")[0].text == column]
    return row.all("td")[1:]


def test_only_the_drifted_feature_is_marked_drifted_in_the_heat_map() -> None:
    root = page()
    income = heat_row(root, "income")
    assert [c.text for c in income] == ["0.021", "0.045", "0.312 drifted"]
    assert ["drifted" in c.classes for c in income] == [False, False, True]
    for column in ("region", ODD, "(predicted) (prediction)"):
        cells = heat_row(root, column)
        assert len(cells) == 3
        assert not any("drifted" in c.classes or "drifted" in c.text for c in cells), column


def test_the_drift_chart_marks_the_drifted_window_in_red_and_draws_the_threshold() -> None:
    (drift,) = [s for s in page().all("section") if s.attrs.get("id") == "drift"]
    charts = {f.all("figcaption")[0].text: f for f in drift.all("figure")}
    income = charts["income wasserstein drifted"]
    (red,) = income.all("circle", "drifted")
    assert red.text == "income, window #3 (ending 2026-11-22 03:59:59 UTC): 0.312 drifted"
    assert len(income.all("circle")) == 3
    assert income.all("path", "threshold")
    assert not charts["region jensen_shannon"].all("circle", "drifted")
    assert "(predicted) jensen_shannon" in charts


def test_a_p_value_test_says_its_rule_and_draws_no_threshold_on_its_statistic() -> None:
    report = monitoring()
    ks = {**score(3, "age", 0.2), "method": "ks", "p_value": 0.001, "threshold": 0.05}
    report["scores"].append({**ks, "threshold_on": "p_value", "drifted": True})
    (drift,) = [s for s in page(report).all("section") if s.attrs.get("id") == "drift"]
    (age,) = [f for f in drift.all("figure") if f.all("figcaption")[0].text.startswith("age")]
    assert not age.all("path", "threshold")
    assert "p < 0.050" in age.all("svg")[0].all("title")[0].text


def test_firing_alerts_come_first_in_red_with_their_webhook_deliveries() -> None:
    (alerts,) = [t for t in page().all("table") if t.all("tbody", "firing")]
    firing, resolved = alerts.all("tbody")
    assert "firing" in firing.classes and "resolved" in resolved.classes
    state, rule, value, window_id, fired, ended, hooks = (c.text for c in firing.all("td"))
    assert (state, rule, value, window_id) == ("● firing", "drift_share > 0.3", "33.3%", "#3")
    assert (fired, ended) == ("2026-11-22 03:59:59 UTC", "—")
    assert hooks == (
        "✓ delivered to hooks.example.com (status 200) "
        "✗ failed to pager.example.org (status 503, 3 attempts): 503 from pager.example.org"
    )
    assert [c.text for c in resolved.all("td")][:3] == ["resolved", "error_rate > 0.001", "0.20%"]


def test_the_summary_and_charts_show_the_reports_numbers() -> None:
    root = page()
    (summary,) = root.all("p", "summary")
    assert summary.text == (
        "3 windows · 1,500 rows · newest window #3: drift share 33.3% · 1 alert firing"
    )
    (changes,) = [s for s in root.all("section") if s.attrs.get("id") == "change-points"]
    assert [c.text for c in changes.all("td")] == [
        "Page-Hinkley",
        "prediction #1234, 2026-11-22 03:10:00 UTC",
        "prediction #1301, 2026-11-22 03:20:00 UTC",
    ]
    (software,) = [s for s in root.all("section") if s.attrs.get("id") == "software"]
    charts = {f.all("figcaption")[0].text: f for f in software.all("figure")}
    assert list(charts) == [
        "Latency",
        "Error rate",
        "Mean confidence",
        "Accuracy (from feedback)",
    ]  # no throughput, no MAE: no window has them
    assert [t.text for t in charts["Latency"].all("text", "end")] == ["0 ms", "50 ms", "100 ms"]
    assert [t.text for t in charts["Error rate"].all("text", "end")] == ["0%", "0.4%", "0.8%"]
    tips = [c.text for c in charts["Latency"].all("circle")]
    assert tips[0] == "p50, window #1 (ending 2026-11-22 01:59:59 UTC): 12.3 ms"
    assert tips[-1] == "p99, window #3 (ending 2026-11-22 03:59:59 UTC): 78.9 ms"
    accuracy = charts["Accuracy (from feedback)"].all("circle")
    assert [c.text for c in accuracy] == [
        "accuracy, window #3 (ending 2026-11-22 03:59:59 UTC): 0.875"
    ]  # only the newest window has feedback
    (skew,) = root.all("table", "skew")
    assert [c.text for c in skew.all("td")] == [
        "income", "wasserstein", "0.083", "—", "0.100", "#3", "ok"
    ]  # fmt: skip


def test_distributions_pair_reference_and_current_per_bin_and_category() -> None:
    (section,) = [s for s in page().all("section") if s.attrs.get("id") == "distributions"]
    income, region = section.all("figure")
    bins = income.all("g", "bin")
    assert len(bins) == 12
    assert bins[0].text == "income 0 to 1e+04: reference 25.0%, current 5.0%"
    assert [len(b.all("rect", "reference")) + len(b.all("rect", "current")) for b in bins] == [
        2
    ] * 12
    edges = [t.text for t in income.all("text", "tick")]
    assert {"0", "20k", "60k", "120k"} <= set(edges)
    assert [b.text for b in region.all("g", "bin")][
        2
    ] == f"region {ODD}: reference 20.0%, current 20.0%"
    assert "current (window #3" in section.text


def test_every_chart_has_a_title_and_nothing_reaches_out() -> None:
    markup = render(monitoring())
    for svg in Page(markup).root.all("svg"):
        first = next(c for c in svg.children if isinstance(c, Node))
        assert first.tag == "title" and first.text
    assert "<script" not in markup.lower()
    assert "http" not in markup.lower()
    assert "SECRET" not in markup  # a webhook is named by its host: its path holds a token
    assert not any(f"{a}=" in markup for a in ("src", "href", "onload", "onclick"))


def test_names_from_the_data_are_escaped() -> None:
    markup = render(monitoring(endpoint="loans</title><i>"))
    assert ODD not in markup and "&lt;b&gt;&amp;co" in markup
    assert "loans</title><i>" not in markup
    root = Page(markup).root
    assert not root.all("b") and not root.all("i")
    assert root.all("h1")[0].text == "Monitoring of loans</title><i>"


def test_a_report_without_windows_says_what_to_run() -> None:
    empty = {
        "endpoint": "loans",
        "generated_at": "2026-11-22T10:00:00+00:00",
        "windows": [],
        "scores": [],
        "alerts": [],
        "change_points": [],
        "distributions": {},
    }
    root = page(empty)
    (hint,) = root.all("p", "hint")
    assert "prodml monitor --once" in [c.text for c in hint.all("code")]
    assert not root.all("svg") and not root.all("table")
    sections = [s.attrs.get("id") for s in root.all("section")]
    assert sections == ["alerts"]


def test_the_heat_map_keeps_the_newest_windows() -> None:
    report = monitoring()
    report["windows"] = [window(1 + i % 9, 0.0) | {"id": i} for i in range(1, HEAT_WINDOWS + 6)]
    report["scores"] = [score(i, "income", 0.01 * i) for i in range(1, HEAT_WINDOWS + 6)]
    (heat,) = page(report).all("table", "heat")
    heads = [h.text.split()[0] for h in heat.all("th")[1:]]
    assert heads == [f"#{i}" for i in range(6, HEAT_WINDOWS + 6)]


def test_a_long_history_marks_only_the_drifted_points() -> None:
    report = monitoring()
    report["windows"] = [window(1, 0.0) | {"id": i} for i in range(1, 81)]
    report["scores"] = [score(i, "income", 0.5 if i in (40, 80) else 0.01) for i in range(1, 81)]
    (drift,) = [s for s in page(report).all("section") if s.attrs.get("id") == "drift"]
    (chart,) = drift.all("figure")
    assert [c.text.split(" (")[0] for c in chart.all("circle")] == [
        "income, window #40",
        "income, window #80",
    ]
    assert all("drifted" in c.classes for c in chart.all("circle"))
