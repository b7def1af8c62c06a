"""``prodml review list / next / answer / export / import``: the predictions a person
decides, one reviewer at a time an item."""

from __future__ import annotations

import json as json_module
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.render import console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting
from prodml.errors import DataError, NotFoundError, ReviewError

if TYPE_CHECKING:
    from prodml.store.review import ReviewItem

review_app = typer.Typer(
    help="The review queue: predictions the model deferred to a person (below its "
    "confidence threshold), a sample of its own decisions kept for an unbiased audit, and "
    "the fallback rule's answers. Each item is leased to one reviewer at a time; an answer "
    "becomes the request's feedback.",
    epilog="Examples:  prodml review list    prodml review next    "
    "prodml review answer 0193f2c1 1 --note 'income verified'",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(review_app, name="review")

EndpointFilter = Annotated[
    str | None, typer.Option("--endpoint", help="Only this endpoint's items.", show_default="all")
]
Reviewer = Annotated[
    str | None,
    typer.Option("--as", help="Who answers (recorded with the answer).", show_default="OS user"),
]


@review_app.command("list", epilog="Examples:  prodml review list    prodml review list --all")
def list_items(
    endpoint: EndpointFilter = None,
    every: Annotated[bool, typer.Option("--all", help="Answered items too.")] = False,
    limit: Annotated[int, typer.Option(help="How many items at most.")] = 50,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Open items, highest priority first: why each is here, the model's suggestion,
    answers given of those asked, age and who holds it."""
    with reporting():
        opened = prodml.Project(project, migrate=False)
        found = opened.review_queue.items(endpoint, open_only=not every, limit=limit)
    if json:
        print_json([asdict(item) for item in found])
        return
    if not found:
        console.print("The review queue is empty.")
        return
    from prodml.store.runs import utc_now

    now = utc_now()
    table = Table(title_justify="left")
    for column in ("request", "endpoint", "reason", "suggestion", "answers", "age", "held by"):
        table.add_column(column, overflow="fold")
    for item in found:
        table.add_row(
            item.request_id,  # whole: a UUIDv7 begins with its time, alike for a batch
            escape(item.endpoint),
            item.reason,
            _suggestion(item),
            f"{item.answers_given}/{item.answers_needed}",
            _age(item.age_seconds(now)),
            fmt(item.leased_by),
        )
    console.print(table)


@review_app.command("next", epilog="Examples:  prodml review next    prodml review next --as ana")
def next_item(
    endpoint: EndpointFilter = None,
    reviewer: Reviewer = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Take the open item of highest priority: it is yours for 10 minutes (nobody else is
    given it meanwhile). Shows its inputs and the model's suggestion, if the level shows
    one."""
    from prodml.deploy.changes import who

    with reporting():
        item = prodml.Project(project).review_queue.next(reviewer or who(), endpoint)
    if json:
        print_json(None if item is None else asdict(item))
        return
    if item is None:
        console.print("Nothing to review: every item is answered or held by someone.")
        return
    table = Table("field", "value", title=f"request {item.request_id}", title_justify="left")
    for name, value in item.inputs.items():
        table.add_row(escape(name), escape(fmt(value)))
    console.print(table)
    console.print(f"why: {item.reason}; the model suggests: {_suggestion(item)}")
    console.print(f"answer: [bold]prodml review answer {item.request_id} LABEL[/]")


@review_app.command(
    "answer", epilog="Examples:  prodml review answer 0193f2c1d2 1 --note 'income verified'"
)
def answer(
    request_id: Annotated[str, typer.Argument(help="The item's request id (from next).")],
    label: Annotated[str, typer.Argument(help="The right answer: one of the model's classes.")],
    note: Annotated[str | None, typer.Option(help="Why, for the record.")] = None,
    reviewer: Reviewer = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Answer an item you hold (prodml review next). Once it has the answers it asks for,
    the most common becomes the request's feedback."""
    from prodml.deploy.changes import who

    with reporting():
        queue = prodml.Project(project).review_queue
        done = queue.answer(request_id, reviewer or who(), label, note)
    if json:
        print_json(asdict(done))
        return
    state = "done: stored as feedback" if done.done_at else "more answers asked"
    console.print(
        f"Answered {done.request_id} ({done.answers_given}/{done.answers_needed}, {state})."
    )


@review_app.command("export", epilog="Examples:  prodml review export tasks.json --endpoint loans")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the Label Studio tasks (JSON).")],
    endpoint: EndpointFilter = None,
    project: ProjectOption = Path("."),
) -> None:
    """Write the open items as Label Studio tasks (the suggestion as a pre-annotation)
    and print a labeling interface for them."""
    from prodml.automation.label_studio import labeling_config, to_tasks

    with reporting():
        queue = prodml.Project(project, migrate=False).review_queue
        items = queue.items(endpoint, limit=1_000_000)
        tasks = to_tasks([{**asdict(i), "model": f"{i.endpoint}:{i.model_version}"} for i in items])
        file.write_text(json_module.dumps(tasks, indent=1, default=str), encoding="utf-8")
        classes = next((c for i in items if (c := queue.classes(i))), ())
        fields = list(items[0].inputs) if items else []
    console.print(
        f"Wrote {len(tasks):,} tasks to [bold]{escape(str(file))}[/]. A labeling interface:"
    )
    print(labeling_config(classes, fields))


@review_app.command("import", epilog="Examples:  prodml review import project-1-export.json")
def import_answers(
    file: Annotated[Path, typer.Argument(help="A Label Studio export, JSON.")],
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--as", help="Record every answer as made by this name.", show_default="label-studio:ID"
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Store the answers of a Label Studio export of tasks that prodml review export
    made: each annotation's first choice, as an answer of its annotator."""
    from prodml.automation.label_studio import answers

    with reporting():
        try:
            export = json_module.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(
                f"cannot read {file} as JSON ({exc}); give a Label Studio JSON export"
            ) from None
        queue = prodml.Project(project).review_queue
        stored = skipped = 0
        for given in answers(export, reviewer):
            try:
                queue.answer(
                    given.request_id, given.reviewer, given.label, given.note, leased=False
                )
            except (ReviewError, NotFoundError):  # answered already, or never queued here
                skipped += 1
                continue
            stored += 1
    console.print(
        f"Stored {stored:,} answers; skipped {skipped:,} (items no longer open or not in "
        "this store, or answered already by that reviewer)."
    )


def _suggestion(item: ReviewItem) -> str:
    if item.suggestion is None:
        return "-"
    confidence = item.suggestion.get("confidence")
    shown = escape(str(item.suggestion.get("label")))
    return shown if confidence is None else f"{shown} ({confidence:.2f})"


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
