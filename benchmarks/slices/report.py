"""Write the "## Sliced metrics" section of docs/benchmarks.md from the two JSON results.

Merges what bench_prodml.py and bench_fairlearn.py printed, checks that both found the
same groups and the same values, adds the date, the machine and the command, and replaces
that one section of the file (other sections stay as they are; the file is created with a
short header if it is missing). Standard library only.

    python -m benchmarks.slices.report PRODML_JSON FAIRLEARN_JSON --command CMD --seconds S
"""

from __future__ import annotations

from benchmarks.shared import Report, Results

TITLE = "## Sliced metrics"
VERSIONS = ("numpy", "pandas", "scikit-learn", "scipy")

INTRO = """\
How long does it take to score every slice, next to Fairlearn's `MetricFrame`? One
million rows from a seeded generator (`benchmarks/slices/common.py`): a binary label (30%
positive), predictions that agree with it 80 to 90% of the time, and three metadata
columns of text with 2, 5 and 12 values (device, region, month). For each column, each
side computes accuracy, precision, recall and F1 of class 1 on every group, end to end
from the data frame and the label arrays to the values as Python floats. *prodml* is
`slicings()`, `confusion_by_group()` (one `np.bincount`) and `classification_scores()`
from `prodml.evaluate.slices`; *Fairlearn* is one `MetricFrame` per column with the four
scikit-learn functions (`zero_division=0`) and the column as its sensitive feature, read
from `by_group`; a MetricFrame also computes the metrics on all rows, which it always
does. Each side runs in its own environment with the same numpy, pandas and scikit-learn.
Wall time of each column on its own, best and median of the runs; "all three" adds the
three columns of each run."""


def timing_table(results: Results) -> list[str]:
    p, f = results["prodml"], results["fairlearn"]
    lines = [
        "| column (groups) | prodml: best ms | median ms | Fairlearn: best s | median s "
        "| Fairlearn / prodml, best |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = [
        (f"{column} ({n})", p["seconds"]["columns"][column], f["seconds"]["columns"][column])
        for column, n in p["groups"].items()
    ]
    rows.append(("all three", p["seconds"]["total"], f["seconds"]["total"]))
    for label, ours, theirs in rows:
        lines.append(
            f"| {label} | {ours['min'] * 1000:.1f} | {ours['median'] * 1000:.1f} "
            f"| {theirs['min']:.1f} | {theirs['median']:.1f} "
            f"| {theirs['min'] / ours['min']:,.0f}x |"
        )
    return lines


def comparison(results: Results) -> tuple[bool, str]:
    """Whether both sides found the same groups with the same values, said in a sentence."""
    ours, theirs = results["prodml"]["values"], results["fairlearn"]["values"]
    same_groups = all(set(ours[c]) == set(theirs[c]) for c in ours) and set(ours) == set(theirs)
    if not same_groups:
        return False, "the two sides found DIFFERENT groups (check the scripts)"
    differences = [
        abs(value - theirs[column][group][metric])
        for column, groups in ours.items()
        for group, values in groups.items()
        for metric, value in values.items()
    ]
    largest = max(differences)
    groups = sum(len(g) for g in ours.values())
    verdict = "identical" if largest == 0 else "NOT identical"
    return largest == 0, (
        f"the {len(differences)} values ({groups} groups x {len(differences) // groups} "
        f"metrics) are {verdict}; the largest absolute difference is {largest:g}"
    )


def body(results: Results) -> list[str]:
    """The section after its command line: the runs, the timings and the verdicts."""
    p, f = results["prodml"]["seconds"]["total"], results["fairlearn"]["seconds"]["total"]
    _, said = comparison(results)
    return [
        f"- Runs: prodml {len(p['all'])} after one warm-up, Fairlearn {len(f['all'])}",
        "",
        *timing_table(results),
        "",
        f"- All three columns: prodml {p['min'] * 1000:.1f} ms, Fairlearn {f['min']:.1f} s "
        f"(best runs): prodml is {f['min'] / p['min']:,.0f}x faster (median against "
        f"median: {f['median'] / p['median']:,.0f}x).",
        f"- Same results: {said}.",
        "",
    ]


REPORT = Report(
    title=TITLE, intro=INTRO, peer="fairlearn", label="Fairlearn", versions=VERSIONS, body=body
)


def main() -> None:
    results = REPORT.main(__doc__)
    same, said = comparison(results)
    print(f"{TITLE.removeprefix('## ')}: {said}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
