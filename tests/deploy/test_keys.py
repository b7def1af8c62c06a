"""API keys in a real store (an SQLite file, and PostgreSQL): made with a role and shown
once, stored as a hash, checked in constant time, revoked; the mistakes, one line each."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import text

from prodml.deploy.keys import (
    REFRESH_SECONDS,
    ROLES,
    KeyInfo,
    Keys,
    check_exposed,
    is_loopback,
)
from prodml.errors import KeyRequired, KeysError, NotFoundError, ProdmlError, RoleTooLow
from prodml.store.database import Database
from prodml.store.tables import ApiKeyRow

KEY = re.compile(r"prodml_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


def opened(url: str) -> Iterator[Keys]:
    database = Database(url)
    yield Keys(database)
    database.dispose()


@pytest.fixture
def keys(database_url: str) -> Iterator[Keys]:
    """The keys of an SQLite file or of the session's PostgreSQL database (shared: give
    each key a name of its own, and assume nothing of the others)."""
    yield from opened(database_url)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Keys]:
    """The keys of a new SQLite store, which holds none."""
    yield from opened(f"sqlite:///{tmp_path / 'fresh.db'}")


def unique(name: str) -> str:
    return f"{name}-{uuid4().hex[:8]}"


def bearer(key: str) -> str:
    return f"Bearer {key}"


# --- making, listing, revoking ----------------------------------------------------------


def test_a_new_key_has_the_public_form_and_is_listed_with_its_role(keys: Keys) -> None:
    name = unique("ci")
    info, key = keys.create(name, "operator")

    found = KEY.fullmatch(key)
    assert found is not None, key
    assert found[1] == info.id
    assert (info.name, info.role, info.active) == (name, "operator", True)
    assert info in keys.list()


def test_the_store_holds_the_sha256_of_the_secret_never_the_key(keys: Keys) -> None:
    info, key = keys.create(unique("ci"), "admin")
    secret = key.split("_", 2)[2]

    with keys.database.session() as session:
        row = session.get(ApiKeyRow, info.id)
        assert row is not None
        assert row.hash == hashlib.sha256(secret.encode()).hexdigest()
        stored = session.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": info.id})
        values = [str(value) for value in stored.one()]
    assert not any(secret in value or key in value for value in values)


def test_the_key_is_shown_once_nothing_reads_it_back(keys: Keys) -> None:
    name = unique("ci")
    _, key = keys.create(name, "viewer")

    listed = next(k for k in keys.list() if k.name == name)
    assert key.split("_", 2)[2] not in repr(listed)
    assert [f for f in KeyInfo.__dataclass_fields__] == [
        "id",
        "name",
        "role",
        "created_at",
        "revoked_at",
    ]


def test_what_is_shown_of_a_key_is_json_without_its_secret(fresh: Keys) -> None:
    _, key = fresh.create("ci", "operator")
    revoked = fresh.revoke("ci")

    shown = revoked.shown()

    assert revoked.revoked_at is not None
    assert shown == {
        "name": "ci",
        "id": revoked.id,
        "role": "operator",
        "created_at": revoked.created_at.isoformat(),
        "revoked_at": revoked.revoked_at.isoformat(),
    }
    assert key.split("_", 2)[2] not in repr(shown)


def test_two_keys_never_share_an_id_or_a_secret(keys: Keys) -> None:
    made = [keys.create(unique("k"), "viewer")[1] for _ in range(5)]
    assert len({k.split("_")[1] for k in made}) == len({k.split("_", 2)[2] for k in made}) == 5


def test_a_new_store_holds_no_key_and_admits_nobody(fresh: Keys) -> None:
    assert fresh.list() == []
    assert not fresh.any_active() and not fresh.any_made()
    with pytest.raises(KeyRequired):
        fresh.check(bearer("prodml_000000000000_" + "A" * 43), "viewer")


def test_revoking_keeps_the_key_listed_and_the_store_closed(fresh: Keys) -> None:
    fresh.create("ci", "operator")
    assert fresh.any_active() and fresh.any_made()

    revoked = fresh.revoke("ci")

    assert revoked.revoked_at is not None and not revoked.active
    assert fresh.list() == [revoked]
    assert fresh.revoke("ci") == revoked  # again: no change
    # no active key, but one was made: what keys closed stays closed
    assert not fresh.any_active() and fresh.any_made()


# --- checking a request's key -----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_a_key_is_admitted_where_its_role_or_a_lower_one_is_needed(keys: Keys, role: str) -> None:
    info, key = keys.create(unique(role), role)
    rank = ROLES.index(info.role)
    for needed in ROLES[: rank + 1]:
        assert keys.check(bearer(key), needed) == info
    for needed in ROLES[rank + 1 :]:
        with pytest.raises(RoleTooLow) as refused:
            keys.check(bearer(key), needed)
        assert refused.value.status == 403


def test_a_key_of_a_lower_role_says_what_is_needed_and_how_to_get_it(keys: Keys) -> None:
    name = unique("labeler")
    _, key = keys.create(name, "reviewer")
    message = (
        f"key '{name}' has role reviewer, and this needs operator or above; "
        "get one with `prodml keys create NAME --role operator`"
    )
    with pytest.raises(RoleTooLow, match=re.escape(message)):
        keys.check(bearer(key), "operator")


def test_the_scheme_is_read_in_any_case(keys: Keys) -> None:
    info, key = keys.create(unique("ci"), "viewer")
    assert keys.check(f"bearer {key}", "viewer") == info
    assert keys.check(f"  BEARER   {key} ", "viewer") == info


def test_a_revoked_key_is_refused_with_401(keys: Keys) -> None:
    name = unique("ci")
    _, key = keys.create(name, "admin")
    keys.revoke(name)
    with pytest.raises(KeyRequired, match=f"key '{name}' was revoked on .* UTC") as refused:
        keys.check(bearer(key), "viewer")
    assert refused.value.status == 401


def test_no_key_is_refused_with_401_saying_how_to_get_one(keys: Keys) -> None:
    for missing in (None, ""):
        with pytest.raises(KeyRequired) as refused:
            keys.check(missing, "reviewer")
        assert str(refused.value) == (
            "this needs a key of role reviewer or above, sent as 'Authorization: Bearer KEY', "
            "and none was sent; get one with `prodml keys create NAME --role reviewer`"
        )


@pytest.mark.parametrize(
    "header",
    [
        "{key}",  # no scheme
        "Basic {key}",
        "Bearer",
        "Bearer ",
        "Bearer other_{id}_{secret}",
        "Bearer prodml_{id}",
        "Bearer prodml_ZZZZZZZZZZZZ_{secret}",
        "Bearer prodml_{id}{glued}",  # no separator (a secret may begin with one: strip it)
        "Token prodml_{id}_{secret}",
    ],
)
def test_a_malformed_header_is_refused_with_401_without_echoing_it(keys: Keys, header: str) -> None:
    info, key = keys.create(unique("ci"), "admin")
    secret = key.split("_", 2)[2]
    sent = header.format(key=key, id=info.id, secret=secret, glued=secret.lstrip("_"))
    with pytest.raises(KeyRequired, match="is not 'Bearer prodml_<id>_<secret>'") as refused:
        keys.check(sent, "viewer")
    assert key.split("_", 2)[2] not in str(refused.value)


def test_an_unknown_key_or_a_wrong_secret_is_refused_with_401(keys: Keys) -> None:
    info, key = keys.create(unique("ci"), "admin")
    wrong_secret = f"prodml_{info.id}_{'B' * 43}"
    unknown_id = f"prodml_{'f' * 12}_{key.split('_', 2)[2]}"
    for sent in (wrong_secret, unknown_id):
        with pytest.raises(KeyRequired, match="is not a key of this server") as refused:
            keys.check(bearer(sent), "viewer")
        assert refused.value.status == 401


def test_the_digests_are_compared_by_hmac_compare_digest(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str, bool]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        same = real(a, b)
        compared.append((a, b, same))
        return same

    info, key = keys.create(unique("ci"), "viewer")
    monkeypatch.setattr(hmac, "compare_digest", spy)
    stored = hashlib.sha256(key.split("_", 2)[2].encode()).hexdigest()

    assert keys.check(bearer(key), "viewer") == info
    with pytest.raises(KeyRequired):
        keys.check(bearer(f"prodml_{info.id}_{'C' * 43}"), "viewer")

    assert [(a, same) for a, _, same in compared] == [(stored, True), (stored, False)]
    assert compared[1][1] == hashlib.sha256(b"C" * 43).hexdigest()


# --- what servers read: every REFRESH_SECONDS -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_server_sees_a_new_or_revoked_key_within_the_refresh_time(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    admin_db, server_db = Database(url), Database(url)
    try:
        clock = Clock()
        admin, server = Keys(admin_db), Keys(server_db, clock=clock)
        assert not server.any_active()

        _, key = admin.create("ci", "operator")
        assert not server.any_active()  # read a moment ago: not read again yet
        clock.now += REFRESH_SECONDS
        assert server.any_active()
        assert server.check(bearer(key), "operator").name == "ci"

        admin.revoke("ci")
        assert server.check(bearer(key), "operator").name == "ci"
        clock.now += REFRESH_SECONDS
        with pytest.raises(KeyRequired, match="was revoked"):
            server.check(bearer(key), "operator")
    finally:
        admin_db.dispose()
        server_db.dispose()


# --- mistakes ---------------------------------------------------------------------------


def test_a_name_taken_even_by_a_revoked_key_is_refused(keys: Keys) -> None:
    name = unique("ci")
    keys.create(name, "viewer")
    keys.revoke(name)
    with pytest.raises(KeysError, match=f"a key named '{name}' exists .* e.g. {name}-2$"):
        keys.create(name, "admin")


def test_an_unknown_role_names_the_roles_and_the_closest(keys: Keys) -> None:
    message = (
        "role 'operater' is not a role; roles are: viewer, reviewer, operator, admin (each "
        "may do what those before it may); did you mean 'operator'?"
    )
    with pytest.raises(KeysError, match=re.escape(message)):
        keys.create(unique("ci"), "operater")


@pytest.mark.parametrize("name", ["", "   ", "a" * 201, "tab\tname"])
def test_a_name_that_is_not_one_is_refused(keys: Keys, name: str) -> None:
    with pytest.raises(KeysError, match="give 1 to 200 printable characters"):
        keys.create(name, "viewer")


def test_revoking_an_unknown_name_lists_the_names_and_the_closest(fresh: Keys) -> None:
    with pytest.raises(NotFoundError, match=r"^no key named 'ci': this store holds no keys$"):
        fresh.revoke("ci")
    fresh.create("deployer", "operator")
    fresh.create("labeler", "reviewer")
    with pytest.raises(
        NotFoundError,
        match=r"^no key named 'deployr'; keys are: deployer, labeler; did you mean 'deployer'\?$",
    ):
        fresh.revoke("deployr")


def test_every_mistake_is_a_prodml_error_of_one_line(fresh: Keys) -> None:
    fresh.create("ci", "viewer")
    mistakes: list[Callable[[], object]] = [
        lambda: fresh.create("ci", "viewer"),
        lambda: fresh.create("x", "root"),
        lambda: fresh.revoke("nobody"),
        lambda: fresh.check("Bearer nonsense\nmore", "admin"),
        lambda: fresh.check(None, "admin"),
    ]
    for mistake in mistakes:
        with pytest.raises(ProdmlError) as raised:
            mistake()
        assert "\n" not in str(raised.value)


# --- serving beyond loopback ------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serving_admin_routes_beyond_loopback_needs_an_active_key(fresh: Keys) -> None:
    refusal = (
        "--host 0.0.0.0 would serve the admin routes (deploy, promote, rollback, stop, keys) "
        "to other machines, and no key exists to guard them; create one with `prodml keys "
        "create NAME --role admin`, serve on 127.0.0.1, or set serve.admin: false in prodml.yaml"
    )
    with pytest.raises(KeysError, match=re.escape(refusal)):
        check_exposed("0.0.0.0", fresh)
    with pytest.raises(KeysError, match="no key exists"):
        check_exposed("0.0.0.0", None)
    check_exposed("127.0.0.1", fresh)
    check_exposed("0.0.0.0", fresh, admin=False)

    fresh.create("ci", "admin")
    check_exposed("0.0.0.0", fresh)
    fresh.revoke("ci")
    with pytest.raises(KeysError, match="no key exists"):
        check_exposed("0.0.0.0", fresh)
