"""The serve package lists its modules in a sorted ``__all__``, and each of them imports."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import prodml.serve
import prodml.serve.protocols


@pytest.mark.parametrize("package", [prodml.serve, prodml.serve.protocols])
def test_all_lists_every_module_sorted(package: object) -> None:
    listed = package.__all__  # type: ignore[attr-defined]
    assert listed == sorted(listed)
    path = package.__path__  # type: ignore[attr-defined]
    modules = {m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_")}
    assert modules == set(listed)
    for name in listed:
        importlib.import_module(f"{package.__name__}.{name}")  # type: ignore[attr-defined]
