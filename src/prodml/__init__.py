"""prodml: from a first baseline to a monitored production service, and back.

The names below load on first use, so that ``import prodml`` (and ``prodml --help``)
stays quick; the errors are light and load at once.

>>> sorted(__all__)[:3]
['ConfigError', 'DataError', 'IntegrityError']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from prodml.errors import (
    ConfigError,
    DataError,
    IntegrityError,
    ModelError,
    NotFoundError,
    ProdmlError,
    StoreError,
)

if TYPE_CHECKING:
    from prodml.config import ModelSpec, Settings, load_settings
    from prodml.project import Project, init
    from prodml.store.runs import Run

__all__ = [
    "ConfigError",
    "DataError",
    "IntegrityError",
    "ModelError",
    "ModelSpec",
    "NotFoundError",
    "ProdmlError",
    "Project",
    "Run",
    "Settings",
    "StoreError",
    "init",
    "load_settings",
]

_LAZY = {
    "ModelSpec": "prodml.config",
    "Settings": "prodml.config",
    "load_settings": "prodml.config",
    "Project": "prodml.project",
    "init": "prodml.project",
    "Run": "prodml.store.runs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prodml' has no attribute '{name}'")
