"""The server's tunable limits, as one frozen value (and as environment variables, for the
worker processes uvicorn starts by itself)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from prodml.errors import ConfigError, listing


@dataclass(frozen=True)
class ServeOptions:
    """How the server batches, bounds and reloads, and what it serves to whom.

    >>> ServeOptions.from_json(ServeOptions(max_batch=64).to_json()).max_batch
    64
    """

    # prodml.yaml's serve.batch: {max_rows, max_wait_ms, queue_rows}
    max_batch: int = 256  # rows a model call takes at most
    max_wait: float = 0.002  # seconds a batch waits for requests on their way, at most
    max_queue: int = 10_000  # rows waiting for the model before requests get 503
    max_body: int = 1 << 20  # bytes of a request body before it gets 413
    # where the model runs: on a thread of its own ("always"), in the event loop ("never"),
    # or in the loop when a call measured at load takes under inline_below seconds ("auto":
    # a short call costs less than a hand-over between threads, a long one would stall
    # the loop; measured here: logistic regression on breast-cancer, 0.4 ms a call, 10%
    # more requests a second in the loop; gradient boosting on loans, 4 ms a call, 35%
    # more on the thread)
    model_thread: Literal["auto", "always", "never"] = "auto"
    inline_below: float = 0.001
    reload_seconds: float = 1.0  # how often to ask the source whether a lineup changed
    # seconds a version no longer in an endpoint's lineup stays loaded, so that a rollback
    # (or a candidate deployed again) loads nothing
    keep_previous: float = 600.0
    shadow_queue: int = 10_000  # rows waiting for a shadow before copies are dropped
    # seconds a shadow's batch stays open to fill (nobody waits for a shadow's answer): at
    # 1,000 requests a second, about 50 rows a model call instead of one
    shadow_linger: float = 0.05
    # after a load, move what is loaded out of the garbage collector's sight (gc.freeze):
    # a server process owns its collector; turn it off when embedding the app elsewhere
    freeze_gc: bool = True
    # who may call what (prodml.yaml's serve: section; see prodml.deploy.keys): POST
    # /feedback without a key even once keys exist; the admin routes served at all
    open_feedback: bool = False
    admin: bool = True
    # the request field whose value routes a request, when no X-Prodml-Key header is sent
    # (prodml.yaml's serve.sticky_key; see prodml.serve.sticky)
    sticky_key: str | None = None
    # the rule that answers when the model fails (prodml.yaml's serve.fallback, see
    # prodml.serve.fallback), a model call slower than timeout_ms counting as a failure,
    # and the breaker's failures in a row and seconds before a probe (serve.breaker)
    fallback: str | None = None
    timeout_ms: float | None = None
    breaker_failures: int = 5
    breaker_probe_after: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body", "shadow_queue"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve option {name} is {getattr(self, name)}; give 1 or more")
        if self.model_thread not in ("auto", "always", "never"):
            raise ConfigError(
                f"serve option model_thread is {self.model_thread!r}; give auto, always or never"
            )
        for name in (
            "max_wait",
            "reload_seconds",
            "inline_below",
            "keep_previous",
            "shadow_linger",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"serve option {name} is {getattr(self, name)}; give 0 or more")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        raw: dict[str, Any] = json.loads(text)
        known = [f.name for f in fields(cls)]
        unknown = [key for key in raw if key not in known]
        if unknown:
            raise ConfigError(
                f"unknown serve options {listing(unknown)}; options are: {listing(known)}"
            )
        return cls(**raw)
