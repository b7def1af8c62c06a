"""prodml: from a first baseline to a monitored production service, and back.

>>> sorted(__all__)[:3]
['ConfigError', 'DataError', 'IntegrityError']
"""

from prodml.config import ModelSpec, Settings, load_settings
from prodml.errors import (
    ConfigError,
    DataError,
    IntegrityError,
    ModelError,
    NotFoundError,
    ProdmlError,
    StoreError,
)
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
