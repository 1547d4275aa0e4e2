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
import socket
import sys
from typing import Any

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


class _OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that binds its own `SO_REUSEPORT` socket instead of the parent's."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        # Runs in the spawned worker (covered by tests/test_serving.py through real processes).
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
    multiprocess.Multiprocess(config, sockets=[]).run()
