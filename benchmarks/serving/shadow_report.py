"""Write the "## Serving with a shadow" section of docs/benchmarks.md from bench_shadow.py's JSON.

A table with a row per pair of phases (without and with the shadow) of each server, and
a row with the median difference of the pairs' p99; then whether every switch took effect,
whether the primary answered, the shadow's rows and drops, the machine's other work, and
a line per goal of issue 12 saying met or not met. Replaces that one section of the file
(a missing section goes right after "## Serving"; the file is created with a short header
if it is missing). Standard library only.

    python -m benchmarks.serving.shadow_report SHADOW_JSON --command CMD --commit C
        --seconds S [--output FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.serving.report import NOISE, count, ms, verdict, workers
from benchmarks.serving.report import TITLE as SERVING
from benchmarks.shared import HEADER, machine, replace_section

TITLE = "## Serving with a shadow"
VERSIONS = ("uvicorn", "scikit-learn", "numpy", "pandas")
#: the goals of issue 12: the primary's p99 at most this much above the run without a
#: shadow, and no copy dropped
GOAL_ADDED, GOAL_DROPS = 0.005, 0

INTRO = """\
What does a shadow candidate cost the primary's answers? The project and requests are
those of "Serving" (the breast-cancer example's `make_pipeline(StandardScaler(),
LogisticRegression(max_iter=1000))`, `prodml fit`, `prodml models register --force`:
version 1, the primary; single-row `POST /invocations`, logging on). The same model is
fitted again and registered as version 2, the candidate. One `prodml serve --workers N`
runs for the whole measurement, and the shadow is switched on and off beside it through
the registry (what `prodml deploy breast-cancer:2 --shadow --force --reason ...` and
`prodml deploy breast-cancer --stop` do; the servers pick a change up within a second, and
the load starts 3 s after it). With the shadow on, every request is copied to version 2
after its answer is committed (`--sample 1.0`) and the copy's prediction is logged with
role `shadow`. A warm-up with the shadow on (3 s at the rate, repeated until the shadow
logged a row for every primary row, so that every worker has loaded version 2) comes
first.

The load is the open loop of "Serving" (`benchmarks/serving/load.py`: requests sent on
schedule whether or not the earlier ones were answered, latency from when a request was due
to the end of its answer). The machine has few cores shared by the server, the load
generator and whatever else runs, so one pair of runs can differ by more than the shadow
costs: the phases alternate, without and with the shadow, in pairs whose order alternates
too (without first, then with first, ...), and the verdict is on the median of the pairs'
p99 differences; every pair is shown so the noise is visible, and the verdict is
*inconclusive* when one pair's difference is above +5 ms and another's below -5 ms (the
noise is then larger than the goal). *shadow rows*: rows the
prediction log gained with role `shadow` during a phase with the shadow on, of the rows it
gained with role `primary` (one request more than the phase's: the request sent after it,
whose headers `X-Prodml-Model` and `X-Prodml-Role` say who answered); *missing*: primary
rows without their shadow row. *dropped*: `prodml_shadow_dropped_rows` from `/metrics`,
read before and after the phase; each worker counts its own and whichever worker accepts
the connection answers, so with 2 workers it speaks for the workers heard (the log's
*missing* covers them all). *other work*: cores the rest of the machine took while the
phase ran (without / with). *p99 difference*: with the shadow minus without."""


def shadow_rows(run: dict[str, Any]) -> str:
    rows = run["logged"]
    return f"{count(rows['shadow'])} of {count(rows['primary'])}"


def missing(run: dict[str, Any]) -> int:
    """Primary rows of a phase with the shadow on that have no shadow row."""
    rows = run["logged"]
    return int(rows["primary"] - rows["shadow"])


def added(pair: dict[str, Any]) -> float | None:
    """How much higher the p99 was with the shadow than without (None: a p99 unanswered).

    >>> added({"without": {"p99": 0.030}, "with": {"p99": 0.032}}) == 0.032 - 0.030
    True
    """
    before, after = pair["without"]["p99"], pair["with"]["p99"]
    return None if before is None or after is None else after - before


def signed(seconds: float | None) -> str:
    return "—" if seconds is None else ("+" if seconds >= 0 else "-") + ms(abs(seconds))


def cores(run: dict[str, Any]) -> float:
    return float(run["others_cpu_seconds"] / run["wall_seconds"])


def median_added(server: dict[str, Any]) -> float | None:
    differences = [added(pair) for pair in server["pairs"]]
    known = [d for d in differences if d is not None]
    return statistics.median(known) if known and len(known) == len(differences) else None


def table(result: dict[str, Any]) -> list[str]:
    lines = [
        "| server | pair (first) | without: p50 ms | p99 ms | with: p50 ms | p99 ms "
        "| p99 difference, ms | shadow rows | missing | dropped | other work, cores |",
        "|---|---|" + "---:|" * 9,
    ]
    for w, server in result["servers"].items():
        label = f"prodml, {workers(w)}"
        for number, pair in enumerate(server["pairs"], 1):
            off, on = pair["without"], pair["with"]
            lines.append(
                f"| {label} | {number} ({pair['order'][0]}) | {ms(off['p50'])} "
                f"| {ms(off['p99'])} | {ms(on['p50'])} | {ms(on['p99'])} "
                f"| {signed(added(pair))} | {shadow_rows(on)} | {count(missing(on))} "
                f"| {count(on['dropped'])} | {cores(off):.2f} / {cores(on):.2f} |"
            )
        lines.append(
            f"| {label} | **median** | | | | | **{signed(median_added(server))}** | | | | |"
        )
    return lines


def checks(result: dict[str, Any]) -> list[str]:
    """The switches took effect, the primary answered, every request answered 200, the
    workers /metrics heard, and the machine's other work."""
    switched, answered, failed, heard, busy = [], [], [], [], []
    for w, server in result["servers"].items():
        for number, pair in enumerate(server["pairs"], 1):
            for side in ("without", "with"):
                run, where = pair[side], f"{workers(w)}, pair {number}, {side}"
                shadow = run["logged"]["shadow"]
                if (side == "without" and shadow) or (side == "with" and missing(run)):
                    switched.append(f"{where}: {shadow_rows(run)} shadow rows")
                by = run["answered_by"]
                if by["status"] != 200 or by["role"] != "primary" or not by["model"]:
                    answered.append(f"{where}: {by}")
                if run["ok"] < run["requests"]:
                    failed.append(
                        f"{where}: {count(run['ok'])} of {count(run['requests'])} answered "
                        f"200 ({run['unanswered']} unanswered, {run['broken']} broken)"
                    )
                if cores(run) > NOISE:
                    busy.append(f"{where} {cores(run):.2f}")
                heard.append(f"{run['workers_heard']} of {w}")
    models = sorted(
        {
            run["answered_by"]["model"]
            for server in result["servers"].values()
            for pair in server["pairs"]
            for run in (pair["without"], pair["with"])
        }
    )
    return [
        "",
        "- Switches: "
        + (
            "every phase without the shadow logged no shadow row, every phase with it a "
            "shadow row for every primary row."
            if not switched
            else "NOT as intended: " + "; ".join(switched) + "."
        ),
        "- Who answered: "
        + (
            f"the request after every phase was answered 200 by {', '.join(models)} as "
            "`primary` (X-Prodml-Model, X-Prodml-Role)."
            if not answered
            else "NOT always the primary: " + "; ".join(answered) + "."
        ),
        "- "
        + (
            "Every request of every phase was answered with 200."
            if not failed
            else "Requests not answered with 200: " + "; ".join(failed) + "."
        ),
        "- Workers heard on /metrics before and after each phase (the fewer of the two): "
        + ", ".join(heard)
        + ".",
        "- Other work on the machine: "
        + (
            f"under {NOISE} core in every phase, a quiet machine."
            if not busy
            else f"over {NOISE} core, so disturbed by other work, in: " + "; ".join(busy) + "."
        ),
    ]


def p99_verdict(server: dict[str, Any]) -> str:
    """Met or not met by the median difference; inconclusive when the pairs disagree by
    more than the goal both ways (one pair over +GOAL_ADDED, another under -GOAL_ADDED):
    then the noise is larger than what is measured."""
    median = median_added(server)
    differences = [added(pair) for pair in server["pairs"]]
    if median is None:
        return "a p99 among unanswered requests, **not met**"
    shown = f"{signed(median)} ms (pairs {', '.join(signed(d) for d in differences)})"
    known = [d for d in differences if d is not None]
    if max(known) > GOAL_ADDED and min(known) < -GOAL_ADDED:
        return f"{shown}, **inconclusive**: the pairs disagree by more than the goal"
    return f"{shown}, {verdict(median <= GOAL_ADDED)}"


def goals(result: dict[str, Any]) -> list[str]:
    p99, drops = [], []
    for w, server in result["servers"].items():
        p99.append(f"{workers(w)} {p99_verdict(server)}")
        runs = [pair["with"] for pair in server["pairs"]]
        metrics, lost = sum(r["dropped"] for r in runs), sum(missing(r) for r in runs)
        met = metrics <= GOAL_DROPS and lost <= GOAL_DROPS
        drops.append(
            f"{workers(w)} {count(metrics)} dropped (/metrics), {count(lost)} missing from "
            f"the log, {verdict(met)}"
        )
    rate = f"{result['rate']:,.0f}"
    return [
        "",
        f"Goals (issue 12), {rate} requests/s offered:",
        "",
        f"- The primary's p99 with a shadow at most {GOAL_ADDED * 1000:.0f} ms above the same "
        "run without one (median of the pairs): " + "; ".join(p99) + ".",
        "- No shadow drops: " + "; ".join(drops) + ".",
    ]


def section(result: dict[str, Any], command: str, commit: str, seconds: int) -> str:
    found = result["versions"]
    packages = ", ".join(f"{name} {found[name]}" for name in VERSIONS)
    pairs = len(next(iter(result["servers"].values()))["pairs"])
    return "\n".join(
        [
            TITLE,
            "",
            INTRO,
            "",
            f"- Date: {datetime.date.today().isoformat()}",
            f"- Machine: {machine()}; Python {found['python']}; prodml {found['prodml']}, "
            f"{packages}",
            f"- Command: `{command}` at commit {commit} (took {seconds} s)",
            f"- Load: {result['rate']:,.0f} requests/s offered, {pairs} "
            f"pair{'s' * (pairs != 1)} of {result['seconds']:g} s phases per server",
            "",
            *table(result),
            *checks(result),
            *goals(result),
            "",
        ]
    )


def placed(text: str, new: str) -> str:
    """``text`` with the section replaced, or, if missing, put right after "## Serving".

    >>> placed("# B\\n\\n## Serving\\nold\\n\\n## Drift\\n", "## Serving with a shadow\\nnew\\n")
    '# B\\n\\n## Serving\\nold\\n\\n## Serving with a shadow\\nnew\\n\\n## Drift\\n'
    """
    at = text.find(f"\n{SERVING}\n")
    if f"\n{TITLE}\n" in text or at < 0:
        return replace_section(text, TITLE, new)
    end = text.find("\n## ", at + 1)
    if end < 0:
        return text.rstrip("\n") + "\n\n" + new
    return text[: end + 1] + new + text[end:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shadow", type=Path, help="what bench_shadow.py printed")
    parser.add_argument("--command", required=True, help="the command that ran the benchmark")
    parser.add_argument("--commit", required=True, help="the git commit measured")
    parser.add_argument("--seconds", type=int, required=True, help="how long it took")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args()
    result = json.loads(args.shadow.read_text())
    text = args.output.read_text() if args.output.exists() else HEADER
    args.output.parent.mkdir(parents=True, exist_ok=True)
    new = section(result, args.command, args.commit, args.seconds)
    args.output.write_text(placed(text, new))


if __name__ == "__main__":
    main()
