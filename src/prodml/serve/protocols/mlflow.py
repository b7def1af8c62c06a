"""The MLflow scoring protocol (``/invocations``, ``/ping``, ``/health``), as
``shared/specs/mlflow-invocations.md`` says: clients written for ``mlflow models serve``
work unchanged against the server's first endpoint. Another endpoint is chosen by the
header ``X-Prodml-Endpoint`` or by ``"params": {"endpoint": ...}`` in a JSON body (the
two, when both given, must agree); ``"params": {"time": "2026-01-31T12:00:00Z"}`` gives
the time of the event all the rows are about (:mod:`prodml.serve.event_time`); the rest
of ``params`` is ignored.

JSON bodies take exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``
or ``inputs`` (and an optional ``params`` object); ``text/csv`` bodies have a
header row and at least one row under it. Where a form names fields (objects of
``dataframe_records`` and ``instances``, ``dataframe_split``'s ``columns``, ``inputs`` by
column, the CSV header), the project's ``data.metadata`` fields may come beside the
inputs: logged with each row, never given to the model (:mod:`prodml.serve.metadata`).
The answer is ``{"predictions": [...]}``:
labels, or values for a regressor. Each row's request id is in the header
``X-Request-Ids`` (comma-separated, for up to 1,000 rows: longer headers break common
clients; use ``/predict`` for ids of more), and who decided each (model or person: the
endpoint's automation, :mod:`prodml.serve.deferral`) in ``X-Prodml-Decided-By``; a row a
person decides at level ``human`` answers null.
Errors are ``{"error_code", "message"}``: ``BAD_REQUEST`` with 400 for any mistake in the
input (including rows that do not fit the schema), and the status of
:mod:`prodml.serve.rejection` otherwise.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from prodml.errors import did_you_mean, listing
from prodml.serve import sticky
from prodml.serve.event_time import PARAMETER
from prodml.serve.http import (
    JSON,
    RECORD,
    Body,
    Call,
    Route,
    Schema,
    json_response,
    media_type,
    parse_json,
    read_body,
    require_list,
    require_object,
)
from prodml.serve.metadata import Carried, at_time
from prodml.serve.predictor import Predictor
from prodml.serve.rejection import Rejected, shown
from prodml.serve.request_ids import new_ids
from prodml.serve.validation import Row, combined

if TYPE_CHECKING:
    from prodml.serve.service import Service

CSV = "text/csv"
#: The header that names the endpoint a request is for.
ENDPOINT_HEADER = "X-Prodml-Endpoint"
#: A body's rows, checked, and the metadata they carry beside the inputs.
Checked = tuple[list[Row], Carried | None]
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
MAX_ID_HEADER_ROWS = 1000
_CODES = {404: "RESOURCE_DOES_NOT_EXIST", 500: "INTERNAL_ERROR", 503: "TEMPORARILY_UNAVAILABLE"}


def error(rejected: Rejected) -> Response:
    status = 400 if rejected.status == 422 else rejected.status
    code = _CODES.get(status, "BAD_REQUEST")
    return json_response({"error_code": code, "message": rejected.message}, status)


async def invocations(request: Request, service: Service, call: Call) -> Response:
    with service.arrival():
        kind = _content_type(request)
        body = await read_body(request, service.options.max_body)
        table = _csv_table(body) if kind == CSV else _json_table(body)
        endpoint = _endpoint(request.headers.get(ENDPOINT_HEADER), table.endpoint)
        key = sticky.key(request, service.options, table.first)
        predictor = service.predictor(endpoint, key=key)
        call.answered_by(predictor)
        rows, carried = table.rows(predictor)
        if table.time is not None:
            carried = at_time(carried, table.time, len(rows), '"params.time"')
        ids = new_ids(len(rows))
        pending = service.submit(predictor, rows, ids, call.started, carried)
    answer = await pending
    column = "labels" if answer.predictions.labels is not None else "values"
    headers = answer.headers()
    if 0 < len(ids) <= MAX_ID_HEADER_ROWS:
        headers["X-Request-Ids"] = ",".join(ids)
    return json_response({"predictions": answer.given(column)}, headers=headers)


async def ping(request: Request, service: Service, call: Call) -> Response:
    if not service.ready:
        raise Rejected(503, "the model is not loaded yet; retry in a moment")
    return Response(b"\n", 200, media_type=JSON)


def _endpoint(header: str | None, param: Any) -> str | None:
    """The endpoint a request names by its header or ``params.endpoint``; None for the
    first.

    >>> _endpoint(None, "loans"), _endpoint("loans", "loans"), _endpoint(None, None)
    ('loans', 'loans', None)
    """
    if param is not None and type(param) is not str:
        raise Rejected(
            400, f'"params.endpoint" is {shown(param)}; give an endpoint\'s name as text', "params"
        )
    if header is not None and param is not None and header != param:
        raise Rejected(
            400,
            f'the header {ENDPOINT_HEADER} names {shown(header)} but "params.endpoint" '
            f"{shown(param)}; name the endpoint once, or twice alike",
            "params",
        )
    return header if header is not None else param


def _content_type(request: Request) -> str:
    kind, parameters = media_type(request)
    if kind not in (JSON, CSV):
        shown = "no Content-Type" if kind is None else f"Content-Type {kind}"
        raise Rejected(415, f"{shown} is not read here; send {JSON} or {CSV}")
    for key, value in parameters.items():
        if key != "charset":
            raise Rejected(415, f"the Content-Type parameter {key} is not supported; drop it")
        if value.lower() not in ("utf-8", "utf8"):
            raise Rejected(415, f"charset {value} is not supported; send utf-8")
    return kind


@dataclass(frozen=True)
class _Table:
    """A body read, before a model checks it: ``first(field)``, the value of a field in
    its first row, for the sticky key (None where the body names no fields); ``rows``, its
    rows checked by the predictor routing chose, and the metadata they carry."""

    first: Callable[[str], Any]
    rows: Callable[[Predictor], Checked]
    endpoint: Any = None  # what "params.endpoint" holds, if given
    time: Any = None  # what "params.time" holds, if given


def _json_table(body: bytes) -> _Table:
    """A JSON body: its one form (of FORMATS) and what that holds."""
    example = '{"dataframe_records": [{...}]}'
    data = require_object(parse_json(body), "the body", example)
    keys = [key for key in data if key != "params"]
    if len(keys) != 1 or keys[0] not in FORMATS:
        unknown = [k for k in keys if k not in FORMATS]
        found = f"has keys {listing(keys)}" if keys else "has no input key"
        hint = did_you_mean(unknown[0], FORMATS) if unknown else ""
        raise Rejected(400, f"the body {found}; it needs exactly one of {listing(FORMATS)}{hint}")
    params = {}
    if "params" in data:
        params = require_object(data["params"], '"params"', '{"endpoint": "loans"}')
    form, value = keys[0], data[keys[0]]
    return _Table(
        partial(_json_first, form, value),
        partial(_json_rows, form, value),
        params.get("endpoint"),
        params.get(PARAMETER),
    )


def _json_first(key: str, value: Any, field: str) -> Any:
    """The value of ``field`` in the first row of a JSON body of form ``key``, where the
    form names fields (see :mod:`prodml.serve.sticky`); None where it does not."""
    if key == "dataframe_split" and type(value) is dict:
        columns, data = value.get("columns"), value.get("data")
        if type(columns) is not list or field not in columns:
            return None
        row = data[0] if type(data) is list and data and type(data[0]) is list else []
        at = columns.index(field)
        return row[at] if at < len(row) else None
    if key == "inputs" and type(value) is dict:
        column = value.get(field)
        return column[0] if type(column) is list and column else column
    return sticky.in_first(value, field)


def _json_rows(key: str, value: Any, predictor: Predictor) -> Checked:
    checker, fields = predictor.checker, predictor.metadata
    if key == "dataframe_split":
        return _split_rows(value, predictor)
    if key == "dataframe_records":
        records = require_list(value, f'"{key}"')
        return checker.records(records), fields.records(records)
    if key == "inputs" and type(value) is dict:
        rows = _columns_rows(value, predictor)
        return rows, fields.columns(value, len(rows), '"inputs"')
    given = require_list(value, f'"{key}"')
    return checker.rows(given), fields.records(given)


def _split_rows(value: Any, predictor: Predictor) -> Checked:
    example = '{"columns": ["a", "b"], "data": [[1, 2]]}'
    split = require_object(value, '"dataframe_split"', example)
    data = require_list(split.get("data"), '"dataframe_split.data"')
    checker = predictor.checker
    if "columns" not in split:  # pandas' orient="split" without names: the training order
        return checker.rows(data), None
    columns = require_list(split["columns"], '"dataframe_split.columns"')
    for j, column in enumerate(columns):
        if type(column) is not str:
            raise Rejected(
                400,
                f"dataframe_split.columns[{j}] is {shown(column)}; columns are the names of "
                'fields, as text: {"columns": ["a", "b"], ...}',
            )
    records = []
    for i, row in enumerate(data):
        if type(row) is not list or len(row) != len(columns):
            size = f"{len(row)} values" if type(row) is list else "not a list"
            raise Rejected(
                400, f"dataframe_split.data row {i} is {size}; columns names {len(columns)}"
            )
        records.append(dict(zip(columns, row, strict=True)))
    return checker.rows(records), predictor.metadata.records(records)


def _columns_rows(columns: dict[str, Any], predictor: Predictor) -> list[Row]:
    """``{"a": [1, 3], "b": [2, 4]}``: a list of values a column; a refusal names every
    missing column and bad value."""
    checker = predictor.checker
    given: list[list[Any]] = []
    problems: list[Rejected] = []
    for position, name in enumerate(checker.names):
        if name not in columns:
            problems.append(checker.missing_field(name, 0, columns))
            continue
        values = columns[name]
        given.append(values if type(values) is list else [values])  # one row, as scalars
        problems += checker.column_problems(position, given[-1])
    if problems:
        raise combined(problems)
    lengths = {len(values) for values in given}
    checked = [checker.column(position, values) for position, values in enumerate(given)]
    if len(lengths) > 1:
        raise Rejected(400, f'the columns of "inputs" have different lengths: {sorted(lengths)}')
    return list(zip(*checked, strict=True))


def _csv_table(body: bytes) -> _Table:
    """A CSV body: its header, and its rows of cells (blank lines left out) with their
    numbers; 400 for a body that is not such a table."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Rejected(400, f"the CSV body is not UTF-8 text: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if not header:
            raise Rejected(400, "the CSV body has no header row; its first line names the columns")
        rows = []
        for i, cells in enumerate(reader):
            if not cells:
                continue  # a blank line
            if len(cells) != len(header):
                raise Rejected(
                    400, f"CSV row {i} has {len(cells)} cells but the header names {len(header)}"
                )
            rows.append((i, cells))
    except csv.Error as exc:
        raise Rejected(400, f"the CSV body is malformed: {exc}") from None
    if not rows:
        raise Rejected(
            400, "the CSV body has a header and no rows; send one row a line after the header"
        )
    return _Table(partial(_csv_first, header, rows), partial(_csv_rows, header, rows))


def _csv_first(header: list[str], rows: list[tuple[int, list[str]]], field: str) -> str | None:
    """The cell of column ``field`` in the first row (see :mod:`prodml.serve.sticky`)."""
    return rows[0][1][header.index(field)] if field in header else None


def _csv_rows(
    header: list[str], rows: list[tuple[int, list[str]]], predictor: Predictor
) -> Checked:
    records = [dict(zip(header, cells, strict=True)) for _, cells in rows]
    checked = predictor.checker.rows(records, True, [i for i, _ in rows])
    return checked, predictor.metadata.records(records, text=True)


_ROW: Schema = {"oneOf": [RECORD, {"type": "array", "description": "in the training order"}]}
_FORMS: dict[str, Schema] = {
    "dataframe_split": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "data": {"type": "array", "items": {"type": "array"}},
        },
    },
    "dataframe_records": {"type": "array", "items": RECORD},
    "instances": {"type": "array", "items": _ROW},
    "inputs": {
        "oneOf": [
            {"type": "object", "description": "field: list of values"},
            {"type": "array", "items": _ROW},
        ]
    },
}
_JSON_BODY: Schema = {
    "oneOf": [
        {
            "type": "object",
            "required": [form],
            "properties": {form: schema, "params": {"type": "object"}},
            "additionalProperties": False,
        }
        for form, schema in _FORMS.items()
    ]
}


def _csv_example(record: dict[str, Any]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(record)
    writer.writerow("" if value is None else value for value in record.values())
    return text.getvalue()


_LOADED = (200, 503)
ROUTES = [
    Route(
        "POST",
        "/invocations",
        "mlflow",
        invocations,
        "MLflow scoring: labels (or values) of a data frame sent as JSON or CSV",
        body={
            JSON: Body(_JSON_BODY, lambda record: {"dataframe_records": [record]}),
            CSV: Body({"type": "string", "description": "a header row, then rows"}, _csv_example),
        },
        answers=(200, 400, 404, 413, 415, 500, 503),
        predicts=True,
        reply={
            JSON: {
                "type": "object",
                "required": ["predictions"],
                "properties": {
                    "predictions": {
                        "type": "array",
                        "description": "null for a row a person decides at level human",
                    }
                },
            }
        },
    ),
    Route("GET", "/ping", "mlflow", ping, "MLflow: 200 once the model is loaded", None, _LOADED),
    Route("GET", "/health", "mlflow", ping, "MLflow: 200 once the model is loaded", None, _LOADED),
]
