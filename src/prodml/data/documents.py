"""Stored documents (a schema, a profile): their format version, and reading them back.

>>> with reading("profile", {"format_version": 1}, 1, "Profile.to_dict()"):
...     raw = {}["rows"]
Traceback (most recent call last):
prodml.errors.DataError: profile is not well formed (KeyError: 'rows'); it must be ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from prodml.errors import DataError


@contextlib.contextmanager
def reading(what: str, raw: Mapping[str, Any], version: int, writer: str) -> Iterator[None]:
    """Check ``raw``'s format version, then turn a missing or mistyped field met while
    reading it (in the ``with`` block) into one DataError naming ``what`` and ``writer``."""
    found = raw.get("format_version")
    if not isinstance(found, int) or found > version:
        raise DataError(
            f"{what} format version {found!r} is not one this prodml reads "
            f"(up to {version}); upgrade prodml"
        )
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"{what} is not well formed ({type(exc).__name__}: {exc}); it must be what "
            f"{writer} wrote"
        ) from None
