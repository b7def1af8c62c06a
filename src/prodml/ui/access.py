"""Who may see and do what on the dashboard.

Once any API key was made in the store (a revoked one counts, as for the server's
routes: revoking the last key does not open the dashboard), every page needs a key of
role ``viewer`` or above. A person signs in once by pasting their key into a form; it is
checked by :meth:`prodml.deploy.keys.Keys.check` (hashed, compared in constant time) and
from then on a signed, ``HttpOnly``, ``SameSite=Lax`` session cookie carries the key's
public id, never the key. The id is looked up in the store on every request, so a
revoked key signs its sessions out at once. Actions need their role: ``operator`` to
register, deploy, promote, roll back and stop; ``reviewer`` to answer review items.

Every form carries a CSRF token kept in the session, and every POST is refused (403)
unless it sends it back. With no key made, the dashboard answers this machine's clients
(loopback) without sign-in, as the command line does, and refuses others.

>>> ana = Visitor("ana", "reviewer", signed_in=True)
>>> ana.may("viewer"), ana.may("operator")
(True, False)
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from prodml.deploy.changes import who
from prodml.deploy.keys import ROLES, KeyInfo, Keys, Role, is_loopback
from prodml.errors import KeyRequired, KeysError, RoleTooLow

#: the cookie that carries a session; its lifetime, in seconds
SESSION_COOKIE = "prodml_session"
SESSION_SECONDS = 12 * 3600
#: the form field that carries the CSRF token
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Visitor:
    """Who is looking: a key's name and role, or (no key made, on loopback) this
    machine's user with every role."""

    name: str
    role: Role
    signed_in: bool

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


class Access:
    """The dashboard's checks, over the store's keys."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def visitor(self, request: Request) -> Visitor:
        """Who sent ``request``; :class:`KeyRequired` (401: sign in) when a key is
        needed and the session holds no active one."""
        if not self.keys.any_made():
            client = request.client.host if request.client else ""
            if not is_loopback(client):
                raise HTTPException(
                    403,
                    f"no API key exists in this store, so the dashboard answers only this "
                    f"machine, not {client or 'an unknown client'}; make a key with `prodml "
                    "keys create NAME --role viewer` and sign in with it",
                )
            return Visitor(who(), "admin", signed_in=False)
        key_id = request.session.get("key")
        info = self._active(key_id) if isinstance(key_id, str) else None
        if info is None:
            request.session.pop("key", None)
            raise KeyRequired(
                "sign in with an API key of role viewer or above (`prodml keys create NAME "
                "--role viewer` makes one)"
            )
        return Visitor(info.name, info.role, signed_in=True)

    def require(self, request: Request, role: Role) -> Visitor:
        """The visitor, if their role is ``role`` or above; else :class:`RoleTooLow` (403)."""
        visitor = self.visitor(request)
        if not visitor.may(role):
            raise RoleTooLow(
                f"key '{visitor.name}' has role {visitor.role}, and this needs {role} or "
                f"above; sign in with such a key (`prodml keys create NAME --role {role}`)"
            )
        return visitor

    def sign_in(self, request: Request, key: str) -> Visitor:
        """Check ``key`` and start a session for it (a new CSRF token too)."""
        try:
            info = self.keys.check(f"Bearer {key.strip()}", "viewer")
        except KeysError:
            raise KeyRequired(
                "sign-in refused: that is not an active API key of this store (a key reads "
                "prodml_<id>_<secret>, as `prodml keys create NAME --role viewer` prints it "
                "once); check it was copied whole and not revoked (`prodml keys list`)"
            ) from None
        request.session.clear()
        request.session["key"] = info.id
        request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
        return Visitor(info.name, info.role, signed_in=True)

    def _active(self, key_id: str) -> KeyInfo | None:
        for info in self.keys.list():
            if info.id == key_id and info.active:
                return info
        return None


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = request.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches the session's; else 403."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    kept = request.session.get(CSRF_FIELD)
    if (
        not isinstance(sent, str)
        or not isinstance(kept, str)
        or not hmac.compare_digest(sent.encode(), kept.encode())
    ):
        raise HTTPException(
            403,
            "the form's CSRF token is missing or stale (the page is older than your session, "
            "or the form came from another site); reload the page and send it again",
        )
    return form
