"""Which PostgreSQL the suite uses, and a throwaway one when there is none to use.

1. `UNDERSIGNED_TEST_PG_URL` when set (the run fails if it does not answer);
2. else a server on 127.0.0.1:5432 that lets user `postgres` in without a password;
3. else a private server started from the distribution's binaries (`initdb` into a temporary
   folder, trust authentication, listening on 127.0.0.1 on a free port only), stopped and deleted
   when the run ends. A machine whose PostgreSQL asks for a password lands here too.
"""

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

ENV = "UNDERSIGNED_TEST_PG_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Debian's layout; the newest major version wins when several are installed.
BINARY_GLOB = "/usr/lib/postgresql/*/bin/initdb"


class NoPostgres(RuntimeError):
    """Neither a usable server nor the binaries to start one."""


def accepts(url: str) -> bool:
    """True when `url` lets us in now (a refused connection or a password prompt is False)."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _binaries() -> Path:
    found = sorted(glob.glob(BINARY_GLOB), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise NoPostgres(
        "no PostgreSQL answers on 127.0.0.1:5432 with user postgres and no password, "
        "UNDERSIGNED_TEST_PG_URL is unset, and initdb is not installed: run `make test` "
        "(it installs Debian's postgresql) or set UNDERSIGNED_TEST_PG_URL"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ThrowawayServer:
    directory: Path
    binaries: Path
    port: int
    user: str | None  # the system user that runs it when we are root (initdb refuses root)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run(
            [*prefix, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    @classmethod
    def start(cls, *, password: str | None = None) -> "ThrowawayServer":
        """A new server; with a password it asks for one (scram), like a default installation."""
        binaries = _binaries()
        user = _unprivileged_user() if os.geteuid() == 0 else None
        directory = Path(tempfile.mkdtemp(prefix="undersigned-pg-"))
        if user:
            entry = pwd.getpwnam(user)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        server = cls(directory, binaries, _free_port(), user)
        data = directory / "data"
        authentication = ["--auth", "trust"]
        if password is not None:
            password_file = directory / "password"
            password_file.write_text(password)
            if user:
                os.chown(password_file, entry.pw_uid, entry.pw_gid)
            authentication = ["--auth", "scram-sha-256", "--pwfile", str(password_file)]
        try:
            server._run(
                str(binaries / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                *authentication,
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            )
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={server.port} "
                f"-c unix_socket_directories={directory} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            server._run(
                str(binaries / "pg_ctl"),
                "--pgdata",
                str(data),
                "--log",
                str(directory / "server.log"),
                "--options",
                options,
                "--wait",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = directory / "server.log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            shutil.rmtree(directory, ignore_errors=True)
            stderr = exc.stderr.decode(errors="replace") if exc.stderr else ""
            raise NoPostgres(
                f"could not start a throwaway PostgreSQL: {stderr}{detail}".strip()
            ) from None
        return server

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(
                str(self.binaries / "pg_ctl"),
                "--pgdata",
                str(self.directory / "data"),
                "--mode",
                "immediate",
                "--wait",
                "stop",
            )
        shutil.rmtree(self.directory, ignore_errors=True)


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise NoPostgres("running as root and there is no 'postgres' or 'nobody' user to run initdb")


def choose() -> tuple[str, ThrowawayServer | None]:
    """The admin URL for this run, and the server to stop afterwards if we started one."""
    given = os.environ.get(ENV)
    if given:
        return given, None
    if accepts(DEFAULT_URL):
        return DEFAULT_URL, None
    server = ThrowawayServer.start()
    return server.url, server
