"""The registry as a :class:`~prodml.serve.source.Source`: every deployment's primary.

A deployment's revision grows with each promotion or rollback, so running servers see the
change on their next look and load the new primary (its SHA-256 checked first).
"""

from __future__ import annotations

from prodml.data.schema import Schema
from prodml.errors import NotFoundError, StoreError
from prodml.registry import Registry
from prodml.serve.source import Served


class RegistrySource:
    """The endpoints of the registry's deployments, each serving its primary version."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def revision(self, endpoint: str) -> int:
        return self.registry.deployment(endpoint).revision

    def load(self, endpoint: str) -> Served:
        deployment = self.registry.deployment(endpoint)
        version = self.registry.get(f"{deployment.name}:{deployment.primary}")
        if version.input_schema is None:
            raise NotFoundError(
                f"model {version.ref} has no input schema, so requests cannot be checked; "
                "register a new fit"
            )
        try:
            model = self.registry.load(version)
        except StoreError as exc:  # say which version, as the endpoint may serve another
            raise type(exc)(f"model {version.ref}: {exc}") from exc
        return Served(
            endpoint=endpoint,
            name=version.name,
            version=version.version,
            model=model,
            schema=Schema.from_dict(version.input_schema),
            run_id=version.run_id,
        )

    def endpoints(self) -> list[str]:
        return [d.endpoint for d in self.registry.deployments()]
