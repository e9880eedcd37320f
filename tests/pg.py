"""A throw-away PostgreSQL server for the tests, from the Debian binaries (``initdb`` + ``pg_ctl``).

``PostgresServer.start()`` runs ``initdb`` into a fresh folder under the system temp dir, starts the
server on 127.0.0.1 on a free port (its unix socket in that folder, so it never touches
``/run/postgresql``) and answers URLs of fresh databases (``create_database``); ``stop()`` removes
everything. ``durable=False`` (the default) turns fsync, synchronous commit and full-page writes off:
a test never outlives the server, so only speed matters; ``durable=True`` keeps PostgreSQL's defaults,
so a crash (``crash()``: an immediate shutdown, recovered from the WAL on the next ``start()``)
keeps every commit that was acknowledged.

PostgreSQL refuses to run as root. As root (as in CI), the folder is handed to the ``postgres`` user
(created by the Debian package) and ``initdb``/``pg_ctl`` run as that user through ``runuser`` (or
``su`` where ``runuser`` is missing); as anyone else they run as that user. The binaries are looked up
on ``PATH``, then in ``/usr/lib/postgresql/<version>/bin`` (where Debian puts them, off ``PATH``).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

RUN_AS = "postgres"
INSTALL_HINT = "`make setup` installs them (the Debian package `postgresql`)"
#: Not UTC on purpose: a naive datetime sent to PostgreSQL is read in the session's time zone, so a
#: store that forgot to say "UTC" shows up as an error of many hours in the tests.
TEST_TIMEZONE = "Pacific/Chatham"


#: For modules that pin ``database_backend`` to SQLite (slow flows): run this test on both databases.
BOTH_DATABASES = pytest.mark.parametrize("database_backend", ["sqlite", "postgresql"])


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or no way to run them; the message says what to install."""


def find_bin_dir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: from ``PATH``, else Debian's newest."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    candidates = []
    if initdb and pg_ctl:  # often symlinks into /usr/lib/postgresql/<version>/bin: use the real folder
        candidates.append(Path(os.path.realpath(pg_ctl)).parent)

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "the PostgreSQL-parametrised tests need PostgreSQL's server binaries (initdb, pg_ctl, postgres), "
        f"found neither on PATH nor in /usr/lib/postgresql/*/bin: {INSTALL_HINT}"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_postgres(*, durable: bool = False) -> PostgresServer:
    """A started throw-away PostgreSQL; fails the test, never skips it, when there is none: ``make
    test`` runs the PostgreSQL half of the suite on every machine."""
    server = None
    try:
        server = PostgresServer(durable=durable)
        return server.start()
    except PostgresUnavailable as exc:
        if server is not None:
            server.stop()
        pytest.fail(f"cannot start PostgreSQL for the tests: {exc}", pytrace=False)


def forget_engine(url: str) -> None:
    """Close the pooled connections ``signals.db`` holds to ``url`` (before its database is dropped)."""
    from signals import db

    db.get_engine(url).dispose()


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, reachable as ``postgres`` (trust) on loopback."""

    def __init__(self, *, durable: bool = False, timezone: str = TEST_TIMEZONE) -> None:
        self.bin_dir = find_bin_dir()
        self.durable = durable
        self.timezone = timezone
        self.as_root = os.geteuid() == 0
        # As root the folder must be reachable by the postgres user: /tmp is, a private TMPDIR may not be.
        self.root = Path(tempfile.mkdtemp(prefix="signals-pg-", dir="/tmp" if self.as_root else None))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._admin: psycopg.Connection[Any] | None = None
        self._names = itertools.count(1)
        if self.as_root:
            try:
                user = pwd.getpwnam(RUN_AS)
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise PostgresUnavailable(
                    f"running as root, and PostgreSQL refuses to run as root: it runs as the "
                    f"{RUN_AS!r} user, which does not exist here ({INSTALL_HINT})"
                ) from None
            os.chown(self.root, user.pw_uid, user.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
            if runuser:
                cmd = [runuser, "-u", RUN_AS, "--", *cmd]
            else:
                cmd = ["su", RUN_AS, "-s", "/bin/sh", "-c", shlex.join(cmd)]
        done = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            output = done.stdout[-2000:] + done.stderr[-2000:]
            raise PostgresUnavailable(f"{' '.join(cmd)} failed ({done.returncode}):\n{output}{log}")

    def start(self) -> PostgresServer:
        """initdb on first start, then start the server (on a new free port) and wait until it answers."""
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")  # fmt: skip
        for attempt in range(3):
            if attempt or not self.port:  # a restart keeps its port, so URLs handed out stay valid
                self.port = _free_port()
            settings = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.root}'",
                "max_connections": "200",
                "timezone": f"'{self.timezone}'",
                "fsync": "on" if self.durable else "off",
                "synchronous_commit": "on" if self.durable else "off",
                "full_page_writes": "on" if self.durable else "off",
            }
            # postgresql.auto.conf is read last: the settings of this start win over earlier ones.
            (self.data / "postgresql.auto.conf").write_text(
                "".join(f"{k} = {v}\n" for k, v in settings.items())
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
                return self
            except PostgresUnavailable:
                if attempt == 2:  # the free port was taken in between, or a real failure
                    raise
        return self

    def crash(self) -> None:
        """Stop at once without a checkpoint, like a crash: the next ``start()`` recovers from the WAL."""
        self._close_admin()
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        self._close_admin()
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """A plain ``postgresql://`` URL, as a user would give it (``signals.db`` picks the driver)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _admin_connection(self) -> psycopg.Connection[Any]:
        import psycopg

        if self._admin is None:
            self._admin = psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
            )
        return self._admin

    def _close_admin(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def execute(self, sql: str) -> None:
        """Run one statement on the ``postgres`` database, outside a transaction (CREATE DATABASE...)."""
        self._admin_connection().execute(sql)  # type: ignore[arg-type]  # not a literal: our own names

    def create_database(self, template: str = "template0") -> str:
        """A new empty database (a copy of ``template``); returns its name."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        # FILE_COPY copies the template's files at once instead of writing every page to the WAL.
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any connection still open to it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
