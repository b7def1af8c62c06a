"""Every route of a real server, fuzzed: whatever a client sends, the answer is a 2xx or a
4xx, never a 5xx, and the server still answers ``/health/ready`` afterwards.

The route table is walked, so a new route is fuzzed as soon as it is served; one without
a strategy here fails :func:`test_every_route_has_a_strategy`. Each protocol's strategy
makes bodies of its own shape (native records, MLflow's four JSON forms and CSV, V2
tensors, feedback), with values that are right, wrong, huge, NaN or infinite, or nested
far deeper than any parser likes; the generic strategies add arbitrary JSON and bytes,
wrong content types, and unknown paths and methods. Examples are derandomized, so a
failure found in CI is found again on a laptop.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodml.deploy.keys import ROLES
from prodml.serve.http import Route
from prodml.serve.protocols.v2 import DATATYPES
from prodml.serve.routes import ROUTES

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Server

ENDPOINT = "loans"
ADMIN_ACTIONS = ("deploy", "promote", "rollback", "stop", "automation")
DEEP = "\x00deep\x00"  # a value that becomes a deeply nested list in the body sent
HUGE = 300_000  # characters of a huge string: well within the body limit
POSTS = 150  # examples a route that takes a body, which has far more ways to be wrong
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Sent:
    """One request as the fuzzer sends it."""

    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Model:
    """What the fuzzer knows of the served model: its fields and some real records."""

    fields: list[str]
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def model(loans_features: pd.DataFrame) -> Model:
    rows = json.loads(loans_features.head(20).to_json(orient="records"))
    return Model(list(loans_features.columns), rows)


# --- values ------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "nan", "NaN", "true", "2024-01-01T00:00:00", "rent"]),
    st.just(DEEP),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
huge = st.builds(lambda c: c * HUGE, st.sampled_from(["a", "é", "[", '"']))


def value_of(model: Model, field: str) -> st.SearchStrategy[Any]:
    real = st.sampled_from([r[field] for r in model.records])
    return st.one_of(real, real, scalars, json_values, huge)


def records(model: Model) -> st.SearchStrategy[dict[str, Any]]:
    def record(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({f: value_of(model, f) for f in fields})

    subsets = st.lists(st.sampled_from(model.fields), unique=True)
    return st.one_of(
        st.sampled_from(model.records),
        record(model.fields),
        subsets.flatmap(record),
        st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    )


def encoded(value: Any, depth: int) -> bytes:
    """JSON with NaN and Infinity tokens as Python writes them, and DEEP as ``depth`` lists."""
    text = json.dumps(value, allow_nan=True).encode()
    return text.replace(json.dumps(DEEP).encode(), b"[" * depth + b"1" + b"]" * depth)


def json_request(method: str, path: str, bodies: st.SearchStrategy[Any]) -> st.SearchStrategy[Sent]:
    depths = st.sampled_from([3, 990, 1100])  # orjson reads up to 1,024 levels
    return st.builds(
        lambda body, depth: Sent(method, path, encoded(body, depth), "application/json"),
        bodies,
        depths,
    )


# --- right bodies, and right bodies with one value gone wrong -------------------------------

bad = st.one_of(
    json_values,
    huge,
    st.just(DEEP),
    st.sampled_from([None, 0, -1, 2**64, float("nan"), float("inf"), ["FP64"], {"FP64": 1}]),
)


def places(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value, as the keys and indexes that lead there."""
    found = [at]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, inner in items:
        found += places(inner, (*at, key))
    return found


def replaced(value: Any, at: tuple[Any, ...], new: Any) -> Any:
    if not at:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[at[0]] = replaced(value[at[0]], at[1:], new)
    return copy


def mutated(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A right body with one value (anywhere in it) replaced by a wrong one."""
    return right.flatmap(
        lambda body: st.builds(
            lambda at, new: replaced(body, at, new), st.sampled_from(places(body)), bad
        )
    )


def typical(model: Model) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.sampled_from(model.records), min_size=1, max_size=3)


def right_native(model: Model) -> st.SearchStrategy[Any]:
    return typical(model).map(lambda rows: {"records": rows, "endpoint": ENDPOINT})


def right_feedback(model: Model) -> st.SearchStrategy[Any]:
    return st.just({"feedback": [{"request_id": "order-42", "label": 1}]})


def right_mlflow(model: Model) -> st.SearchStrategy[Any]:
    def forms(rows: list[dict[str, Any]]) -> list[Any]:
        values = [list(row.values()) for row in rows]
        return [
            {"dataframe_split": {"columns": model.fields, "data": values}},
            {"dataframe_records": rows},
            {"instances": values},
            {"inputs": {f: [row[f] for row in rows] for f in model.fields}},
        ]

    return typical(model).flatmap(lambda rows: st.sampled_from(forms(rows)))


def right_v2(model: Model) -> st.SearchStrategy[Any]:
    def tensor(name: str, values: list[Any]) -> dict[str, Any]:
        text = any(isinstance(v, str) for v in values)
        return {
            "name": name,
            "shape": [len(values)],
            "datatype": "BYTES" if text else "FP64",
            "data": values,
        }

    return typical(model).map(
        lambda rows: {
            "id": "order-42",
            "inputs": [tensor(f, [row[f] for row in rows]) for f in model.fields],
        }
    )


def right_admin(model: Model) -> st.SearchStrategy[Any]:
    """Deployment changes of the admin server's breast-cancer endpoint (version 1, and 2
    registered beside it)."""
    endpoint = {"endpoint": "breast-cancer", "reason": "fuzz"}
    return st.sampled_from(
        [
            {
                "ref": "breast-cancer:2",
                "mode": "shadow",
                "sample": 0.5,
                "force": True,
                "reason": "x",
            },
            {
                "ref": "breast-cancer:2",
                "mode": "canary",
                "ramp": [5, 100],
                "step": "1m",
                "force": True,
                "reason": "x",
            },
            {"ref": "breast-cancer:2", "mode": "blue-green", "force": True, "reason": "x"},
            endpoint,
            {**endpoint, "force": True},
            {**endpoint, "level": "partial", "defer_below": 0.7, "audit_sample": 0.01},
            {**endpoint, "level": "partial", "target_error": 0.05},
            {**endpoint, "level": "partial", "target_error": 0.0001},
            {**endpoint, "level": "full"},
        ]
    )


def right_keys(model: Model) -> st.SearchStrategy[Any]:
    """Keys made and revoked on the admin server, never the fuzzer's own."""
    names = st.sampled_from(["fuzz-made-1", "fuzz-made-2", "fuzz-never-made"])
    return st.one_of(
        st.builds(lambda n, r: {"name": n, "role": r}, names, st.sampled_from(ROLES)),
        names.map(lambda n: {"name": n}),
    )


def right_review(model: Model) -> st.SearchStrategy[Any]:
    """Review leases and answers (of request ids that were never queued, or anything)."""
    return st.one_of(
        st.sampled_from([{}, {"endpoint": "breast-cancer"}, {"endpoint": "nope"}]),
        st.builds(
            lambda rid, label: {"request_id": rid, "label": label, "note": "fuzz"},
            st.text(max_size=40),
            st.sampled_from([0, 1, "0", "benign", True, 2.5]),
        ),
    )


def review(model: Model) -> st.SearchStrategy[Any]:
    return st.dictionaries(
        st.sampled_from(["endpoint", "request_id", "label", "note", "x"]),
        json_values | scalars,
        max_size=4,
    )


# --- protocol bodies of any shape ---------------------------------------------------------


def admin(model: Model) -> st.SearchStrategy[Any]:
    keys = ["ref", "mode", "sample", "ramp", "step", "min_requests", "force", "reason", "endpoint"]
    keys += ["level", "defer_below", "target_error", "audit_sample"]
    return st.dictionaries(st.sampled_from([*keys, "x"]), json_values | scalars, max_size=6)


def keys(model: Model) -> st.SearchStrategy[Any]:
    return st.dictionaries(
        st.sampled_from(["name", "role", "x"]), json_values | scalars, max_size=3
    )


def native(model: Model) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"records": st.lists(records(model), max_size=4) | json_values},
        optional={"endpoint": st.sampled_from([ENDPOINT, "nope"]) | json_values, "x": scalars},
    )


def feedback(model: Model) -> st.SearchStrategy[Any]:
    label = st.fixed_dictionaries(
        {"request_id": st.text(max_size=40) | json_values, "label": json_values}
    )
    return label | st.fixed_dictionaries({"feedback": st.lists(label, max_size=4) | json_values})


def mlflow(model: Model) -> st.SearchStrategy[Any]:
    values = st.lists(st.one_of(*(value_of(model, f) for f in model.fields)), max_size=8)
    names = st.lists(st.sampled_from(model.fields) | json_values, max_size=8)
    forms = {
        "dataframe_split": st.fixed_dictionaries(
            {"data": st.lists(values, max_size=3) | json_values},
            optional={"columns": names | json_values, "index": json_values},
        ),
        "dataframe_records": st.lists(records(model), max_size=3) | json_values,
        "instances": st.lists(records(model) | values, max_size=3) | json_values,
        "inputs": st.dictionaries(st.sampled_from(model.fields), values | json_values)
        | st.lists(records(model) | values, max_size=3)
        | json_values,
    }
    one = st.sampled_from(sorted(forms)).flatmap(
        lambda form: st.fixed_dictionaries({form: forms[form]}, optional={"params": json_values})
    )
    return one | st.dictionaries(st.sampled_from([*forms, "params", "x"]), json_values)


def csv_text(model: Model) -> st.SearchStrategy[bytes]:
    header = st.lists(st.sampled_from(model.fields) | st.text(max_size=6), max_size=10)
    cells = st.lists(st.text(max_size=6) | st.sampled_from(["", "1.5", "rent", "nan"]), max_size=10)
    exact = st.just(model.fields)

    def written(head: list[str], rows: list[list[str]]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(head)
        writer.writerows(rows)
        return out.getvalue().encode()

    return st.builds(written, exact | header, st.lists(cells, max_size=4)) | st.binary(max_size=60)


def v2(model: Model) -> st.SearchStrategy[Any]:
    tensor = st.fixed_dictionaries(
        {
            "name": st.sampled_from([*model.fields, "input"]) | json_values,
            "shape": st.lists(st.integers(-1, 40), max_size=3) | json_values,
            "datatype": st.sampled_from(sorted(DATATYPES)) | json_values,
            "data": st.lists(scalars | st.lists(scalars, max_size=3), max_size=40) | json_values,
        },
        optional={"parameters": json_values},
    )
    outputs = st.lists(
        st.fixed_dictionaries({"name": st.sampled_from(["label", "probability"]) | json_values})
    )
    return st.fixed_dictionaries(
        {"inputs": st.lists(tensor, max_size=6) | json_values},
        optional={
            "id": st.text(max_size=40) | json_values,
            "outputs": outputs,
            "parameters": json_values,
        },
    )


# --- requests a route ---------------------------------------------------------------------

segment = st.sampled_from([ENDPOINT, "0", "1", "nope", "%2F", "..", "a" * 300]) | st.text(
    min_size=1, max_size=8
)


def concrete(path: str) -> st.SearchStrategy[str]:
    """``path`` with each ``{parameter}`` mostly the served one (so that bodies reach the
    model), else a wrong one or anything at all."""
    served = {"{name}": ENDPOINT, "{version}": "0"}
    anything = segment.map(lambda s: urllib.parse.quote(s, safe=""))
    chosen = [
        st.sampled_from([served[p], served[p], served[p], ""]).flatmap(
            lambda real: st.just(real) if real else anything
        )
        if p in served
        else st.just(p)
        for p in path.split("/")
    ]
    return st.tuples(*chosen).map("/".join)


def get(route: Route, model: Model) -> st.SearchStrategy[Sent]:
    return concrete(route.path).map(lambda path: Sent("GET", path))


def review_listing(route: Route, model: Model) -> st.SearchStrategy[Sent]:
    """The review list with query parameters right, wrong or anything."""
    values = st.sampled_from(["breast-cancer", "1", "0", "-3", "1001", "x", ""]) | st.text(
        max_size=8
    )
    query = st.dictionaries(st.sampled_from(["endpoint", "limit", "x"]), values, max_size=3)
    return query.map(lambda q: Sent("GET", f"{route.path}?{urllib.parse.urlencode(q)}"))


Bodies = Callable[[Model], st.SearchStrategy[Any]]


def posting(right: Bodies, wild: Bodies) -> Callable[[Route, Model], st.SearchStrategy[Sent]]:
    """JSON bodies: right ones, right ones with a value gone wrong, and any shape at all."""

    def strategy(route: Route, model: Model) -> st.SearchStrategy[Sent]:
        bodies = st.one_of(right(model), *[mutated(right(model))] * 3, wild(model))
        return concrete(route.path).flatmap(lambda path: json_request("POST", path, bodies))

    return strategy


def invocations(route: Route, model: Model) -> st.SearchStrategy[Sent]:
    as_csv = st.builds(lambda b: Sent("POST", route.path, b, "text/csv"), csv_text(model))
    return posting(right_mlflow, mlflow)(route, model) | as_csv


def anything(route: Route) -> st.SearchStrategy[Sent]:
    """What any route gets: arbitrary JSON or bytes, under any content type."""
    kinds = (
        st.sampled_from(
            [
                "application/json",
                "text/csv",
                "text/plain",
                "application/json; charset=latin-1",
                "multipart/form-data; boundary=x",
                "application/json; foo=bar",
            ]
        )
        | st.none()
    )
    bodies = (
        st.binary(max_size=200)
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.sampled_from(
            [b"{1: 2}", b'{"a": NaN}', b"[Infinity]", b"-Infinity", b"\xff\xfe", b"", b"null"]
        )
    )
    return concrete(route.path).flatmap(
        lambda path: st.builds(lambda b, k: Sent(route.method, path, b, k), bodies, kinds)
    )


STRATEGIES: dict[tuple[str, str], Callable[[Route, Model], st.SearchStrategy[Sent]]] = {
    ("POST", "/predict"): posting(right_native, native),
    ("POST", "/feedback"): posting(right_feedback, feedback),
    ("POST", "/invocations"): invocations,
    ("POST", "/v2/models/{name}/infer"): posting(right_v2, v2),
    ("POST", "/v2/models/{name}/versions/{version}/infer"): posting(right_v2, v2),
    **{("POST", f"/admin/{a}"): posting(right_admin, admin) for a in ADMIN_ACTIONS},
    ("GET", "/admin/deployments"): get,
    ("POST", "/admin/keys/create"): posting(right_keys, keys),
    ("POST", "/admin/keys/revoke"): posting(right_keys, keys),
    ("GET", "/admin/keys"): get,
    ("GET", "/review"): review_listing,
    ("POST", "/review/next"): posting(right_review, review),
    ("POST", "/review/answer"): posting(right_review, review),
    **{
        ("GET", path): get
        for path in [
            "/health/live",
            "/health/ready",
            "/metrics",
            "/docs",
            "/openapi.json",
            "/ping",
            "/health",
            "/v2/health/live",
            "/v2/health/ready",
            "/v2",
            "/v2/models/{name}",
            "/v2/models/{name}/versions/{version}",
            "/v2/models/{name}/ready",
            "/v2/models/{name}/versions/{version}/ready",
        ]
    },
}


def send(http: Http, server: Server, sent: Sent, headers: dict[str, str] | None = None) -> int:
    answer = http.call(
        server.url + sent.path, sent.method, sent.body, sent.content_type, headers=headers
    )
    assert answer.status < 500, (
        sent.method,
        sent.path,
        (sent.body or b"")[:200],
        answer.body[:300],
    )
    return answer.status


def test_every_route_has_a_strategy() -> None:
    missing = [f"{r.method} {r.path}" for r in ROUTES if (r.method, r.path) not in STRATEGIES]
    assert not missing, f"routes without a fuzz strategy in {__file__}: {missing}"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_no_route_answers_a_5xx(
    http: Http, loans_server: Server, model: Model, route: Route, request: pytest.FixtureRequest
) -> None:
    strategy = STRATEGIES.get((route.method, route.path))
    assert strategy is not None, f"{route.method} {route.path} has no strategy"
    requests = strategy(route, model) | anything(route)
    server, headers = loans_server, None
    if route.role is not None and not route.until_keys:  # reach the handler, not the guard
        server, headers = request.getfixturevalue("admin_server")

    @settings(FUZZ, max_examples=POSTS if route.body else FUZZ.max_examples)
    @given(requests)
    def fuzz(sent: Sent) -> None:
        send(http, server, sent, headers)

    fuzz()


methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FUZZ"])
paths = st.sampled_from([r.path for r in ROUTES]).flatmap(concrete) | st.lists(
    segment.map(lambda s: urllib.parse.quote(s, safe="")), max_size=4
).map(lambda parts: "/" + "/".join(parts))


def test_unknown_paths_and_methods_are_4xx(http: Http, loans_server: Server) -> None:
    @FUZZ
    @given(st.builds(lambda m, p: Sent(m, p), methods, paths))
    def fuzz(sent: Sent) -> None:
        send(http, loans_server, sent)

    fuzz()


def test_the_server_is_still_ready_after_the_fuzzing(http: Http, loans_server: Server) -> None:
    assert http.call(f"{loans_server.url}/health/ready").status == 200
