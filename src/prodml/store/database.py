"""The database behind the store: embedded SQLite (WAL) by default, PostgreSQL on request.

Opening a database brings its schema to the newest migration, under a lock so that two
processes opening a new store at once do not both create it; ``migrate=False`` opens it as
it is, to say where it stands (:meth:`Database.migrations`, ``prodml store current``)
before :meth:`Database.upgrade` runs what is missing (``prodml store upgrade``).
:meth:`Database.for_reading` opens it for a process that only reads: never migrated (a
read-only role cannot, and older servers may still serve from it), refused while it
lacks migrations. A database at a migration this prodml does not know was made by a
newer prodml: opening it stops with a message that says so.

>>> import tempfile, pathlib
>>> db = Database(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'prodml.db'}")
>>> folder = resources.files("prodml.store") / "migrations" / "versions"
>>> db.revision() == max(m.name[:4] for m in folder.iterdir() if m.name[:1].isdigit())
True
>>> db.migrations().pending
()
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import sqlite3
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from prodml.errors import StoreError

#: Any constant works; PostgreSQL advisory locks are keyed by a 64-bit integer.
_MIGRATION_LOCK = 0x70726F646D6C


@dataclass(frozen=True)
class Migration:
    """One migration of the schema: its revision and what it does (its first sentence)."""

    revision: str
    doc: str


@dataclass(frozen=True)
class Migrations:
    """Where a database's schema stands: its revision (None: no prodml table yet), the
    newest this prodml knows, and the migrations it would run, oldest first."""

    url: str
    current: str | None
    head: str
    pending: tuple[Migration, ...]

    @property
    def newer(self) -> bool:
        """Was the database migrated by a newer prodml (a revision this one does not know)?"""
        return self.current is not None and self.current != self.head and not self.pending


class Turns:
    """A lock file (``path``; None: no lock, as on PostgreSQL) held open across the turns of
    one writer, each turn a ``with turns():`` block that holds it: opening the file for
    every commit cost the prediction log's thread about 40 µs a commit.

    flock locks belong to an open file, so two writers (two threads, two processes) that
    must exclude each other each need their own ``Turns``.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "db.log.lock"
    >>> one, other = Turns(path), Turns(path)
    >>> with one() as held:
    ...     with other(wait=False) as again:
    ...         held, again
    (True, False)
    >>> with other(wait=False) as held:
    ...     held
    True
    >>> one.close(); other.close()
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    @contextlib.contextmanager
    def __call__(self, *, wait: bool = True) -> Iterator[bool]:
        """Hold the lock while the block runs; with ``wait=False``, the block is told
        False at once when another holds it."""
        if self.path is None:
            yield True
            return
        if self._handle is None:
            self._handle = self.path.open("a")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(self._handle, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file (which lets go of the lock, if held)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Database:
    """An engine with its schema migrated, handing out sessions."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(
                f"database URL '{url}' is not an SQLAlchemy URL; use e.g. "
                "sqlite:///.prodml/prodml.db or postgresql+psycopg://user@host/db"
            ) from None
        self.url = parsed.render_as_string(hide_password=True)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        try:
            self.engine = _engine(url, sqlite=self.is_sqlite)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise StoreError(
                f"database URL '{self.url}' needs a driver that is not installed ({exc}); "
                "for PostgreSQL: pip install 'prodml[postgres]'"
            ) from None
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder for the database {self.url}: {exc.strerror} "
                f"({exc.filename}); choose a writable place with PRODML_DATABASE_URL"
            ) from None
        # A database dropped without dispose() (a command's Project is not closed) closes
        # its pooled connections when collected, instead of leaving them to the driver.
        weakref.finalize(self, self.engine.dispose)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        reader = self.engine.execution_options(prodml_read=True)
        self._readers = sessionmaker(reader, expire_on_commit=False)
        #: the SQLite database file (None: PostgreSQL, or an in-memory database)
        self.file = parsed.database if self.is_sqlite and parsed.database != ":memory:" else None
        self._script = ScriptDirectory(str(resources.files("prodml.store") / "migrations"))
        if migrate:
            try:
                self.upgrade()
            except BaseException:
                self.engine.dispose()  # no connection left for the garbage collector
                raise

    @classmethod
    def for_reading(cls, url: str) -> Database:
        """The database for a process that only reads: opened without migrating it, and
        refused (a StoreError that says how to upgrade) while it lacks migrations or was
        made by a newer prodml. One with no prodml table yet is created at the newest
        migration: no older prodml serves from it, and it then reads as an empty store.

        >>> import tempfile
        >>> db = Database.for_reading(f"sqlite:///{tempfile.mkdtemp()}/prodml.db")
        >>> db.migrations().pending
        ()
        """
        database = cls(url, migrate=False)
        try:
            state = database.migrations()
            if state.current is None:
                database.upgrade()
            elif state.newer:
                raise _newer(state)
            elif state.pending:
                behind = len(state.pending)
                raise StoreError(
                    f"the store at {state.url} is at migration {state.current} and this "
                    f"prodml needs {state.head} ({behind} migration{'s' * (behind > 1)} "
                    "behind): run `prodml store upgrade` (back up first), or use the prodml "
                    "that made it"
                )
        except BaseException:
            database.dispose()
            raise
        return database

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it takes no write lock (a plain ``BEGIN``,
        a snapshot of the WAL), so a server polling the store never makes the prediction
        log's writer wait in SQLite's coarse busy handler."""
        with self._readers.begin() as session:
            yield session

    @contextlib.contextmanager
    def queued(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """Hold the lock file ``<database>.<name>.lock`` (SQLite only) while the block runs;
        with ``wait=False``, the block is told False at once when another holds it.

        Writers in several processes that take it around their transactions queue in the
        kernel and are woken the moment it is free; SQLite's own busy handler instead sleeps
        up to 100 ms between tries, which is the tail latency of a busy server. A writer
        that takes it often keeps its :meth:`turns` instead.
        """
        turns = self.turns(name)
        try:
            with turns(wait=wait) as held:
                yield held
        finally:
            turns.close()

    def turns(self, name: str) -> Turns:
        """The lock file of :meth:`queued`, kept open for one writer's many turns."""
        return Turns(None if self.file is None else Path(f"{self.file}.{name}.lock"))

    @contextlib.contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """Run the block in one process at a time, among all that share this database:
        the lock file ``<database>.<name>.lock`` on SQLite, a session advisory lock
        (keyed by ``name``) on PostgreSQL; either is let go if the process dies. With
        ``wait=False`` the block runs at once and is told whether it holds the lock.

        >>> import tempfile
        >>> db = Database(f"sqlite:///{tempfile.mkdtemp()}/prodml.db")
        >>> with db.exclusive("retrain", wait=False) as held:
        ...     with db.exclusive("retrain", wait=False) as again:
        ...         held, again
        (True, False)
        """
        if self.is_sqlite:
            with self.queued(name, wait=wait) as held:
                yield held
            return
        key = int.from_bytes(
            hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
        )
        with self.engine.connect() as conn:
            take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
            held = conn.execute(text(f"SELECT {take}(:key)"), {"key": key}).scalar() is not False
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()

    def revision(self) -> str | None:
        """The migration the schema is at."""
        with self._opening(), self._looking() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def migrations(self) -> Migrations:
        """Where the schema stands, and the migrations :meth:`upgrade` would run."""
        return self._migrations(self.revision())

    def upgrade(self) -> list[Migration]:
        """Run the migrations the schema lacks, under a lock shared by every process that
        opens the database; the list of those run (none when another process ran them)."""
        head = self._script.get_current_head()
        assert head is not None  # the package ships its migrations
        with self._opening():
            # SQLite: no look before the lock, as a look takes it anyway (see _looking).
            if not self.is_sqlite and self.revision() == head:
                return []
            lock_file = (self.file or ":memory:") if self.is_sqlite else None
            with _migration_lock(lock_file, self.engine) as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                state = self._migrations(current)
                if state.newer:
                    raise _newer(state)
                if not state.pending:
                    return []
                config = Config()
                config.set_main_option("script_location", self._script.dir)
                config.attributes["connection"] = conn
                try:
                    command.upgrade(config, "head")
                except DBAPIError as exc:
                    raise StoreError(
                        f"cannot migrate the store at {self.url} from "
                        f"{current or 'no prodml tables'} to {head}: {_reason(exc)}; run "
                        "`prodml store upgrade` as a role that may change its schema (e.g. "
                        "its owner)"
                    ) from None
                conn.commit()
                return list(state.pending)

    def dispose(self) -> None:
        self.engine.dispose()

    def _migrations(self, current: str | None) -> Migrations:
        head = self._script.get_current_head()
        assert head is not None  # the package ships its migrations
        known = list(self._script.walk_revisions())  # newest first
        revisions = [script.revision for script in known]
        if current is not None and current not in revisions:
            pending: list[Migration] = []
        else:
            missing = revisions[: revisions.index(current)] if current else revisions
            pending = [
                Migration(script.revision, _first_sentence(script.doc))
                for script in reversed(known)
                if script.revision in missing
            ]
        return Migrations(self.url, current, head, tuple(pending))

    @contextlib.contextmanager
    def _looking(self) -> Iterator[Connection]:
        """A connection to look at the schema with. SQLite: under the migration lock, because
        the first connection to a new file switches it to WAL, which fails rather than
        waits when another process is doing the same."""
        if not self.is_sqlite:
            with self.engine.connect() as conn:
                yield conn
            return
        with _migration_lock(self.file or ":memory:", self.engine) as conn:
            yield conn

    @contextlib.contextmanager
    def _opening(self) -> Iterator[None]:
        """A database the driver cannot open (no server, a file that is not a database)
        as one StoreError that says what to check."""
        try:
            yield
        except DBAPIError as exc:
            raise StoreError(
                f"cannot open the database at {self.url}: {_reason(exc)}; check that the server "
                "runs, the URL (PRODML_DATABASE_URL or store.database) is right and the file "
                "is a prodml database"
            ) from None


def _reason(exc: DBAPIError) -> str:
    """The first line of what the driver said."""
    return str(exc.orig).strip().splitlines()[0]


def _newer(state: Migrations) -> StoreError:
    """The refusal of a database a newer prodml migrated."""
    return StoreError(
        f"the database at {state.url} is at migration {state.current}, which this prodml "
        f"does not know (its newest is {state.head}): a newer prodml made it; upgrade "
        "prodml (pip install -U prodml) to open it, or point PRODML_DATABASE_URL at "
        "another store"
    )


def _first_sentence(doc: str) -> str:
    """A migration's docstring up to its first full stop, on one line.

    >>> _first_sentence("Runs and their  artifacts. Then more.")
    'Runs and their artifacts.'
    """
    words = " ".join(doc.split())
    first, stop, _ = words.partition(". ")
    return first + "." if stop else words


def _engine(url: str, *, sqlite: bool) -> Engine:
    if not sqlite:
        return create_engine(url, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, say when a transaction begins: see _begin.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so a writer waits for another
        # (busy timeout) instead of failing when its read lock cannot be upgraded; a
        # reader (Database.reading) takes none.
        reads = conn.get_execution_options().get("prodml_read", False)
        conn.exec_driver_sql("BEGIN" if reads else "BEGIN IMMEDIATE")

    return engine


@contextlib.contextmanager
def _migration_lock(sqlite_file: str | None, engine: Engine) -> Iterator[Connection]:
    if sqlite_file is None:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            conn.commit()
            try:
                yield conn
            finally:
                # a failed migration left the transaction aborted: end it first, or the
                # unlock fails too and its error hides the migration's
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                conn.commit()
        return
    lock_path = Path(f"{sqlite_file}.lock") if sqlite_file != ":memory:" else None
    with contextlib.ExitStack() as stack:
        if lock_path is not None:
            handle = stack.enter_context(lock_path.open("a"))
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield stack.enter_context(engine.connect())
