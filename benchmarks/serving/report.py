"""Write the "## Serving" section of docs/benchmarks.md from the two JSON results.

Merges what bench_prodml.py and bench_mlflow.py printed: a table per model, whether each
server's first answer was its model's own prediction, whether prodml logged every answer,
and a line per goal of issue 5 saying met or not met. Replaces that one section of the
file (other sections stay as they are; the file is created with a short header if it is
missing). Standard library only.

    python -m benchmarks.serving.report PRODML_JSON MLFLOW_JSON --command CMD --seconds S
"""

from __future__ import annotations

from typing import Any

from benchmarks.shared import Report, Results

TITLE = "## Serving"
VERSIONS = ("scikit-learn", "numpy", "pandas", "uvicorn")
#: workload -> how the text names its model (as benchmarks/serving/common.py builds it)
MODELS = {
    "logistic-regression": "`make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))`",
    "gradient-boosting": "`HistGradientBoostingClassifier()`",
}
WORKERS = ("1", "2")
SIDES = {"prodml": "prodml", "mlflow": "MLflow"}
#: the goals of issue 5
GOAL_RATE, GOAL_P99, GOAL_OFFERED, GOAL_RATIO = 3000, 0.050, "1000", 20
#: cores the rest of the machine may take while a server runs for the run to count as quiet
NOISE = 0.1
IN_PROCESS = {
    "dataframe": "a one-row DataFrame",
    "numpy": "a one-row numpy array",
    "numpy, 1 thread": "a one-row numpy array, 1 OpenMP thread",
}

INTRO = """\
How many single-row predictions a second does `prodml serve` answer over HTTP, and how
fast, next to `mlflow models serve` on the same model? Data: scikit-learn's breast-cancer
set as `prodml init --example breast-cancer` writes it (569 rows, 30 features). Two models,
each fitted once on prodml's training split (341 rows): the example's
`make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))` and
`HistGradientBoostingClassifier()`. *prodml*: `prodml fit`, `prodml models register --force`, then
`prodml serve --workers N`, which logs every answered prediction to the project's SQLite
store before it answers. *MLflow*: the same model class fitted on the same rows in its own
environment, `mlflow.sklearn.save_model(model, path, input_example=row)`, then
`mlflow models serve -m path --env-manager local --workers N`. Every request is
`POST /invocations` with the same body, `{"dataframe_records": [one row]}` (patient 1's
30 features); both answer `{"predictions": ["malignant"]}`. Server and load generators
share the machine's cores.

Who measured what: *req/s, p50, p90, p99 at saturation* are from `wrk -t2 -c32 -d15s
--latency` (closed loop: 32 connections, each sending its next request when the last is
answered), after a 3 s wrk warm-up. wrk cannot hold a rate and wrk2 is not installed, so
*at N req/s offered* is from a Python open-loop generator (`benchmarks/serving/load.py`:
asyncio, raw HTTP/1.1 keep-alive, at most 64 connections) that sends N requests a second
for 15 s on schedule whether or not the earlier ones were answered, and times each request
from when it was due to when its answer ended; a request not answered 5 s after the last
one was due counts as unanswered, and a percentile that falls among those is shown as
"—". *failed*: wrk's socket errors (timeouts: no answer within 2 s) and answers other
than 2xx. *In-process* rows are the fitted model's `predict_proba` called in a loop for 3 s in
prodml's environment (calls a second, and the time of one call), with no HTTP."""


def ms(seconds: float | None) -> str:
    """Milliseconds, to 3 significant digits or so; "—" for a percentile not answered."""
    if seconds is None:
        return "—"
    shown = seconds * 1000
    return f"{shown:,.0f}" if shown >= 99.5 else f"{shown:.1f}" if shown >= 1 else f"{shown:.2f}"


def times(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 99.5 else f"{ratio:.1f}x"


def count(n: float) -> str:
    return f"{n:,.0f}"


def server_row(label: str, side: dict[str, Any], mlflow: dict[str, Any] | None) -> str:
    s, low = side["saturated"], side["offered"]
    high = low[GOAL_OFFERED]
    rates = sorted(low, key=int)
    mlflow_rate = mlflow["saturated"]["requests_per_second"] if mlflow else None
    ratio = times(s["requests_per_second"] / mlflow_rate) if mlflow_rate else ""
    return " | ".join(
        [
            f"| {label}",
            count(s["requests_per_second"]),
            ms(s["p50"]),
            ms(s["p90"]),
            ms(s["p99"]),
            count(s["failed"] + s["not_2xx"]),
            f"{count(high['ok'])} of {count(high['requests'])}",
            ms(high["p50"]),
            ms(high["p99"]),
            *(ms(low[rate]["p99"]) for rate in rates if rate != GOAL_OFFERED),
            f"{ratio} |",
        ]
    )


def model_table(results: Results, name: str) -> list[str]:
    p, m = results["prodml"]["workloads"][name], results["mlflow"]["workloads"][name]
    low = [r for r in sorted(p["servers"]["1"]["offered"], key=int) if r != GOAL_OFFERED]
    lines = [
        f"**{MODELS[name]}**",
        "",
        "| server | req/s | p50 ms | p90 ms | p99 ms | failed | 1,000 req/s offered: "
        "answered 200 | p50 ms | p99 ms | "
        + "".join(f"{int(r):,} req/s offered: p99 ms | " for r in low)
        + "req/s / MLflow's |",
        "|---" + "|---:" * (9 + len(low)) + "|",
    ]
    for w in WORKERS:
        lines.append(server_row(f"prodml, {workers(w)}", p["servers"][w], m["servers"][w]))
    for w in WORKERS:
        lines.append(server_row(f"MLflow, {workers(w)}", m["servers"][w], None))
    blanks = " |" * (5 + len(low))
    for key, label in IN_PROCESS.items():
        t = p["in_process"][key]
        lines.append(
            f"| in-process `predict_proba`, {label} | {count(t['calls_per_second'])} "
            f"| {ms(t['p50'])} | {ms(t['p90'])} | {ms(t['p99'])} |{blanks}"
        )
    return lines


def workers(n: str) -> str:
    return f"{n} worker" if n == "1" else f"{n} workers"


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def goals(results: Results) -> list[str]:
    p, m = results["prodml"]["workloads"], results["mlflow"]["workloads"]
    rate = []
    for w in WORKERS:
        ours = p["logistic-regression"]["servers"][w]["saturated"]["requests_per_second"]
        rate.append(f"{workers(w)} {count(ours)} req/s, {verdict(ours >= GOAL_RATE)}")
    lines = [
        "",
        "Goals (issue 5), prodml with logging on:",
        "",
        f"- At least {GOAL_RATE:,} requests/s for the logistic regression: "
        + "; ".join(rate)
        + ".",
    ]
    p99 = []
    for name in MODELS:
        for w in WORKERS:
            high = p[name]["servers"][w]["offered"][GOAL_OFFERED]
            met = high["p99"] is not None and high["p99"] <= GOAL_P99
            p99.append(f"{name}, {workers(w)} {ms(high['p99'])} ms, {verdict(met)}")
    lines.append(
        f"- p99 at most {GOAL_P99 * 1000:.0f} ms at 1,000 requests/s offered: "
        + "; ".join(p99)
        + "."
    )
    ratios = []
    for name in MODELS:
        for w in WORKERS:
            ours = p[name]["servers"][w]["saturated"]["requests_per_second"]
            theirs = m[name]["servers"][w]["saturated"]["requests_per_second"]
            ratios.append(
                f"{name}, {workers(w)} {times(ours / theirs)} ({count(ours)} vs "
                f"{count(theirs)} req/s), {verdict(ours / theirs >= GOAL_RATIO)}"
            )
    lines.append(
        f"- At least {GOAL_RATIO}x MLflow's throughput on the same model, same number of "
        "workers: " + "; ".join(ratios) + "."
    )
    return lines


def checks(results: Results) -> list[str]:
    """Right answers, the same model on both sides, and every answer logged."""
    wrong, logging = [], []
    for side, result in results.items():
        for name, workload in result["workloads"].items():
            for w, server in workload["servers"].items():
                first = server["first"]
                if first["status"] != 200 or first["answer"]["predictions"] != [
                    workload["expected"]
                ]:
                    wrong.append(f"{SIDES[side]} {name} {workers(w)}: {first}")
    expected = {w["expected"] for r in results.values() for w in r["workloads"].values()}
    lines = [
        "",
        "- Right answers: "
        + (
            f"every server's first answer was its model's own `predict` of the row "
            f"({', '.join(sorted(map(repr, expected)))})."
            if not wrong
            else "NOT every first answer was the model's own prediction: " + "; ".join(wrong)
        ),
    ]
    gaps = {
        name: max(
            abs(a - b)
            for a, b in zip(
                results["prodml"]["workloads"][name]["probabilities"],
                results["mlflow"]["workloads"][name]["probabilities"],
                strict=True,
            )
        )
        for name in MODELS
    }
    lines.append(
        "- Same model on both sides: the largest difference between the two sides' "
        "`predict_proba` of the row is "
        + ", ".join(f"{gap:g} ({name})" for name, gap in gaps.items())
        + "."
    )
    for name, workload in results["prodml"]["workloads"].items():
        for w, server in workload["servers"].items():
            logging.append(
                f"{name}, {workers(w)}: {count(server['logged'])} rows for "
                f"{count(server['answered_200'])} answers with status 200"
            )
    lines.append(
        "- Logging on: prodml's prediction log gained, while each server ran, "
        + "; ".join(logging)
        + " (a few more rows than answers counted: the requests still under way when each "
        "wrk run stopped were answered and logged, but wrk does not count them)."
    )
    return [*lines, *failures(results), quiet(results)]


def failures(results: Results) -> list[str]:
    """What went wrong with the requests prodml did not answer with 200 (MLflow's show in
    the table: it answers what it can, late)."""
    found = []
    for name, workload in results["prodml"]["workloads"].items():
        for w, server in workload["servers"].items():
            s = server["saturated"]
            if s["failed"] or s["not_2xx"]:
                found.append(
                    f"{name}, {workers(w)}, wrk: {s['timeouts']} timeouts (no answer within "
                    f"wrk's 2 s), {s['failed'] - s['timeouts']} other socket errors, "
                    f"{s['not_2xx']} answers other than 2xx"
                )
            for rate, run in server["offered"].items():
                if run["ok"] < run["requests"]:
                    broken = ", ".join(f"{n} {kind}" for kind, n in run["failures"].items())
                    found.append(
                        f"{name}, {workers(w)}, {int(rate):,} req/s offered: "
                        f"{run['not_200']} answers other than 200, {run['unanswered']} "
                        f"unanswered, {run['broken']} connections broken"
                        + (f" ({broken})" if broken else "")
                    )
    if not found:
        return ["- prodml answered every request with 200."]
    return ["- prodml's requests not answered with 200: " + "; ".join(found) + "."]


def quiet(results: Results) -> str:
    """How much CPU the rest of the machine took while each server ran (see others_cpu)."""
    timed = [
        (f"{SIDES[side]} {name} {workers(w)}", server)
        for side, result in results.items()
        for name, workload in result["workloads"].items()
        for w, server in workload["servers"].items()
    ]
    timed += [
        (f"in-process {name}", workload["in_process"])
        for name, workload in results["prodml"]["workloads"].items()
    ]
    shares, busy = [], []
    for label, run in timed:
        share = run["others_cpu_seconds"] / run["wall_seconds"]
        shares.append(f"{label} {share:.2f}")
        if share > NOISE:
            busy.append(label)
    verdict = (
        f"all under {NOISE} core, a quiet machine"
        if not busy
        else f"over {NOISE} core, so disturbed by other work, for: " + "; ".join(busy)
    )
    return (
        "- Other work on the machine while each server (and each in-process loop) ran, in "
        "cores (CPU seconds outside the benchmark's processes, the kernel's included, per "
        "wall second): " + "; ".join(shares) + f": {verdict}."
    )


def body(results: Results) -> list[str]:
    """The section after its command line: the tables, the checks and the goals."""
    lines = [f"- Load: {results['prodml']['wrk']} (closed loop), Python open loop", ""]
    for name in MODELS:
        lines += [*model_table(results, name), ""]
    return [*lines, *checks(results), *goals(results), ""]


REPORT = Report(
    title=TITLE, intro=INTRO, peer="mlflow", label="MLflow", versions=VERSIONS, body=body
)

if __name__ == "__main__":
    REPORT.main(__doc__)
