"""A throwaway PostgreSQL cluster for the tests: its own folder, port and socket, removed after.

`initdb` in a temporary folder, `pg_ctl start` on a free port (127.0.0.1, password only) with its
unix socket in the same folder (trust), stopped and deleted at the end of the session, or by a
watchdog process when the session's process dies first. PostgreSQL refuses to run as root: as
root, the binaries run as the `postgres` user (Debian's package makes it) and the folder is
theirs. No test touches a PostgreSQL it did not start. `make test` installs Debian's
`postgresql` where it can; elsewhere `Cluster.start()` raises Unavailable saying why, and the
tests that need it are skipped.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
# Durability is not what the tests measure: no fsync makes the cluster start and write faster.
SERVER_OPTIONS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# A process of its own that outlives the test session: when the session's process ends without
# stopping the cluster (killed by a timeout, SIGKILL), it stops the server and deletes its folder.
WATCHDOG = """
import os, select, shutil, subprocess, sys, time
session, folder, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
try:
    select.select([os.pidfd_open(session)], [], [])
except OSError:  # no pidfd (Linux before 5.3): look once a second
    while os.path.exists(f"/proc/{session}"):
        time.sleep(1)
if os.path.isdir(folder):
    subprocess.run(stop, capture_output=True, check=False, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)
"""


class Unavailable(RuntimeError):
    """No PostgreSQL can be started here; the message says why."""


def _binaries() -> Path:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version's."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    versions = sorted(
        (p.parent for p in DEBIAN_BINARIES.glob("*/bin/pg_ctl")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions and (versions[-1] / "initdb").exists():
        return versions[-1]
    raise Unavailable(
        "PostgreSQL tests skipped: initdb and pg_ctl not found on PATH nor under "
        f"{DEBIAN_BINARIES} (`make test` installs Debian's postgresql with apt-get as root)"
    )


def _run_as() -> tuple[list[str], int | None, int | None]:
    """The command prefix and owner for PostgreSQL's processes: as root, the postgres user."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable(
            "PostgreSQL tests skipped: running as root and there is no `postgres` user to run "
            "the server as (PostgreSQL refuses root)"
        ) from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise Unavailable("PostgreSQL tests skipped: running as root and `runuser` is missing")
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster; `url(name)` is a DATABASE_URL for one of its databases."""

    folder: Path
    bin: Path
    prefix: list[str]
    port: int
    password: str
    watchdog: subprocess.Popen[bytes] | None = None

    options: tuple[str, ...] = SERVER_OPTIONS

    @classmethod
    def start(
        cls, *, data: Path | None = None, options: tuple[str, ...] = SERVER_OPTIONS
    ) -> Cluster:
        """initdb and start a new cluster, or raise Unavailable saying why it cannot be had.
        `data`: start on a copy of that (stopped) cluster's data folder instead of initdb (the
        benchmarks' cached populations, `keep`); `options`: the server's settings (-c)."""
        binaries = _binaries()
        prefix, uid, gid = _run_as()
        folder = Path(tempfile.mkdtemp(prefix="dukcapil-pg-"))
        cluster = cls(folder, binaries, prefix, _free_port(), secrets.token_urlsafe(16))
        cluster.options = options
        try:
            if uid is not None and gid is not None:
                os.chown(folder, uid, gid)
            if data is None:
                cluster._initdb()
            else:  # cp -a keeps the postgres user's ownership and modes
                subprocess.run(["cp", "-a", str(data), str(folder / "data")], check=True)
            cluster._pg_ctl("start", "-w", "-t", "600", "-l", str(folder / "server.log"), "-o",
                            cluster._server_options())  # fmt: skip
            cluster._watch()
            if data is not None:  # the copy has its first cluster's password: this one's now
                cluster._admin(f"ALTER USER {SUPERUSER} PASSWORD '{cluster.password}'")
        except RuntimeError as error:
            log = cluster.log_tail()
            shutil.rmtree(folder, ignore_errors=True)
            raise RuntimeError(f"{error}\n{log}") from error
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cluster

    def _watch(self) -> None:
        """Start the watchdog that stops the cluster if this process ends without `stop`."""
        stop = self._command("pg_ctl", "-D", str(self.folder / "data"), "stop", "-m", "immediate")
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(os.getpid()), str(self.folder), *stop],
            start_new_session=True,  # a signal to the session's process group spares it
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _initdb(self) -> None:
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        if self.prefix:
            shutil.chown(pwfile, "postgres")
        self._run(
            "initdb", "-D", str(self.folder / "data"), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        pwfile.unlink()

    def _server_options(self) -> str:
        settings = [f"-p {self.port}", f"-k {self.folder}", "-c listen_addresses=127.0.0.1"]
        return " ".join(settings + [f"-c {option}" for option in self.options])

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), *args)

    def _command(self, program: str, *args: str) -> list[str]:
        return [*self.prefix, str(self.bin / program), *args]

    def _run(self, program: str, *args: str) -> None:
        command = self._command(program, *args)
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=660)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}")

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        try:
            self._pg_ctl("stop", "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            if self.watchdog is not None:
                self.watchdog.kill()
                self.watchdog.wait()

    def restart(self) -> None:
        """Restart the server at once (`immediate`: every connection is cut, as when the
        database machine restarts), on the same port."""
        self._pg_ctl("restart", "-m", "immediate", "-w", "-t", "600", "-l",
                     str(self.folder / "server.log"), "-o", self._server_options())  # fmt: skip

    def keep(self, target: Path) -> None:
        """Stop the server cleanly and move its data folder to `target` (for `start(data=)`)."""
        try:
            self._pg_ctl("stop", "-m", "fast", "-w", "-t", "600")
            shutil.move(self.folder / "data", target)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            if self.watchdog is not None:
                self.watchdog.kill()
                self.watchdog.wait()

    def log_tail(self) -> str:
        log = self.folder / "server.log"
        return log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""

    def files(self, *, since: float = 0.0) -> Iterator[tuple[Path, bytes]]:
        """Each file of the cluster's folder changed since `since` (a time.time()), with its
        bytes. A file that vanishes while the folder is walked is passed over: the databases of
        other tests are created and dropped meanwhile (tests/conftest.py's Spares)."""
        for path in sorted(self.folder.rglob("*")):
            try:
                if path.is_file() and path.stat().st_mtime >= since:
                    yield path, path.read_bytes()
            except FileNotFoundError:
                continue

    def url(self, dbname: str = "postgres") -> str:
        """The DATABASE_URL of one of the cluster's databases, over TCP with the password."""
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}@127.0.0.1:{self.port}"
            f"/{dbname}"
        )

    def socket_dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string through the unix socket (no password)."""
        return f"host={self.folder} port={self.port} user={SUPERUSER} dbname={dbname}"

    def create_database(
        self, name: str, *, template: str | None = None, collation: str = ""
    ) -> str:
        """A new database, empty or a copy of `template` (a file copy: no other connection to
        it may be open), sorting text by `collation` (the cluster's, C, by default); its URL."""
        options = f' TEMPLATE "{template}"' if template else ""
        if collation:
            options = f" TEMPLATE template0 LC_COLLATE '{collation}' LC_CTYPE '{collation}'"
        self._admin(f'CREATE DATABASE "{name}"{options}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.socket_dsn(), autocommit=True) as conn:
            conn.execute(statement)
