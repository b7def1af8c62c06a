"""Write the "## Drift" section of docs/benchmarks.md from the two JSON results.

Merges what bench_prodml.py and bench_evidently.py printed, checks that both flagged the
same columns, compares the scores where both used the same statistic, adds the date, the
machine and the command, and replaces that one section of the file (other sections stay as
they are; the file is created with a short header if it is missing). Exits with 1 when the
two sides flagged different columns or a goal (30 times faster, at most half the peak
memory) is missed. Standard library only.

    python -m benchmarks.drift.report PRODML_JSON EVIDENTLY_JSON --command CMD --seconds S
"""

from __future__ import annotations

import math

from benchmarks.shared import Report, Results

TITLE = "## Drift"
VERSIONS = ("numpy", "pandas", "scipy")
SPEED_GOAL = 30  # times faster
MEMORY_GOAL = 0.5  # at most this share of Evidently's peak
#: Evidently's names of the statistics -> prodml's
SAME_STATISTIC = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
}
#: prodml's Jensen-Shannon is in base 2, Evidently's in base e: times sqrt(ln 2) to compare
IN_BASE_E = {"jensenshannon": math.sqrt(math.log(2))}

INTRO = """\
How long does a data drift report of two large data sets take, and how much memory,
next to Evidently's? Two frames of 1,000,000 rows from seeded generators
(`benchmarks/drift/common.py`), a reference and a current one, with 20 columns: 15
numeric (floats, one with 1% missing values) and 5 categorical (pandas categories with 3
to 50 values, one with 2% missing values). In the current frame 3 numeric columns
(income, score, latency_ms) and 2 categorical ones (channel, plan) come from shifted
generators; the others from the reference's generators with another seed. *prodml* is
`drift_report(distributions(reference), distributions(current))` from
`prodml.monitor.drift`, with its default rule (at this size normed Wasserstein for the
numbers, Jensen-Shannon in base 2 for the categories, drift at 0.1). *Evidently* is
`Report([DataDriftPreset()], include_tests=True).run(current, reference)` on
`Dataset.from_pandas` of each frame, with a `DataDefinition` naming the numeric and
categorical columns, and its own default rule (the same statistics; Jensen-Shannon in
base e); a column drifted when its "Value Drift" test failed. Each side runs in a new
process of its own environment and builds the same frames first; wall time from the
frames to each column's flag; peak memory is the process's peak resident set
(`ru_maxrss`) at its end, data generation and imports included, the same on both sides."""


def columns_table(results: Results) -> list[str]:
    p, e = results["prodml"], results["evidently"]
    lines = [
        "| column | shifted | prodml: method | score | drift | Evidently: method | score | drift |",
        "|---|---|---|---:|---|---|---:|---|",
    ]
    for name, ours in p["found"].items():
        theirs = e["found"][name]
        lines.append(
            f"| {name} | {'yes' if name in p['shifted'] else ''} | {ours['method']} "
            f"| {ours['score']:.4f} | {'**yes**' if ours['drifted'] else 'no'} "
            f"| {theirs['method']} | {theirs['score']:.4f} "
            f"| {'**yes**' if theirs['drifted'] else 'no'} |"
        )
    return lines


def flagged(results: Results, side: str) -> list[str]:
    return [name for name, found in results[side]["found"].items() if found["drifted"]]


def score_agreement(results: Results) -> str:
    """How close the scores are where both sides used the same statistic, in a phrase."""
    differences: dict[str, float] = {}
    for name, ours in results["prodml"]["found"].items():
        theirs = results["evidently"]["found"][name]
        if SAME_STATISTIC.get(theirs["method"]) != ours["method"]:
            continue
        score = ours["score"] * IN_BASE_E.get(ours["method"], 1.0)
        relative = abs(score - theirs["score"]) / max(abs(theirs["score"]), 1e-300)
        differences[ours["method"]] = max(differences.get(ours["method"], 0.0), relative)
    return "; ".join(
        f"{method}: the largest relative difference is {largest:.1e}"
        + (" (prodml's base-2 score times sqrt(ln 2))" if method in IN_BASE_E else "")
        for method, largest in differences.items()
    )


def verdicts(results: Results) -> tuple[bool, list[str]]:
    """Whether the goals are met and the flags agree, and the lines that say so."""
    p, e = results["prodml"], results["evidently"]
    faster = e["seconds"]["min"] / p["seconds"]["min"]
    memory = p["peak_mib"]["end"] / e["peak_mib"]["end"]
    ours, theirs = flagged(results, "prodml"), flagged(results, "evidently")
    same = ours == theirs
    fast_enough, small_enough = faster >= SPEED_GOAL, memory <= MEMORY_GOAL
    lines = [
        f"- Speed: prodml {p['seconds']['min']:.2f} s, Evidently {e['seconds']['min']:.1f} s "
        f"(best runs): prodml is {faster:,.0f}x faster, "
        f"{'meeting' if fast_enough else 'MISSING'} the goal of {SPEED_GOAL}x.",
        f"- Memory: prodml peaks at {p['peak_mib']['end']:,.0f} MiB, Evidently at "
        f"{e['peak_mib']['end']:,.0f} MiB: {memory:.0%} of it, "
        f"{'meeting' if small_enough else 'MISSING'} the goal of at most "
        f"{MEMORY_GOAL:.0%}. Both frames alone bring a process to about "
        f"{p['peak_mib']['after_data']:,.0f} MiB.",
        f"- Same columns flagged: {'yes' if same else 'NO'}; prodml flags "
        f"{', '.join(ours) or 'none'}; Evidently flags {', '.join(theirs) or 'none'}; the "
        f"shifted columns are {', '.join(p['shifted'])}.",
        f"- Same scores: {score_agreement(results)}.",
    ]
    return same and fast_enough and small_enough, lines


def body(results: Results) -> list[str]:
    """The section after its command line: the runs, the table and the verdicts."""
    p, e = results["prodml"], results["evidently"]
    ps, es = p["seconds"], e["seconds"]
    _, said = verdicts(results)
    return [
        f"- Runs: prodml {len(ps['all'])} after one warm-up, Evidently {len(es['all'])}",
        "",
        "| side | best s | median s | peak memory MiB | after the imports | after the data |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {label} | {r['seconds']['min']:.2f} | {r['seconds']['median']:.2f} "
            f"| {r['peak_mib']['end']:,.0f} | {r['peak_mib']['after_imports']:,.0f} "
            f"| {r['peak_mib']['after_data']:,.0f} |"
            for label, r in (("prodml", p), ("Evidently", e))
        ),
        "",
        *said,
        "",
        *columns_table(results),
        "",
    ]


REPORT = Report(
    title=TITLE, intro=INTRO, peer="evidently", label="Evidently", versions=VERSIONS, body=body
)


def main() -> None:
    results = REPORT.main(__doc__)
    ok, said = verdicts(results)
    print(f"{TITLE.removeprefix('## ')}:", *(line.removeprefix("- ") for line in said), sep="\n")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
