"""Serving with several worker processes: each worker listens on its own socket (decision 0107).

uvicorn's `--workers` binds one socket in the parent and hands it to every worker; each
worker's event loop accepts what it can, so the connections a client opens at once (a partner
site's pool, a load balancer's keep-alive connections, a campaign tool's 32 parallel signers)
mostly land on whichever worker woke first and stay there: measured, one of two workers did
all the work of a hot letter while the other idled. With `SO_REUSEPORT` every worker binds
the address itself and the kernel spreads new connections over the workers' sockets by a hash
of the connection's addresses. uvicorn's own supervisor still starts, health-checks, restarts
and stops the workers; only where a worker's socket comes from changes.
"""

import gc
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

APP = "app.main:app"


# The cyclic collector in a serving process (decision 0128): a young collection after this many
# new tracked objects (700 by default: a signature allocates enough for several), and a full
# one after 100 middle-generation collections (10 by default).
COLLECTOR_THRESHOLDS = (10_000, 10, 100)


def tune_collector() -> None:
    """Make the cyclic collector's pauses rare and short in a serving process.

    Measured on the hot letter (one worker, 16 clients, 30 s): with the defaults, 440 young
    collections and 3 full ones, each full one a 114–260 ms pause for every request in the
    worker (the registry's organisations filed since start-up, the caches, all walked
    again); with these thresholds, 20 young ones and no full one. After a full collection
    whatever survived it is frozen (`gc.freeze`) as the index is after a build
    (`index.settle`): the next full collection walks only what came since. What a request in
    flight holds in a reference cycle at that moment is then never collected; a few such
    objects per full collection, which is now rare."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def bind(host: str, port: int) -> socket.socket:
    """A listening address shared with the other workers (same user only: Linux refuses a
    second owner's socket in the group, so no other account can take a share of the traffic)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _refuse_taken(host: str, port: int) -> None:
    """Fail here, once, when anything listens on the address (not one worker after another).

    The probe binds without `SO_REUSEPORT`, so it also fails when another server of this
    user already has its own group there: a second `undersigned serve` on a taken port must not
    silently join the first one's workers and take half of its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


# ---- Each worker its share of the connections (decision 0133) ----------------------------
#
# The kernel hashes each new connection to one worker's socket: 32 connections opened at once
# by one client split 21/11, 18/14, 19/13 in three runs of the hot letter, and the worker
# holding more answers slower (the p99 is its own) while the other idles. A worker that holds
# more than its share asks a client to reconnect (`Connection: close` on a response): the new
# connection is hashed again, to any worker, so the split evens out in the first seconds.

# Where the supervisor tells its workers the directory in which each writes its count.
SHARES_DIRECTORY = "UNDERSIGNED_WORKER_SHARES"
SHARE_TOLERANCE = 1  # connections a worker keeps above its fair share before it asks
SHED_INTERVAL = 0.05  # seconds between two connections a worker asks to reconnect
SHARE_REFRESH = 0.1  # seconds between two looks at the other workers' counts
SHARE_STALE = 1.0  # a count older than this is a worker gone (killed: no file removed)

# This worker's open connections: uvicorn's own set, given by _OwnSocketProcess.
_connections: set[Any] | None = None


def over_share(own: int, others: list[int]) -> bool:
    """Whether a worker holding `own` connections, the others holding `others`, holds more
    than its fair share (rounded up) plus SHARE_TOLERANCE."""
    total = own + sum(others)
    return own > math.ceil(total / (1 + len(others))) + SHARE_TOLERANCE


class _Shares:
    """This worker's count of open connections, written to its file in the supervisor's
    directory every SHARE_REFRESH seconds, and whether it holds more than its share of all
    the workers' (a thread: an idle worker's count must stay fresh too)."""

    def __init__(self, directory: Path, connections: set[Any]) -> None:
        self._directory = directory
        self._connections = connections
        self._file = directory / str(os.getpid())
        self.over = False
        self._last_shed = 0.0

    def start(self) -> None:
        threading.Thread(target=self._run, name="worker-shares", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.over = self._look()
            except OSError:
                self.over = False  # the directory is gone: the supervisor is stopping
            time.sleep(SHARE_REFRESH)

    def _look(self) -> bool:
        own = len(self._connections)
        staged = self._file.with_suffix(".new")
        staged.write_text(str(own))
        staged.replace(self._file)  # readers see the old count or the new one, whole
        now = time.time()
        others = []
        for entry in os.scandir(self._directory):
            if entry.name == self._file.name or not entry.name.isdigit():
                continue
            try:
                if now - entry.stat().st_mtime <= SHARE_STALE:
                    others.append(int(Path(entry.path).read_text()))
            except (OSError, ValueError):
                continue  # removed or replaced meanwhile
        return over_share(own, others)

    def shed_now(self) -> bool:
        """Whether this response should ask its client to reconnect (the event loop's)."""
        if not self.over:
            return False
        now = time.monotonic()
        if now - self._last_shed < SHED_INTERVAL:
            return False
        self._last_shed = now
        return True


_shares: _Shares | None = None


def start_sharing() -> None:
    """In a worker of `run`'s supervisor: start counting and comparing its connections."""
    global _shares
    directory = os.environ.get(SHARES_DIRECTORY)
    if directory and _connections is not None and _shares is None:
        _shares = _Shares(Path(directory), _connections)
        _shares.start()


class ConnectionShare:
    """Outermost middleware: on a worker over its share, one response in SHED_INTERVAL says
    `Connection: close` (HTTP/1.1: the client opens a new connection for its next request;
    the response itself is whole)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _shares is None or not _shares.shed_now():
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, closing)


class _OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that binds its own `SO_REUSEPORT` socket instead of the parent's."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        # Runs in the spawned worker (covered by tests/hardening/test_serving.py through real processes).
        global _connections
        _connections = self.server.server_state.connections
        try:
            own = bind(self.config.host, self.config.port)
        except OSError as exc:
            print(f"worker cannot listen on {self.config.port}: {exc}", file=sys.stderr)
            # uvicorn's supervisor stops instead of restarting a worker that cannot start.
            sys.exit(STARTUP_FAILURE)
        super().target([own])


def run(*, host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Serve the app: one process, or `workers` processes behind the kernel's balancing."""
    import uvicorn

    if workers <= 1 or not reuse_port_available():
        uvicorn.run(APP, host=host, port=port, workers=workers, **options)
        return
    config = Config(APP, host=host, port=port, workers=workers, **options)
    _refuse_taken(host, port)
    # The supervisor builds its workers through this module-level name (start, restart after
    # a crash, SIGHUP's rolling restart): this parent process runs only the supervisor.
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]
    shares = tempfile.mkdtemp(prefix="undersigned-workers-")
    os.environ[SHARES_DIRECTORY] = shares  # the workers are spawned with this environment
    try:
        multiprocess.Multiprocess(config, sockets=[]).run()
    finally:
        shutil.rmtree(shares, ignore_errors=True)
