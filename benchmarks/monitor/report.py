"""Write the "## Monitor at scale" section of docs/benchmarks.md from the two JSON results.

Merges what bench_prodml.py and bench_evidently.py printed, checks that both sides found
the same accuracy in every window (the same windows of the same rows and labels), states
each goal met or missed, adds the date, the machine and the command, and replaces that
one section of the file (the others stay as they are). Exits with 1 when a goal is
missed or the windows differ. Standard library only.

    python -m benchmarks.monitor.report PRODML_JSON EVIDENTLY_JSON --command CMD --seconds S
"""

from __future__ import annotations

import statistics

from benchmarks.shared import Report, Results

TITLE = "## Monitor at scale"
VERSIONS = ("numpy", "pandas", "scipy", "scikit-learn")
FLOOR_GOAL = 2.0  # the first pass takes at most this many times the floor
SPEED_GOAL = 20.0  # and is at least this many times faster than Evidently
NOTHING_GOAL = 0.5  # seconds of a pass with nothing new, at any log size
WINDOW_GOAL = 2.0  # seconds of a pass after one new window

INTRO = """\
How long does the monitor take over a large prediction log, and does a pass cost what is
new or what is there? The breast-cancer example (`prodml init --example breast-cancer`,
its model fitted and registered; 30 float features, two classes) with `monitor: {window:
10000}`, and a log of its model's answers to patients drawn with replacement from its data
(each measurement times 1 + 1% noise), written by prodml's own prediction log writer, a
label for each as feedback (`benchmarks/monitor/generate.py`). *The floor* is every row of
the log read with Python's `sqlite3`, every column the monitor reads, nothing decoded.
*prodml* is `Project.monitor()`, the call behind `prodml monitor`, in a new process
(imports before the clock): its first pass over the whole log (every window's software,
input and output metrics, drift of every feature and of the outputs, training-serving
skew, realized performance and the change detectors over every label), then a pass with
nothing new and one after one more window with its labels (10,000 predictions), both in
the same process, as `prodml monitor --every` keeps its monitor, and both again in new
processes, as `prodml monitor --once` runs. *Evidently* reads the same rows (the floor's
read, decoded with numpy, with each row's last label) and runs
`Report([DataDriftPreset(), ClassificationPreset()])` on each of the first pass's windows
against the rows prodml's reference profile was made of (the held-out rows, with their
classes and the model's), in its own environment. One run of each; wall time."""


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def goals(results: Results) -> list[tuple[str, float, str, bool]]:
    """(what, seconds, goal, met) of each measure."""
    p, e = results["prodml"], results["evidently"]
    floor, first = p["floor"]["log"], p["first"]["seconds"]
    evidently = e["read_seconds"] + sum(e["report_seconds"])
    nothing, window = p["nothing_new"], p["one_window"]
    count = p["first"]["windows"]
    return [
        ("the floor: every row of the log, `sqlite3`", floor, "", True),
        ("(and every label)", p["floor"]["labels"], "", True),
        (
            f"prodml: first pass ({count} windows)",
            first,
            f"at most {FLOOR_GOAL:g}x the floor ({FLOOR_GOAL * floor:.1f} s): {first / floor:.1f}x",
            first <= FLOOR_GOAL * floor,
        ),
        (
            f"Evidently: both presets on the {count} windows, and its read",
            evidently,
            f"prodml at least {SPEED_GOAL:g}x faster: {evidently / first:.1f}x",
            evidently >= SPEED_GOAL * first,
        ),
        *(
            (
                f"prodml: {what}, {where}",
                found[key]["seconds"],
                f"under {goal:g} s",
                found[key]["seconds"] < goal,
            )
            for what, found, goal in (
                ("nothing new", nothing, NOTHING_GOAL),
                ("one new window", window, WINDOW_GOAL),
            )
            for key, where in (
                ("same_process", "same monitor (`--every`)"),
                ("new_process", "new process (`--once`)"),
            )
        ),
    ]


def same_windows(results: Results) -> bool:
    p, e = results["prodml"]["windows"], results["evidently"]["windows"]
    return len(p) == len(e) and all(
        abs(ours["accuracy"] - theirs["accuracy"]) < 1e-12
        for ours, theirs in zip(p, e, strict=True)
    )


def body(results: Results) -> list[str]:
    """The section after its command line: the table, the checks and the context."""
    p, e = results["prodml"], results["evidently"]
    before, after = p["load_average"]
    drifted = [sum(w["drifted_share"] > 0 for w in side["windows"]) for side in (p, e)]
    return [
        f"- Log: {p['rows']:,} predictions with a label each, windows of {p['window']:,}; "
        f"written in {p['generated_seconds']:.0f} s",
        f"- Load average (1 minute) just before and after prodml's side: {before:.1f} and "
        f"{after:.1f} (the second counts prodml's own processes: the first pass scores "
        "windows on every core)",
        "",
        "| measure | seconds | goal |",
        "|---|---:|---|",
        *(
            f"| {what} | {seconds:.2f} | {goal + ': ' + verdict(ok) if goal else ''} |"
            for what, seconds, goal, ok in goals(results)
        ),
        "",
        f"- Evidently: read and decode {e['read_seconds']:.1f} s; a window's two presets "
        f"{statistics.median(e['report_seconds']):.1f} s (median of "
        f"{len(e['report_seconds'])}), {sum(e['report_seconds']):.0f} s in all.",
        f"- Same windows: every window's accuracy "
        f"{'equal' if same_windows(results) else 'DIFFERENT'} on both sides; windows with "
        f"a drifted feature: prodml {drifted[0]}, Evidently "
        f"{drifted[1]}, of {len(p['windows'])} (the rows are drawn from the reference's "
        "population: none should be).",
        f"- Peak memory: prodml's process of the first pass {p['peak_mib']:,.0f} MiB, "
        f"Evidently's {e['peak_mib']:,.0f} MiB.",
        "",
    ]


REPORT = Report(
    title=TITLE, intro=INTRO, peer="evidently", label="Evidently", versions=VERSIONS, body=body
)


def main() -> None:
    results = REPORT.main(__doc__)
    missed = [what for what, _, goal, ok in goals(results) if goal and not ok]
    print(f"{TITLE.removeprefix('## ')}: goals missed: {', '.join(missed) or 'none'}")
    if missed or not same_windows(results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
