"""The public surface is written down in ``__all__`` and every name in it exists."""

from __future__ import annotations

import prodml


def test_all_is_sorted_and_importable() -> None:
    assert prodml.__all__ == sorted(prodml.__all__)
    for name in prodml.__all__:
        assert getattr(prodml, name) is not None, name


def test_every_error_is_a_prodml_error() -> None:
    errors = [getattr(prodml, n) for n in prodml.__all__ if n.endswith("Error")]
    assert len(errors) == 7
    assert all(issubclass(e, prodml.ProdmlError) for e in errors)
    assert issubclass(prodml.IntegrityError, prodml.StoreError)


def test_importing_prodml_and_its_cli_loads_no_heavy_library() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, prodml, prodml.cli\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn', 'sqlalchemy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


PACKAGES = [
    "prodml.automation",
    "prodml.data",
    "prodml.deploy",
    "prodml.evaluate",
    "prodml.model",
    "prodml.monitor",
    "prodml.store",
    "prodml.tracking",
]


def test_each_package_lists_its_modules_in_a_sorted_all() -> None:
    import importlib
    import pkgutil

    for name in PACKAGES:
        package = importlib.import_module(name)
        listed = package.__all__
        assert listed == sorted(listed, key=lambda n: (not n.isupper(), n)), name
        modules = {
            m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")
        }
        assert modules <= set(listed), f"{name} does not list {modules - set(listed)}"
        for item in listed:
            assert hasattr(package, item) or importlib.import_module(f"{name}.{item}"), item
