"""The one exception family of prodml.

Every failure a user can cause is a :class:`ProdmlError` whose message names the key
or field, the bad value, what is allowed and how to fix it. The CLI prints it as one
red line and exits with code 1.

::

    ProdmlError
     ├── ConfigError        prodml.yaml: malformed, unknown key, bad value
     ├── DataError          a data source, a column, a split
     ├── ModelError         a model factory, its parameters, a failed fit
     ├── StoreError         the database or the artifact folder
     │    └── IntegrityError  an artifact whose SHA-256 does not match its record
     ├── NotFoundError      an unknown run, example or key
     ├── KeysError          an API key: a name taken, an unknown role
     │    ├── KeyRequired     no usable key sent: missing, malformed, unknown, revoked (401)
     │    └── RoleTooLow      a key whose role is below what the route needs (403)
     ├── DeploymentError    a deployment change the endpoint's state does not allow
     │    └── GateError     a version whose audit failed, or that was never evaluated
     └── ReviewError        a review answer the item's state does not allow (not leased
                            to you, its lease over, already answered)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: The longest message an error carries: a value quoted in full (a 58 MB alias bomb,
#: a whole data frame) must not drown the one line that says what to fix.
MESSAGE_LIMIT = 1000


class ProdmlError(Exception):
    """Base of every error prodml raises on purpose: one line of at most MESSAGE_LIMIT."""

    def __init__(self, message: str) -> None:
        super().__init__(shortened(message, MESSAGE_LIMIT))


class ConfigError(ProdmlError):
    """prodml.yaml is malformed or holds a value that is not allowed."""


class DataError(ProdmlError):
    """A data source cannot be read, or does not fit the project file."""


class ModelError(ProdmlError):
    """A model cannot be built from its spec, or its fit failed."""


class StoreError(ProdmlError):
    """The store (database or artifact folder) cannot do what was asked."""


class IntegrityError(StoreError):
    """An artifact's content does not match the SHA-256 recorded for it."""


class NotFoundError(ProdmlError):
    """A named thing (a run, an example) does not exist."""


class KeysError(ProdmlError):
    """An API key cannot be made as asked (its name is taken, its role unknown), or a
    request's key does not let it through (:mod:`prodml.deploy.keys`)."""


class KeyRequired(KeysError):
    """A request that needs a key sent none, or one that is malformed, unknown or revoked."""

    status = 401


class RoleTooLow(KeysError):
    """A request whose key is valid but of a role below what the route needs."""

    status = 403


class DeploymentError(ProdmlError):
    """A deployment change that the endpoint's state does not allow now (a second
    candidate, a promotion with none, a rollback with no previous primary)."""


class GateError(DeploymentError):
    """The audit gate: a version whose latest evaluation failed its audit, or that was
    never evaluated, may not serve without ``--force`` and a reason."""


class ReviewError(ProdmlError):
    """A review answer the item's state does not allow: not leased to the reviewer, the
    lease over, or already answered."""


def shortened(value: object, limit: int = 60) -> str:
    """``value`` as text on one line, cut to ``limit`` characters with an ellipsis.

    >>> shortened("a" * 100, limit=10)
    'aaaaaaaaa…'
    >>> shortened("two\\nlines")
    'two lines'
    """
    text = " ".join(str(value).splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(value: object, choices: Iterable[object]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""``.

    >>> did_you_mean("approvd", ["approved", "income"])
    "; did you mean 'approved'?"
    >>> did_you_mean("zzz", ["approved"])
    ''
    """
    names = [str(c) for c in choices]
    close = difflib.get_close_matches(shortened(value), names, n=1, cutoff=0.6)
    return f"; did you mean '{shortened(close[0])}'?" if close else ""


def listing(choices: Iterable[object], limit: int = 12) -> str:
    """Join choices for a message, shortened when there are many.

    >>> listing(["a", "b"])
    'a, b'
    >>> listing(range(20), limit=3)
    '0, 1, 2, ... (20 in all)'
    """
    names = [shortened(c) for c in choices]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names)} in all)"
