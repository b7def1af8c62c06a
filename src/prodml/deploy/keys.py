"""API keys and their roles: who may change what over HTTP.

A key reads ``prodml_<id>_<secret>``. The id (12 hex digits) is public and finds the key's
row without a scan; the secret (32 random bytes, base64url) is shown once, when the key is
made, and only its SHA-256 is stored, compared with :func:`hmac.compare_digest` (constant
time). A plain SHA-256 and no salt, not scrypt or PBKDF2: a slow, salted hash makes
guessing a person's password from a stolen table expensive, but nobody can guess 256
random bits, so it would protect nothing here and cost milliseconds on every request.

Roles are ordered; a key may do what its role and every role below it may:

==========  ==============================================================
viewer      reads that need a key
reviewer    true labels (``POST /feedback``, once any key exists)
operator    deploy, promote, roll back, stop
admin       everything, keys included
==========  ==============================================================

There is no default key. A server asks :meth:`Keys.check` on each request to a route that
needs a role, and reads the keys from the store at most every REFRESH_SECONDS, so a new or
revoked key takes effect on every server within that time.

>>> import tempfile
>>> from prodml.store.database import Database
>>> keys = Keys(Database(f"sqlite:///{tempfile.mkdtemp()}/prodml.db"))
>>> keys.any_active()
False
>>> info, key = keys.create("ci", "operator")
>>> keys.check(f"Bearer {key}", "reviewer").name
'ci'
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import ipaddress
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy.exc
from sqlalchemy import select

from prodml.errors import KeyRequired, KeysError, NotFoundError, RoleTooLow, did_you_mean, listing
from prodml.store.database import Database
from prodml.store.runs import as_utc, utc_now
from prodml.store.tables import ApiKeyRow

Role = Literal["viewer", "reviewer", "operator", "admin"]
#: the roles, each allowed what those before it are
ROLES: tuple[Role, ...] = ("viewer", "reviewer", "operator", "admin")
PREFIX = "prodml"
#: how long a server trusts what it read of the store's keys
REFRESH_SECONDS = 2.0
MAX_NAME = 200
_ID = re.compile(r"[0-9a-f]{12}")


@dataclass(frozen=True)
class KeyInfo:
    """What the store says of a key, never its secret or hash."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def shown(self) -> dict[str, str | None]:
        """What may be shown of the key, as JSON: name, id, role, and when it was created
        and revoked (never its secret or hash)."""
        revoked = None if self.revoked_at is None else self.revoked_at.isoformat()
        return {
            "name": self.name,
            "id": self.id,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "revoked_at": revoked,
        }


class Keys:
    """The API keys of a store: made, listed, revoked, and checked on requests."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self.database = database
        self._clock = clock
        self._known: dict[str, tuple[KeyInfo, str]] = {}  # by id: the key and its hash
        self._read_at: float | None = None

    def create(self, name: str, role: str) -> tuple[KeyInfo, str]:
        """A new key named ``name`` of ``role``, and the key itself: it is not stored, so
        this is the only time anyone sees it."""
        checked = parse_role(role)
        name = checked_name(name)
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        info = KeyInfo(key_id, name, checked, utc_now())
        try:
            with self.database.session() as session:
                if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name)):
                    raise _taken(name)
                session.add(
                    ApiKeyRow(
                        id=key_id,
                        name=name,
                        role=checked,
                        hash=_digest(secret),
                        created_at=info.created_at,
                    )
                )
        except sqlalchemy.exc.IntegrityError:  # made at the same moment elsewhere
            raise _taken(name) from None
        self._read_at = None
        return info, f"{PREFIX}_{key_id}_{secret}"

    def list(self) -> builtins.list[KeyInfo]:
        """Every key, revoked ones too, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            return [_info(row) for row in rows]

    def revoke(self, name: str) -> KeyInfo:
        """Revoke the key named ``name`` (again: no change); servers refuse it from then on."""
        with self.database.session() as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
            if row is None:
                names = session.scalars(select(ApiKeyRow.name).order_by(ApiKeyRow.name)).all()
                if not names:
                    raise NotFoundError(f"no key named {name!r}: this store holds no keys")
                raise NotFoundError(
                    f"no key named {name!r}; keys are: {listing(names)}{did_you_mean(name, names)}"
                )
            if row.revoked_at is None:
                row.revoked_at = utc_now()
            info = _info(row)
        self._read_at = None
        return info

    def any_active(self) -> bool:
        """Whether the store holds a key that is not revoked (as read at most
        REFRESH_SECONDS ago)."""
        return any(info.active for info, _ in self._read().values())

    def any_made(self) -> bool:
        """Whether a key was ever made here: a revoked one counts, so that revoking a
        leaked last key does not open what keys closed (as read at most REFRESH_SECONDS
        ago)."""
        return bool(self._read())

    def check(self, authorization: str | None, needed: Role) -> KeyInfo:
        """The key of an ``Authorization: Bearer KEY`` header, if its role is ``needed`` or
        above; else :class:`KeyRequired` (no key, or a malformed, unknown or revoked one:
        HTTP 401) or :class:`RoleTooLow` (403)."""
        how = f"get one with `prodml keys create NAME --role {needed}`"
        wanted = f"a key of role {needed} or above, sent as 'Authorization: Bearer KEY'"
        if not authorization:
            raise KeyRequired(f"this needs {wanted}, and none was sent; {how}")
        scheme, _, token = authorization.strip().partition(" ")
        prefix, _, rest = token.strip().partition("_")
        key_id, _, secret = rest.partition("_")
        if (
            scheme.lower() != "bearer"
            or prefix != PREFIX
            or not _ID.fullmatch(key_id)
            or not secret
        ):
            raise KeyRequired(
                f"the Authorization header is not 'Bearer {PREFIX}_<id>_<secret>'; "
                f"this needs {wanted}; {how}"
            )
        known = self._read().get(key_id)
        if known is None or not hmac.compare_digest(known[1], _digest(secret)):
            raise KeyRequired(
                f"key {key_id} is not a key of this server; this needs {wanted}; {how}"
            )
        info = known[0]
        if info.revoked_at is not None:
            raise KeyRequired(
                f"key '{info.name}' was revoked on {info.revoked_at:%Y-%m-%d %H:%M} UTC; "
                f"this needs {wanted}; {how}"
            )
        if ROLES.index(info.role) < ROLES.index(needed):
            raise RoleTooLow(
                f"key '{info.name}' has role {info.role}, and this needs {needed} or above; {how}"
            )
        return info

    def _read(self) -> dict[str, tuple[KeyInfo, str]]:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= REFRESH_SECONDS:
            with self.database.session() as session:
                rows = session.scalars(select(ApiKeyRow)).all()
                self._known = {row.id: (_info(row), row.hash) for row in rows}
            self._read_at = now
        return self._known


def parse_role(value: str) -> Role:
    """``value`` as a role, or :class:`KeysError` naming the roles.

    >>> parse_role("operator")
    'operator'
    """
    for role in ROLES:
        if value == role:
            return role
    raise KeysError(
        f"role {value!r} is not a role; roles are: {listing(ROLES)} (each may do what "
        f"those before it may){did_you_mean(value, ROLES)}"
    )


def checked_name(name: str) -> str:
    """``name`` without surrounding spaces, if it can name a key; else :class:`KeysError`.

    >>> checked_name(" ci ")
    'ci'
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise KeysError(
            f"key name {name[:MAX_NAME]!r} is not a name; give 1 to {MAX_NAME} printable "
            "characters, e.g. ci-deployer"
        )
    return name


def check_exposed(host: str, keys: Keys | None, *, admin: bool = True) -> None:
    """Refuse (:class:`KeysError`) to serve the admin routes on ``host``, an address other
    machines reach, while no key exists to use them: turn ``admin`` off, serve on loopback
    or create a key first.

    >>> check_exposed("127.0.0.1", None), check_exposed("0.0.0.0", None, admin=False)
    (None, None)
    """
    if not admin or is_loopback(host) or (keys is not None and keys.any_active()):
        return
    raise KeysError(
        f"--host {host} would serve the admin routes (deploy, promote, rollback, stop, keys) "
        "to other machines, and no key exists to guard them; create one with "
        "`prodml keys create NAME --role admin`, serve on 127.0.0.1, or set serve.admin: "
        "false in prodml.yaml"
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine reaches ``host`` (a name other than localhost: no).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(row: ApiKeyRow) -> KeyInfo:
    created = as_utc(row.created_at) or row.created_at
    return KeyInfo(row.id, row.name, parse_role(row.role), created, as_utc(row.revoked_at))


def _taken(name: str) -> KeysError:
    return KeysError(
        f"a key named {name!r} exists (a revoked key keeps its name); choose another name, "
        f"e.g. {name}-2"
    )
