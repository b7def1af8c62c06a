"""The registry as a :class:`~prodml.serve.source.Source`: every deployment's primary and
candidate.

A deployment's revision grows with each change (a candidate deployed or stopped, a ramp
step, a promotion, a rollback), so running servers see it on their next look and load
what they do not hold yet (its SHA-256 checked first). The project's ``data.metadata``
names, given once, go with every version loaded (:attr:`Served.metadata`).
"""

from __future__ import annotations

from collections.abc import Sequence

from prodml.data.schema import Schema
from prodml.errors import NotFoundError, StoreError
from prodml.registry import Registry
from prodml.serve.source import Lineup, Served


class RegistrySource:
    """The endpoints of the registry's deployments, each serving its primary version;
    ``metadata``: the fields requests may carry beside the inputs, to be logged."""

    def __init__(self, registry: Registry, metadata: Sequence[str] = ()) -> None:
        self.registry = registry
        self.metadata = tuple(metadata)

    def revision(self, endpoint: str) -> int:
        return self.registry.deployment(endpoint).revision

    def lineup(self, endpoint: str) -> Lineup:
        deployment = self.registry.deployment(endpoint)
        candidate = deployment.candidate
        if candidate is None:
            return Lineup(primary=deployment.primary)
        return Lineup(deployment.primary, candidate.version, candidate.mode, candidate.share)

    def load(self, endpoint: str, version: int | None = None) -> Served:
        deployment = self.registry.deployment(endpoint)
        number = deployment.primary if version is None else version
        found = self.registry.get(f"{deployment.name}:{number}")
        if found.input_schema is None:
            raise NotFoundError(
                f"model {found.ref} has no input schema, so requests cannot be checked; "
                "register a new fit"
            )
        try:
            model = self.registry.load(found)
        except StoreError as exc:  # say which version, as the endpoint may serve another
            raise type(exc)(f"model {found.ref}: {exc}") from exc
        return Served(
            endpoint=endpoint,
            name=found.name,
            version=found.version,
            model=model,
            schema=Schema.from_dict(found.input_schema),
            run_id=found.run_id,
            metadata=self.metadata,
        )

    def endpoints(self) -> list[str]:
        return [d.endpoint for d in self.registry.deployments()]
