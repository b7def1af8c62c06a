"""Serving: an ASGI app that answers prodml's own API, the MLflow scoring protocol and the
Open Inference Protocol (V2), with schema checks, adaptive micro-batching and a
prediction log that keeps every answered prediction.

One request's path, module by module::

    dispatch     the prediction routes of a fixed path, called without Starlette's router
    routes       the route table; each handler wrapped with metrics and error bodies
    protocols/   native, mlflow, v2, health: decode a request, encode the answer
    http         reading a body within its limit, JSON, media types
    validation   rows checked against the model's input schema (422 naming the field)
    metadata     the data.metadata fields a request carries beside the inputs, for the log
    event_time   the time of the event a request is about (data.time, or a parameter)
    request_ids  a time-ordered UUIDv7 for every answered row
    sticky       the key a request routes by: a header, a field, or its request id
    routing      which version answers it: the primary, or a canary by that key
    service      endpoints, their batchers, the model thread, the log's answers
    deferral     who decides each row (the endpoint's automation); review items of a batch
    fallback     a rule that answers when the model fails, behind a breaker
    stand_in     the rule in the place of a model that never loaded
    shadow_drops     a shadow's dropped copies, in its endpoint's deployment events
    batcher      adaptive micro-batching with a bounded queue (503 when full)
    predictor    one model call a batch on a frame from frame
    direct       a scaled logistic regression's probabilities without scikit-learn's checks
    prediction_log   the group commit before any answer of a batch is sent
    metrics      Prometheus, a registry per app
    source       where models come from (a run now, the registry later)
    app, launch  the Starlette app, and uvicorn with one or more worker processes

This package's own namespace stays empty of imports so ``prodml --help`` stays quick.
"""

#: The modules of this package.
__all__ = [
    "app",
    "batcher",
    "breaker",
    "deferral",
    "demo",
    "direct",
    "dispatch",
    "event_time",
    "fallback",
    "frame",
    "http",
    "launch",
    "metadata",
    "metrics",
    "openapi",
    "options",
    "prediction_log",
    "predictor",
    "protocols",
    "registry_source",
    "rejection",
    "request_ids",
    "routes",
    "routing",
    "service",
    "shadow_drops",
    "source",
    "stand_in",
    "sticky",
    "validation",
]
