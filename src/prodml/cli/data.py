"""``prodml data``: anomalies against a run's schema, the split, labelers' agreement, diffs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli.render import Column, FittedTable, console, fmt, print_json
from prodml.cli.render import errors as stderr
from prodml.cli.shell import JsonOption, ProjectOption, WideOption, reporting
from prodml.data import SPLIT_NAMES

if TYPE_CHECKING:  # the profile's module loads numpy and pandas: only when a command runs
    from prodml.data.profile import CategoricalProfile, NumericProfile

app = typer.Typer(
    help="The data side: anomalies, the split, labelers' agreement and HLP, data set diffs.",
    epilog="Examples:  prodml data validate new.csv    prodml data split    "
    "prodml data labels labels.csv    prodml data diff 3f2a 9c1b",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.command(
    epilog="Examples:  prodml data validate data/new.csv    "
    "prodml data validate x.parquet --run 3f2a --json"
)
def validate(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file of inputs.")],
    project: ProjectOption = Path("."),
    run: Annotated[
        str | None, typer.Option(help="Whose schema.", show_default="the newest fit or search")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Check a file against the input schema a run inferred from its training data.

    Reports missing or extra columns, wrong types, missing values where training had none
    (errors), a jump in missing values and values outside the training range (warnings),
    each with the rows affected. Categories never seen in training get the server's
    verdict: an error while serve.unseen is reject (the server refuses them), a warning
    when it is predict. Exit code 1 when there are errors, 0 with warnings only.
    """
    with reporting():
        checked, anomalies = prodml.Project(project, migrate=False).validate(file, run)
    errors = [a for a in anomalies if a.severity == "error"]
    if json:
        print_json({"run": checked.id, "anomalies": [_anomaly(a) for a in anomalies]})
    elif not anomalies:
        console.print(
            f"[green]No anomalies[/] in {escape(str(file))} (schema of run {checked.id})."
        )
    else:
        table = Table(
            title=f"Anomalies against the schema of run {checked.id}", title_justify="left"
        )
        for column in ("severity", "column", "kind", "rows", "examples", "what"):
            table.add_column(column, overflow="fold")
        for a in anomalies:
            colour = "red" if a.severity == "error" else "yellow"
            examples = ", ".join(map(str, a.rows[:5]))
            table.add_row(
                f"[{colour}]{a.severity}[/]",
                escape(a.column),
                a.kind,
                f"{a.count:,}",
                escape(examples),
                escape(a.message),
            )
        console.print(table)
        console.print(f"{len(errors)} errors, {len(anomalies) - len(errors)} warnings")
    raise typer.Exit(1 if errors else 0)


@app.command(epilog="Examples:  prodml data split    prodml data split --json")
def split(project: ProjectOption = Path("."), json: JsonOption = False) -> None:
    """Rows per split (train, dev, test) by label and by each metadata column, and the cells
    too small to measure (the balanced split fixes those)."""
    with reporting():
        report = prodml.Project(project, migrate=False).split_report()
    if json:
        print_json(report)
        return
    sizes = report["sizes"]
    console.print(
        f"Split by {report['method']}: "
        + ", ".join(f"{name} {sizes[name]:,}" for name in SPLIT_NAMES)
    )
    console.print(_counts("By label", report["by_label"]))
    for column, rows in report["by_slice"].items():
        console.print(_counts(f"By {column} and label", rows))
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


@app.command(
    epilog="Examples:  prodml data labels labels.csv    prodml data labels --dawid-skene    "
    "prodml data labels labels.csv --json"
)
def labels(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="One row per label given: example, labeler, label.", show_default="labels.file"
        ),
    ] = None,
    project: ProjectOption = Path("."),
    dawid_skene: Annotated[
        bool, typer.Option("--dawid-skene", help="Also estimate labels and labelers by EM.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(help="Write every example's consensus label here (.csv or .parquet)."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """How consistently people label: agreement (raw, Cohen's kappa, Fleiss' kappa,
    Krippendorff's alpha), the most confused classes, each labeler against the others,
    the most disputed examples (for a discussion among labelers), consensus labels and
    human-level performance (against the data's target where it has the example), also
    by each value of each data.metadata column.

    Labels are standardised first with labels.standardise in prodml.yaml (merge "deep
    scratch" and "shallow scratch" into "scratch"); spelling variants collapse.
    """
    with reporting():
        found = prodml.Project(project, migrate=False).labels(file, dawid_skene)
        written = None if output is None else found.write_consensus(output)
    report = found.to_dict()
    if json:
        print_json(report)
    else:
        show_labels(report)
    if written is not None:
        where = f"Consensus labels of {written:,} examples written to {escape(str(output))}"
        (stderr if json else console).print(where)


def show_labels(report: Mapping[str, Any]) -> None:
    """The label report in the terminal (also a step of ``prodml demo``)."""
    counts = report["counts"]
    console.print(
        f"{counts['labels']:,} labels on {counts['examples']:,} examples by "
        f"{counts['labelers']} labelers; classes: {escape(', '.join(map(str, counts['classes'])))}"
    )
    agreement = Table(title="Agreement", title_justify="left")
    for column in ("coefficient", "value", "note"):
        agreement.add_column(column, overflow="fold")
    for name, value in report["agreement"].items():
        agreement.add_row(name, fmt(value["value"]), escape(value["note"]))
    console.print(agreement)
    console.print(
        _rows_table(
            "Most confused classes",
            report["confused_pairs"][:5],
            ("classes", "coincidences", "share", "examples"),
        )
    )
    console.print(
        _rows_table(
            "Labelers: agreement with the others' consensus, accuracy against the target, HLP",
            [{**row, "hlp": row["hlp"]["value"]} for row in report["labelers"]],
            ("labeler", "labels", "consensus_agreement", "truth_accuracy", "hlp"),
        )
    )
    hlp = report["hlp"]
    console.print(
        f"Human-level performance: [bold]{fmt(hlp['value'])}[/] (against {hlp['against']}, "
        f"{hlp['labels']:,} labels)"
    )
    if hlp.get("slices"):
        console.print(
            _rows_table("HLP by slice", hlp["slices"], ("slice", "value", "labels", "against"))
        )
    disputed = [
        {**d, "labels": ", ".join(f"{who}: {said}" for who, said in d["by_labeler"].items())}
        for d in report["disputed"][:10]
    ]
    console.print(
        _rows_table(
            "Most disputed examples (to discuss among labelers)",
            disputed,
            ("example", "disagreement", "majority", "labels"),
        )
    )
    consensus = report["consensus"]
    shown = min(len(consensus), 10)
    console.print(
        _rows_table(
            f"Consensus labels (the first {shown} of {len(consensus):,}; --output writes all)",
            consensus[:shown],
            ("example", "label", "votes", "labels", "tie", "dawid_skene")
            if report["dawid_skene"]
            else ("example", "label", "votes", "labels", "tie"),
        )
    )


@app.command(
    epilog="Examples:  prodml data profile data/loans.parquet    "
    "prodml data profile big.csv --chunk-rows 50000 --json"
)
def profile(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file.")],
    column: Annotated[
        list[str] | None,
        typer.Option(help="Profile only this column (repeat for more).", show_default="all"),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(help="Rows read at a time: what memory holds.", min=1)
    ] = 100_000,
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Profile a file in one streaming pass, in bounded memory whatever its size: per
    column its kind, missing values, range, mean and standard deviation, or its most
    frequent values; what prodml saves as a model's reference profile. The JSON leaves
    out the row sample the profile keeps for drift tests."""
    from prodml.data.profile import profile_file

    with reporting():
        found = profile_file(file, chunk_rows, column or None)
    if json:
        raw = found.to_dict()
        columns = {
            name: {k: v for k, v in profiled.items() if k != "sample"}
            for name, profiled in raw["columns"].items()
        }
        print_json({**raw, "columns": columns})
        return
    table = FittedTable(
        [
            Column("column"),
            Column("kind", "id", drop=1),
            Column("missing", "number"),
            Column("values"),
        ],
        title=f"Profile of {escape(str(file))} ({found.rows:,} rows)",
    )
    for name, profiled in found.columns.items():
        missing = f"{profiled.missing / found.rows:.1%}"
        table.add_row(escape(name), profiled.kind, missing, escape(_values(profiled)))
    table.print(wide)


def _values(profiled: NumericProfile | CategoricalProfile) -> str:
    """A column's values in a phrase: the range, mean and deviation, or the top three."""
    from prodml.data.profile import CategoricalProfile

    if isinstance(profiled, CategoricalProfile):
        top = list(profiled.shares().items())[:3]
        more = len(profiled.counts) - len(top) + (profiled.other > 0)
        listed = ", ".join(f"{value} {share:.0%}" for value, share in top)
        return listed + (f" (+{more} more)" if more > 0 else "")
    if profiled.kind == "datetime":
        return f"{_instant(profiled.min)} to {_instant(profiled.max)}"
    return (
        f"{fmt(profiled.min)} to {fmt(profiled.max)}, mean {fmt(profiled.mean)} "
        f"(sd {fmt(profiled.std)})"
    )


def _instant(seconds: float) -> str:
    """A datetime profile's number (seconds since 1970 UTC) as ISO 8601 text."""
    if math.isnan(seconds):
        return "-"
    return str(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))


@app.command(
    epilog="Examples:  prodml data diff 3f2a 9c1b    prodml data diff RUN FINGERPRINT --json"
)
def diff(
    first: Annotated[str, typer.Argument(help="A run id, or a data fingerprint (prefix).")],
    second: Annotated[str, typer.Argument(help="Another run id or fingerprint.")],
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """What changed from one recorded data set (A) to another (B): columns added, removed
    or retyped, categories added and removed, and each column's drift by the monitor's
    rule (a two-sample test and an effect large enough to matter). Numbers are tested on
    the rows, so while a data set's source still holds them."""
    with reporting():
        found = prodml.Project(project, migrate=False).data_diff(first, second)
    if json:
        print_json(found)
        return
    a, b = found["a"], found["b"]
    same = "same schema" if found["same_schema"] else "[yellow]schemas differ[/]"
    console.print(
        f"A {a['fingerprint'][:12]} ({escape(a['source'])}, {a['rows']:,} rows) vs "
        f"B {b['fingerprint'][:12]} ({escape(b['source'])}, {b['rows']:,} rows): {same}"
    )
    columns = found["columns"]
    for change in ("added", "removed"):
        if columns[change]:
            console.print(f"columns {change} in B: {escape(', '.join(columns[change]))}")
    for retyped in columns["retyped"]:
        console.print(
            f"column {escape(retyped['column'])} retyped: {retyped['a']} in A, {retyped['b']} in B"
        )
    for change in found["categories"]:
        parts = [
            f"{verb} {escape(', '.join(change[key]))}"
            for verb, key in (("added", "added"), ("removed", "removed"))
            if change[key]
        ]
        console.print(f"column {escape(change['column'])}: categories {'; '.join(parts)}")
    if found["drift"] is not None:
        _drift_table(found).print()
    for name, why in found["untested"].items():
        if why != "retyped":
            console.print(f"[yellow]not tested:[/] {escape(name)}: {escape(why)}")


def _drift_table(found: Mapping[str, Any]) -> FittedTable:
    """Per column tested: a summary of A and B, the test, its statistic and p-value."""
    drift = found["drift"]
    left = {c["name"]: c for c in found["a"]["schema"].get("columns", [])}
    right = {c["name"]: c for c in found["b"]["schema"].get("columns", [])}
    table = FittedTable(
        [
            Column("column"),
            Column("A", "number", drop=2),
            Column("B", "number", drop=2),
            Column("test", "id", drop=1),
            Column("statistic", "number"),
            Column("p (adjusted)", "number"),
            Column("drifted", "id"),
        ],
        title=f"Drift from A to B by column ({drift['share']:.0%} of the columns tested)",
        caption="A, B: the median, or the number of categories",
    )
    for name, score in drift["scores"].items():
        drifted = "[yellow]yes[/]" if score["drifted"] else "no"
        table.add_row(
            escape(name),
            _summary(left[name]),
            _summary(right[name]),
            score["method"],
            fmt(score["score"]),
            fmt(score["p_adjusted"]),
            drifted,
            style="yellow" if score["drifted"] else None,
        )
    return table


def _summary(column: Mapping[str, Any]) -> str:
    categories = column.get("categories")
    if categories is not None:
        return f"{len(categories)} values"
    return fmt((column.get("quantiles") or {}).get("p50"))


def _counts(title: str, rows: Sequence[Mapping[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    keys = [k for k in rows[0] if k not in SPLIT_NAMES] if rows else []
    for key in (*keys, *SPLIT_NAMES):
        table.add_column(escape(key), justify="left" if key in keys else "right")
    for row in rows:
        table.add_row(*(escape(str(row[k])) for k in keys), *(f"{row[s]:,}" for s in SPLIT_NAMES))
    return table


def _rows_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return escape(" vs ".join(map(str, value)))
    return fmt(value)


def _anomaly(a: Any) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "column": a.column,
        "severity": a.severity,
        "count": a.count,
        "rows": [str(r) for r in a.rows],
        "message": a.message,
    }
