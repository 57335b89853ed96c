"""MySQL connections: a small per-process pool of PyMySQL connections, retried at start."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import pymysql
import pymysql.cursors

from kubeface import schema
from kubeface.db_tls import DatabaseTlsError, tls_arguments, tls_refusal
from kubeface.settings import Settings
from kubeface.startup import retry_at_start

log = logging.getLogger(__name__)

Cursor = pymysql.cursors.DictCursor
if TYPE_CHECKING:
    # The stubs make Connection generic in its cursor; at run time it is a plain class.
    Connection: TypeAlias = pymysql.connections.Connection[Cursor]
else:
    Connection = pymysql.connections.Connection
T = TypeVar("T")

# MySQL's "deadlock found" and "lock wait timeout": the transaction was rolled back whole, and
# MySQL's advice is to run it again.
RETRYABLE_ERRORS = frozenset({1213, 1205})


class DatabaseTlsRefused(DatabaseTlsError, pymysql.err.OperationalError):
    """A connection's TLS refusal. Also MySQL being unavailable to every caller that handles that
    (pymysql's OperationalError: the receiver's 503, a failed ingest batch), as before TLS had an
    error of its own; a service's start stops on it (schema.may_pass) instead of waiting."""


def connection_arguments(settings: Settings) -> dict[str, Any]:
    """pymysql's arguments for the settings' server, account and TLS: the one place every
    connection (services, CLI, migrations) takes them from."""
    return {
        "host": settings.mysql_host,
        "port": settings.mysql_port,
        "user": settings.mysql_user,
        "password": settings.mysql_password.get_secret_value(),
        "database": settings.mysql_database,
        "charset": "utf8mb4",
        "connect_timeout": 5,
        **tls_arguments(settings),
    }


def connect(settings: Settings, **options: Any) -> Connection:
    """Open one connection, by default with dict rows and explicit transactions; a TLS failure
    raises DatabaseTlsRefused, which says which setting to change."""
    defaults = {
        "cursorclass": pymysql.cursors.DictCursor,
        "autocommit": False,
        "read_timeout": 30,
        "write_timeout": 30,
    }
    try:
        return pymysql.connect(**connection_arguments(settings), **{**defaults, **options})
    except pymysql.err.OperationalError as exc:
        refusal = tls_refusal(exc, settings)
        if refusal is None:
            raise
        raise DatabaseTlsRefused(str(refusal)) from exc


def refuse_bad_tls_now(settings: Settings) -> None:
    """Raise DatabaseTlsError at once when MySQL is up and refuses this process's TLS.

    For the HTTP services, which wait for MySQL inside uvicorn's lifespan: an error there ends the
    process too, but as a logged traceback, where this one line reaches the kubeface CLI. Any other
    error is MySQL not up yet, which the lifespan's wait_until_reachable waits out.
    """
    try:
        connect(settings).close()
    except DatabaseTlsError:
        raise  # a pymysql error too (DatabaseTlsRefused), but one that does not pass by itself
    except pymysql.err.Error as exc:
        log.info("MySQL not reachable yet; the service waits for it", extra={"cause": repr(exc)})


class Database:
    """A bounded pool of connections; `with db.transaction() as cur:` commits or rolls back."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._slots = queue.Queue[None]()
        for _ in range(settings.mysql_pool_size):
            self._slots.put(None)

    def wait_until_reachable(
        self,
        timeout_seconds: float | None = None,
        *,
        require_schema: bool = True,
        stop: threading.Event | None = None,
    ) -> None:
        """Block until MySQL answers and, with `require_schema`, every migration this code ships
        is applied (kubeface/schema.py); by default for as long as it takes."""

        def ping() -> None:
            with self.transaction() as cur:
                cur.execute("SELECT 1")
                if require_schema:
                    schema.require_schema(cur, self._settings.migrations_dir)

        what = "database schema" if require_schema else "database"
        retry_at_start(ping, what, timeout_seconds=timeout_seconds, stop=stop)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        self._slots.get()
        conn: Connection | None = None
        try:
            conn = self._checkout()
            yield conn
        except pymysql.err.OperationalError:
            # The connection may be broken; never hand it out again.
            if conn is not None:
                _close_quietly(conn)
                conn = None
            raise
        finally:
            if conn is not None:
                self._idle.put(conn)
            self._slots.put(None)

    def _checkout(self) -> Connection:
        """An idle connection that still answers, or a new one (say, after MySQL restarted)."""
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return connect(self._settings)
            try:
                conn.ping()
                return conn
            except pymysql.err.Error:
                _close_quietly(conn)

    @contextmanager
    def transaction(self) -> Iterator[pymysql.cursors.DictCursor]:
        with self.connection() as conn:
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except BaseException:
                _rollback_quietly(conn)
                raise

    def run_transaction(self, work: Callable[[Cursor], T], attempts: int = 3) -> T:
        """`work(cursor)` in a transaction, run again (up to `attempts` in all) when MySQL rolled
        it back for a deadlock or a lock wait timeout; `work` must be safe to repeat."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as cur:
                    return work(cur)
            except pymysql.err.OperationalError as exc:
                if exc.args[0] not in RETRYABLE_ERRORS or attempt == attempts:
                    raise
                log.warning(
                    "transaction run again after MySQL error %s", exc.args[0], extra={"attempt": attempt}
                )
        raise AssertionError("unreachable")

    def close(self) -> None:
        while True:
            try:
                _close_quietly(self._idle.get_nowait())
            except queue.Empty:
                return


def _close_quietly(conn: Connection) -> None:
    try:
        conn.close()
    except pymysql.err.Error as exc:  # already broken; closing is best effort
        log.debug("closing a broken MySQL connection failed: %s", exc)


def _rollback_quietly(conn: Connection) -> None:
    # Called while another exception propagates; that one is the cause worth keeping.
    try:
        conn.rollback()
    except pymysql.err.Error as exc:
        log.debug("rollback on a failing MySQL connection failed: %s", exc)
