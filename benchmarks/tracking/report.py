"""Write the "## Tracked fitting" section of docs/benchmarks.md from the two JSON results.

Merges what bench_prodml.py and bench_mlflow.py printed, adds the date, the machine and
the command, and replaces that one section of the file (other sections stay as they are;
the file is created with a short header if it is missing). Standard library only.

    python -m benchmarks.tracking.report PRODML_JSON MLFLOW_JSON --command CMD --seconds S
"""

from __future__ import annotations

from benchmarks.shared import Report, Results

TITLE = "## Tracked fitting"
WORKLOADS = ("breast-cancer", "loans")
VERSIONS = ("scikit-learn", "numpy", "pandas", "skops")

ROWS = (  # label, whose result, key, whether to show the ratio to plain
    ("plain: load, split, fit, score (prodml's env)", "prodml", "plain", True),
    ("plain: the same (MLflow's env)", "mlflow", "plain", True),
    ("prodml `Project.fit()`, first run (new store)", "prodml", "tracked_first", True),
    ("prodml `Project.fit()`, next 5 runs", "prodml", "tracked", True),
    ("&nbsp;&nbsp;of which `model.fit` (prodml's `fit_seconds`)", "prodml", "fit_seconds", False),
    ("MLflow run, first run (new store)", "mlflow", "tracked_first", True),
    ("MLflow run, next 5 runs", "mlflow", "tracked", True),
    ("MLflow run, next 5 runs, `pip_requirements` given", "mlflow", "tracked_given", True),
)

INTRO = """\
What does tracking a fit cost, next to fitting untracked and to tracking with MLflow? Two
workloads: **breast-cancer** (569 rows, StandardScaler + LogisticRegression(max_iter=1000),
60/20/20 stratified split) and **loans** (20,000 rows, HistGradientBoostingClassifier
(max_iter=200, categorical_features="from_dtype"), split by date). Every side reads the same
data file, cuts the same train/dev/test rows, fits the same model and computes the same
metrics (accuracy, macro F1, per-class precision, recall, F1 and support on each split).
*plain* records nothing. *prodml* is `prodml.Project(path).fit()`, which also checks and
fingerprints the data, records code version and package versions, saves the model with
skops and its SHA-256, and writes the run to SQLite. *MLflow* is `with mlflow.start_run():`
the plain work, then `log_params(model.get_params())`, `log_metrics` and
`mlflow.sklearn.log_model` (skops, MLflow's default) on a `sqlite:///` store; by default
`log_model` infers the model's pip requirements in a new Python process, and the last row
gives them instead. Each workload gets new stores; the first run creates them, in a process
that has already imported the tool. Wall time; medians and minimums of 5 runs, each tracked
run interleaved with a plain one; "/ plain" divides by the plain median in the same
environment."""


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}" if seconds >= 0.0995 else f"{seconds * 1000:.1f}"


def fit_table(results: Results) -> list[str]:
    head = " | ".join(f"{w}: median ms | min ms | / plain" for w in WORKLOADS)
    lines = [f"| what is timed | {head} |", "|---" + "|---:" * 3 * len(WORKLOADS) + "|"]
    for label, side, key, ratio in ROWS:
        cells = []
        for workload in WORKLOADS:
            result = results[side]["workloads"][workload]
            stats, floor = result[key], result["plain"]["median"]
            median, low = (
                (stats["median"], stats["min"]) if isinstance(stats, dict) else (stats, None)
            )
            cells += [
                ms(median),
                ms(low) if low is not None else "",
                f"{median / floor:.1f}x" if ratio else "",
            ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def cli_table(results: Results) -> list[str]:
    lines = ["| command | median ms | min ms |", "|---|---:|---:|"]
    for side, env in (("prodml", "prodml's env"), ("mlflow", "MLflow's env")):
        for command, stats in results[side]["cli"].items():
            label = f"`{command}`" + (f" ({env})" if command.startswith("python") else "")
            lines.append(f"| {label} | {ms(stats['median'])} | {ms(stats['min'])} |")
    return lines


def findings(results: Results) -> list[str]:
    """The ratios, and what the numbers show (nothing they do not)."""
    lines, added_p, added_m, inferring = [], [], [], []
    for name in WORKLOADS:
        p, m = results["prodml"]["workloads"][name], results["mlflow"]["workloads"][name]
        plain_p, plain_m = p["plain"]["median"], m["plain"]["median"]
        tracked_p, tracked_m = p["tracked"]["median"], m["tracked"]["median"]
        given = m["tracked_given"]["median"]
        added_p.append(ms(tracked_p - plain_p))
        added_m.append(ms(tracked_m - plain_m))
        inferring.append(ms(tracked_m - given))
        lines.append(
            f"- {name}: prodml tracked fit = {tracked_p / plain_p:.1f}x plain; "
            f"MLflow = {tracked_m / plain_m:.1f}x plain ({tracked_m / tracked_p:.1f}x prodml), "
            f"{given / plain_m:.1f}x plain ({given / tracked_p:.1f}x prodml) with "
            f"`pip_requirements` given. First run: prodml "
            f"{ms(p['tracked_first'])} ms, MLflow {ms(m['tracked_first'])} ms."
        )
    cli_p = results["prodml"]["cli"]["prodml --help"]["median"]
    cli_m = results["mlflow"]["cli"]["mlflow --help"]["median"]
    lines.append(
        f"- Cold start: `mlflow --help` = {cli_m / cli_p:.0f}x `prodml --help` "
        f"({ms(cli_m)} vs {ms(cli_p)} ms)."
    )
    f1 = [
        {
            round(v, 12)
            for side in results.values()
            for v in side["workloads"][n]["test_f1"].values()
        }
        for n in WORKLOADS
    ]
    same = all(len(values) == 1 for values in f1)
    lines.append(
        "- Same work on every side: the test F1 of the positive class is "
        + ("identical" if same else "NOT identical (check the workloads)")
        + " in the plain, prodml and MLflow runs of each workload."
    )
    lines += [
        "",
        f"Tracking a fit with prodml added {' and '.join(added_p)} ms to the plain fit "
        f"({' and '.join(WORKLOADS)}); tracking it with MLflow added {' and '.join(added_m)} ms, "
        f"of which {' and '.join(inferring)} ms went away when the pip requirements were given "
        "rather than inferred.",
    ]
    return lines


def body(results: Results) -> list[str]:
    """The section after its command line: the timings and the findings."""
    return [
        "",
        *fit_table(results),
        "",
        "Cold start of each command line (one warm-up run, then 5):",
        "",
        *cli_table(results),
        "",
        *findings(results),
        "",
    ]


REPORT = Report(
    title=TITLE, intro=INTRO, peer="mlflow", label="MLflow", versions=VERSIONS, body=body
)


def main() -> None:
    REPORT.main(__doc__)


if __name__ == "__main__":
    main()
