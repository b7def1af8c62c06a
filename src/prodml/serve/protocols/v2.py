"""The Open Inference Protocol (V2) over REST, as ``shared/specs/open-inference-v2.md``
says: what KServe, Seldon MLServer and Triton's ``tritonclient[http]`` speak.

A model takes one input tensor a column (shape ``[batch]``, named as the column) or one
2-D tensor ``[batch, n_features]`` in the training column order; ``BYTES`` tensors hold
text (a number column parses it). Outputs: ``label`` (and ``probability``,
``[batch, n_classes]``, for a classifier with probabilities), or ``value`` for a
regressor. The request's ``id`` is echoed; each row's request id, a UUID the server makes
(a client's ids need not be unique, and feedback must find one prediction by its id), is
in the answer's ``parameters.request_ids``, comma-separated, and who decided each (model
or person: the endpoint's automation, :mod:`prodml.serve.deferral`) in
``parameters.decided_by`` and the header ``X-Prodml-Decided-By``; at level ``human`` a
person decides every row and the answer has no outputs.

Input tensors are the model's only (any other is refused), so the project's
``data.metadata`` fields go in the request's ``parameters``: ``{"gender": "female"}`` for
every row, or a list of one value a row; they are logged with the rows, never given to
the model (:mod:`prodml.serve.metadata`). ``"parameters": {"time": "2026-01-31T12:00:00Z"}``
gives the time of the event all the rows are about (:mod:`prodml.serve.event_time`).

The binary tensor extension is not supported: an input with ``binary_data_size`` or the
``Inference-Header-Content-Length`` header gets a 400 that says so. Asking for binary
*outputs* (tritonclient does when no outputs are named) is a preference, answered in JSON,
which those clients read as well.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as metadata_version
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from prodml.data.schema import Kind
from prodml.errors import did_you_mean, listing
from prodml.serve import sticky
from prodml.serve.event_time import PARAMETER
from prodml.serve.http import (
    JSON,
    Body,
    Call,
    Route,
    Schema,
    json_response,
    parse_json,
    read_body,
    require_list,
    require_object,
)
from prodml.serve.metadata import at_time
from prodml.serve.predictor import Predictor
from prodml.serve.rejection import Rejected, shown
from prodml.serve.request_ids import new_ids
from prodml.serve.validation import Row, combined

if TYPE_CHECKING:
    from prodml.serve.service import Answered, Service

_NUMBERS = {f"{t}{n}" for t in ("INT", "UINT") for n in (8, 16, 32, 64)} | {"FP32", "FP64"}
DATATYPES = {*_NUMBERS, "BOOL", "FP16", "BYTES"}
_ALLOWED: dict[Kind, set[str]] = {
    "number": _NUMBERS | {"BYTES"},
    "integer": _NUMBERS | {"BYTES"},
    "boolean": _NUMBERS | {"BOOL", "BYTES"},
    "category": {"BYTES"},
    "text": {"BYTES"},
    "datetime": {"BYTES"},
}
_DATATYPE: dict[Kind, str] = {
    "number": "FP64",
    "integer": "INT64",
    "boolean": "BOOL",
    "category": "BYTES",
    "text": "BYTES",
    "datetime": "BYTES",
}


def error(rejected: Rejected) -> Response:
    status = 400 if rejected.status == 422 else rejected.status
    return json_response({"error": rejected.message}, status)


async def server(request: Request, service: Service, call: Call) -> Response:
    return json_response({"name": "prodml", "version": server_version(), "extensions": []})


async def live(request: Request, service: Service, call: Call) -> Response:
    return json_response({"live": True})


async def ready(request: Request, service: Service, call: Call) -> Response:
    if not service.ready:
        raise Rejected(503, "no model is loaded yet; retry in a moment")
    return json_response({"ready": True})


async def model_ready(request: Request, service: Service, call: Call) -> Response:
    predictor = _predictor(request, service, call)
    return json_response({"name": predictor.served.endpoint, "ready": True})


async def metadata(request: Request, service: Service, call: Call) -> Response:
    predictor = _predictor(request, service, call)
    served = predictor.served
    inputs = [
        {"name": c.name, "datatype": _DATATYPE[c.kind], "shape": [-1]}
        for c in served.schema.columns
    ]
    return json_response(
        {
            "name": served.endpoint,
            "versions": [str(served.version)],
            "platform": "sklearn",
            "inputs": inputs,
            "outputs": _outputs(predictor),
        }
    )


async def infer(request: Request, service: Service, call: Call) -> Response:
    with service.arrival():
        if "inference-header-content-length" in request.headers:
            raise _binary()
        body = await read_body(request, service.options.max_body)
        data = require_object(parse_json(body), "the body", '{"inputs": [{...}]}')
        predictor = _predictor(request, service, call, partial(_first, data))
        request_id = data.get("id")
        if request_id is not None and type(request_id) is not str:
            raise Rejected(400, "id must be text", "id")
        if "parameters" in data:
            require_object(data["parameters"], '"parameters"', '{"key": "value"}')
        wanted = _wanted(data.get("outputs"), predictor)
        rows = _rows(data.get("inputs"), predictor)
        parameters = data.get("parameters") or {}
        carried = predictor.metadata.columns(parameters, len(rows), '"parameters"')
        if PARAMETER in parameters:
            given = parameters[PARAMETER]
            carried = at_time(carried, given, len(rows), '"parameters.time"')
        ids = new_ids(len(rows))
        pending = service.submit(predictor, rows, ids, call.started, carried)
    answer = await pending
    shown = all(answer.shown(i) for i in range(len(ids)))
    decided = [answer.decided_by(i) for i in range(len(ids))]
    reply: dict[str, Any] = {
        "model_name": answer.served.endpoint,
        "model_version": str(answer.served.version),
        "outputs": [_tensor(name, answer, predictor) for name in wanted] if shown else [],
        "parameters": {
            "request_ids": ",".join(ids),
            "role": predictor.role,
            "decided_by": ",".join(decided),
        },
    }
    if request_id is not None:
        reply["id"] = request_id
    return json_response(reply, headers=answer.headers())


def _predictor(
    request: Request, service: Service, call: Call, first: Callable[[str], Any] | None = None
) -> Predictor:
    """The predictor of the model and version the path names, routed by the request's
    sticky key (``first(field)``: a field's value in the first row of its body, if any)."""
    params = request.path_params
    key = sticky.key(request, service.options, first)
    predictor = service.predictor(params["name"], params.get("version"), key)
    call.answered_by(predictor)
    return predictor


def _first(data: dict[str, Any], field: str) -> Any:
    """The first value of the input tensor named ``field``, else of ``field`` in the
    request's ``parameters`` (one value, or a list of one a row; see
    :mod:`prodml.serve.sticky`)."""
    inputs = data.get("inputs")
    parameters = data.get("parameters")
    value = parameters.get(field) if type(parameters) is dict else None
    for tensor in inputs if type(inputs) is list else []:
        if type(tensor) is dict and tensor.get("name") == field:
            value = tensor.get("data")
            break
    while type(value) is list and value:  # nested one list a dimension
        value = value[0]
    return value


def _outputs(predictor: Predictor) -> list[dict[str, Any]]:
    if predictor.classes is None:
        return [{"name": "value", "datatype": "FP64", "shape": [-1]}]
    outputs = [{"name": "label", "datatype": _label_type(predictor), "shape": [-1]}]
    if predictor.probabilistic:
        shape = [-1, len(predictor.classes)]
        outputs.append({"name": "probability", "datatype": "FP64", "shape": shape})
    return outputs


def _label_type(predictor: Predictor) -> str:
    kind = np.asarray(predictor.classes).dtype.kind
    return {"i": "INT64", "u": "UINT64", "f": "FP64", "b": "BOOL"}.get(kind, "BYTES")


def _wanted(outputs: Any, predictor: Predictor) -> list[str]:
    names = [o["name"] for o in _outputs(predictor)]
    if outputs is None:
        return names
    wanted = []
    for i, output in enumerate(require_list(outputs, '"outputs"')):
        name = require_object(output, f"outputs[{i}]", '{"name": "label"}').get("name")
        if type(name) is not str or name not in names:
            hint = did_you_mean(name, names) if type(name) is str else ""
            raise Rejected(
                400,
                f"output {shown(name)} is not an output of this model; outputs are: "
                f"{listing(names)}{hint}",
                "outputs",
            )
        wanted.append(name)
    return wanted


def _rows(inputs: Any, predictor: Predictor) -> list[Row]:
    tensors = require_list(inputs, '"inputs"')
    if not tensors:
        raise Rejected(400, '"inputs" is empty; send one tensor a column or one 2-D tensor')
    checker = predictor.checker
    names = checker.names
    read = [_tensor_data(t, i) for i, t in enumerate(tensors)]
    first_name, first_shape, first_type, first_data = read[0]
    if len(read) == 1 and len(first_shape) == 2 and first_name not in names:
        return _matrix_rows(first_name, first_shape, first_type, first_data, predictor)
    given = {name: (shape, datatype, data) for name, shape, datatype, data in read}
    for name in given:
        if name not in names:
            raise Rejected(
                400,
                f"input {shown(name)} is not an input of this model; inputs are one a column: "
                f"{listing(names)}{did_you_mean(name, names)}, or one 2-D tensor "
                f"[batch, {len(names)}]",
                name,
            )
    columns, problems = [], []
    batch: int | None = None
    for position, column in enumerate(predictor.served.schema.columns):
        if column.name not in given:
            raise Rejected(
                400,
                f"input '{column.name}' ({_DATATYPE[column.kind]}) is missing; the model takes "
                f"one tensor a column: {listing(names)}",
                column.name,
            )
        shape, datatype, data = given[column.name]
        _check_type(column.name, column.kind, datatype)
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise Rejected(400, f"input '{column.name}' has shape {shape}; expected [batch]")
        if batch is not None and shape[0] != batch:
            raise Rejected(
                400, f"input '{column.name}' has {shape[0]} rows but the inputs before it {batch}"
            )
        batch = shape[0]
        try:
            columns.append(checker.column(position, data, text=datatype == "BYTES"))
        except Rejected:  # every bad value of every column, in one refusal
            problems += checker.column_problems(position, data, text=datatype == "BYTES")
    if problems:
        raise combined(problems)
    return list(zip(*columns, strict=True))


def _matrix_rows(
    name: str, shape: list[int], datatype: str, data: list[Any], predictor: Predictor
) -> list[Row]:
    columns = predictor.served.schema.columns
    if shape[1] != len(columns):
        raise Rejected(
            400,
            f"input {shown(name)} has shape {shape}; a 2-D tensor must be [batch, "
            f"{len(columns)}], "
            "one value a column in the training order",
            name,
        )
    for column in columns:
        _check_type(column.name, column.kind, datatype)
    width, text, checker = shape[1], datatype == "BYTES", predictor.checker
    return [checker.values(data[i * width : (i + 1) * width], i, text) for i in range(shape[0])]


def _tensor_data(tensor: Any, index: int) -> tuple[str, list[int], str, list[Any]]:
    """Name, shape, datatype and flat data of an input tensor, each checked."""
    example = '{"name": "income", "shape": [1], "datatype": "FP64", "data": [52000.0]}'
    tensor = require_object(tensor, f"inputs[{index}]", example)
    name = tensor.get("name")
    if type(name) is not str:
        raise Rejected(400, f"inputs[{index}] has no name; expected {example}")
    what = f"input {shown(name)}"
    parameters = tensor.get("parameters")
    if type(parameters) is dict and "binary_data_size" in parameters:
        raise _binary()
    shape, datatype, data = tensor.get("shape"), tensor.get("datatype"), tensor.get("data")
    if type(shape) is not list or not shape or not all(type(n) is int and n >= 0 for n in shape):
        raise Rejected(400, f"{what} has shape {shown(shape)}; expected a list of sizes", name)
    if type(datatype) is not str or datatype not in DATATYPES:
        raise Rejected(
            400,
            f"{what} has datatype {shown(datatype)}; datatypes are: {listing(sorted(DATATYPES))}",
            name,
        )
    if datatype == "FP16":
        raise Rejected(400, f"{what} is FP16, which has no JSON form; send FP32", name)
    if data is None:
        raise Rejected(400, f"{what} has no data", name)
    flat = _flat(data, len(shape), what)
    size = int(np.prod(shape))
    if len(flat) != size:
        raise Rejected(400, f"{what} has shape {shape} ({size} values) but {len(flat)} data values")
    return name, shape, datatype, flat


def _flat(data: Any, dimensions: int, what: str) -> list[Any]:
    """``data``'s values, flat: a list nested up to one level a dimension of the shape,
    flattened a level at a time (no recursion, so no depth can exhaust the stack)."""
    values = data if type(data) is list else [data]
    levels = 1
    while any(type(item) is list for item in values):
        levels += 1
        if levels > dimensions + 1:  # one level to spare: [[1], [2]] for a shape [2]
            raise Rejected(
                400,
                f"{what}: its data is nested deeper than its {dimensions}-D shape; send the "
                "values flat, or nested one list a dimension",
            )
        values = [v for item in values for v in (item if type(item) is list else (item,))]
    return values


def _check_type(name: str, kind: Kind, datatype: str) -> None:
    if datatype not in _ALLOWED[kind]:
        raise Rejected(
            400,
            f"input '{name}' has datatype {datatype}, but the column is {kind}: send "
            f"{_DATATYPE[kind]}",
            name,
        )


def _tensor(name: str, answer: Answered, predictor: Predictor) -> dict[str, Any]:
    rows = len(answer.request_ids)
    if name == "probability":
        assert predictor.classes is not None
        matrix = answer.column("probabilities")
        flat = [p for row in matrix for p in row]
        shape = [rows, len(predictor.classes)]
        return {"name": name, "shape": shape, "datatype": "FP64", "data": flat}
    if name == "label":
        labels = answer.column("labels")
        return {"name": name, "shape": [rows], "datatype": _label_type(predictor), "data": labels}
    return {"name": name, "shape": [rows], "datatype": "FP64", "data": answer.column("values")}


def _binary() -> Rejected:
    return Rejected(
        400,
        "the binary tensor extension (binary_data_size, Inference-Header-Content-Length) is "
        "not supported; send the tensors' data as JSON (tritonclient: binary_data=False)",
    )


def server_version() -> str:
    """prodml's version, as ``GET /v2`` and the OpenAPI document give it."""
    try:
        return metadata_version("prodml")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


_MODEL = "/v2/models/{name}"
_VERSION = "/v2/models/{name}/versions/{version}"
_MODEL_ANSWERS = (200, 404, 503)
_INFER_ANSWERS = (200, 400, 404, 413, 500, 503)
_TENSOR: Schema = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string", "description": "a column, or any name for one 2-D tensor"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        "datatype": {"enum": sorted(DATATYPES)},
        "data": {"type": "array", "description": "flat, or nested one list a dimension"},
        "parameters": {"type": "object"},
    },
}
_INFER: dict[str, Body] = {
    JSON: Body(
        {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string", "description": "echoed in the answer"},
                "parameters": {"type": "object"},
                "inputs": {"type": "array", "items": _TENSOR, "minItems": 1},
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": {"enum": ["label", "probability", "value"]}},
                    },
                },
            },
        },
        lambda record: {
            "id": "example",
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, len(record)],
                    "datatype": "BYTES",
                    "data": [_text(value) for value in record.values()],
                }
            ],
        },
    )
}
_ANSWER: dict[str, Schema] = {
    JSON: {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": _TENSOR},
            "parameters": {
                "type": "object",
                "properties": {
                    "request_ids": {"type": "string", "description": "one a row, comma-separated"},
                    "decided_by": {
                        "type": "string",
                        "description": "model or person, one a row, comma-separated; at "
                        "level human no output is given",
                    },
                },
            },
        },
    }
}


def _text(value: Any) -> str:
    """A value as a BYTES tensor holds it: missing is empty."""
    if value is None:
        return ""
    return str(value).lower() if type(value) is bool else str(value)


ROUTES = [
    Route("GET", "/v2/health/live", "v2", live, "V2: the server is live"),
    Route("GET", "/v2/health/ready", "v2", ready, "V2: every model is loaded", None, (200, 503)),
    Route("GET", "/v2", "v2", server, "V2: server metadata"),
    Route("GET", _MODEL, "v2", metadata, "V2: model metadata", None, _MODEL_ANSWERS),
    Route("GET", _VERSION, "v2", metadata, "V2: model version metadata", None, _MODEL_ANSWERS),
    Route("GET", f"{_MODEL}/ready", "v2", model_ready, "V2: model ready", None, _MODEL_ANSWERS),
    Route("GET", f"{_VERSION}/ready", "v2", model_ready, "V2: version ready", None, _MODEL_ANSWERS),
    Route(
        "POST",
        f"{_MODEL}/infer",
        "v2",
        infer,
        "V2: inference",
        _INFER,
        _INFER_ANSWERS,
        True,
        _ANSWER,
    ),
    Route(
        "POST",
        f"{_VERSION}/infer",
        "v2",
        infer,
        "V2: inference on a version",
        _INFER,
        _INFER_ANSWERS,
        True,
        _ANSWER,
    ),
]
