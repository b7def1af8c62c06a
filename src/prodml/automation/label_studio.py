"""The review queue as Label Studio tasks, and Label Studio's answers back.

Export: one task per open item in Label Studio's JSON task format, the inputs under
``data`` (with the request id, so an answer finds its way back) and, when the item shows
one, the model's suggestion as a pre-annotation (``predictions``: a ``choices`` result
with the confidence as its ``score``). :func:`labeling_config` is a minimal labeling
interface for them: the inputs as a table, one choice per class.

Import: a Label Studio export (a JSON list of tasks with ``annotations``) gives one answer
per annotation that was not cancelled: its first choice, by ``completed_by`` (or the
name given).

>>> tasks = to_tasks([{"request_id": "r1", "inputs": {"income": 41000.0},
...     "suggestion": {"label": 1, "confidence": 0.62}, "model": "loans:1"}])
>>> tasks[0]["data"]["request_id"], tasks[0]["predictions"][0]["score"]
('r1', 0.62)
>>> done = [{**tasks[0], "annotations": [{"completed_by": 7, "was_cancelled": False,
...     "result": [{"from_name": "label", "type": "choices", "value": {"choices": ["0"]}}]}]}]
>>> answers(done)
[Answer(request_id='r1', reviewer='label-studio:7', label='0', note=None)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from prodml.errors import DataError

#: The names the tasks and the labeling config share.
CHOICES, ITEM = "label", "inputs"


@dataclass(frozen=True)
class Answer:
    """One person's label for one request, from Label Studio."""

    request_id: str
    reviewer: str
    label: str
    note: str | None


def to_tasks(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio tasks for review ``items`` (each with request_id, inputs, and
    suggestion and model when it shows a suggestion)."""
    tasks = []
    for item in items:
        task: dict[str, Any] = {"data": {**item["inputs"], "request_id": item["request_id"]}}
        suggestion = item.get("suggestion")
        if suggestion:
            result = {
                "from_name": CHOICES,
                "to_name": ITEM,
                "type": "choices",
                "value": {"choices": [str(suggestion["label"])]},
            }
            task["predictions"] = [
                {
                    "model_version": item.get("model", ""),
                    "score": suggestion.get("confidence"),
                    "result": [result],
                }
            ]
        tasks.append(task)
    return tasks


def labeling_config(classes: Sequence[Any], fields: Sequence[str]) -> str:
    """A minimal Label Studio labeling interface: the inputs' ``fields``, then one
    choice per class."""
    shown = "\n".join(
        f"  <Text name={quoteattr(f'f{i}')} value={quoteattr(f'{name}: ${name}')}/>"
        for i, name in enumerate(fields)
    )
    choices = "\n".join(f"    <Choice value={quoteattr(str(c))}/>" for c in classes)
    return (
        f'<View>\n  <Header value="request $request_id"/>\n{shown}\n'
        f'  <Choices name="{CHOICES}" toName="f0" choice="single">\n{choices}\n'
        "  </Choices>\n</View>\n"
    )


def answers(export: Any, reviewer: str | None = None) -> list[Answer]:
    """The answers in a Label Studio export: each annotation not cancelled, its first
    choice; the reviewer is ``reviewer`` when given, else ``label-studio:`` and the
    annotation's ``completed_by``."""
    if not isinstance(export, list):
        raise DataError(
            "a Label Studio export is a JSON list of tasks; export the project as JSON "
            "(not JSON-MIN or CSV) and import that file"
        )
    found = []
    for index, task in enumerate(export):
        request_id = (task.get("data") or {}).get("request_id") if isinstance(task, dict) else None
        if not isinstance(request_id, str):
            raise DataError(
                f"task {index} has no data.request_id; import tasks that prodml review export made"
            )
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            label = _choice(annotation.get("result") or [])
            if label is None:
                continue
            who = reviewer or f"label-studio:{annotation.get('completed_by', 'unknown')}"
            found.append(Answer(request_id, who, label, _note(annotation)))
    return found


def _choice(result: Sequence[Mapping[str, Any]]) -> str | None:
    for region in result:
        chosen = (region.get("value") or {}).get("choices")
        if region.get("type") == "choices" and chosen:
            return str(chosen[0])
    return None


def _note(annotation: Mapping[str, Any]) -> str | None:
    """A textarea's text, when the annotation has one."""
    for region in annotation.get("result") or []:
        text = (region.get("value") or {}).get("text")
        if region.get("type") == "textarea" and text:
            return str(text[0] if isinstance(text, list) else text)
    return None
