"""`undersigned serve --workers N`: every worker listens on its own socket and takes its share of
the connections (decision 0107); a killed worker is replaced; a taken port is refused."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from app import serving
from tests.hardening.conftest import UNLIMITED, Server, free_port, throwaway_database

COUNT = "/api/v1/letters/global-call-un-mechanism-china/count"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _workers(server: Server) -> list[int]:
    """The supervisor's worker processes (its other child is multiprocessing's tracker)."""
    assert server.process is not None
    return [
        p
        for p in _children(server.process.pid)
        if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="ignore")
    ]


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp(port: int, state: str) -> dict[int, tuple[int, int]]:
    """Server-side sockets on `port` in `state` (0A listening, 01 established): inode →
    (local port, remote port), from /proc/net/tcp."""
    found = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, st, inode = fields[1], fields[2], fields[3], int(fields[9])
        if st == state and int(local.split(":")[1], 16) == port:
            found[inode] = (port, int(remote.split(":")[1], 16))
    return found


def _owners(server: Server, state: str) -> Counter[int]:
    """How many of the server's sockets in `state` each worker holds; a socket two workers
    share (uvicorn's --workers passes one listening socket to all) is counted for nobody."""
    sockets = _tcp(server.port, state).keys()
    held = {pid: _socket_inodes(pid) & sockets for pid in _workers(server)}
    shared = Counter(inode for inodes in held.values() for inode in inodes)
    return Counter({pid: sum(shared[i] == 1 for i in inodes) for pid, inodes in held.items()})


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_every_worker_listens_and_takes_a_share_of_the_connections(
    kind: str, tmp_path: Path
) -> None:
    url, drop = throwaway_database(kind, tmp_path)
    server = Server(database_url=url, serve=True, workers=2, env=UNLIMITED)
    try:
        server.start(log_level="warning")
        # Each worker has its own listening socket (uvicorn's --workers shares the parent's
        # one); the server answers as soon as the first worker listens.
        deadline = time.monotonic() + 60
        listening = _owners(server, "0A")
        while sorted(listening.values()) != [1, 1] and time.monotonic() < deadline:
            time.sleep(0.1)
            listening = _owners(server, "0A")
        assert sorted(listening.values()) == [1, 1], listening

        # 32 keep-alive connections opened at once, as a campaign tool's signers or a proxy's
        # pool would: the kernel spreads them over both workers (all 32 on one worker by chance
        # has a probability of 2**-31 with a fair hash).
        clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(32)]
        try:
            closed = 0
            for client in clients:
                answer = client.get(COUNT)
                assert answer.json()["total"] == 320
                # A worker over its share asks a client to reconnect (decision 0133).
                closed += answer.headers.get("connection") == "close"
            deadline = time.monotonic() + 5  # a connection asked to close may still be closing
            held = _owners(server, "01")
            while sum(held.values()) != 32 - closed and time.monotonic() < deadline:
                time.sleep(0.05)
                held = _owners(server, "01")
            assert sum(held.values()) == 32 - closed, (held, closed)
            assert len(held) == 2 and min(held.values()) >= 1, held

            # A worker killed outright: the other keeps answering on its connections, the
            # supervisor starts a replacement that listens on its own socket again.
            victim = max(held, key=lambda pid: held[pid])
            os.kill(victim, signal.SIGKILL)
            answered = 0
            for client in clients:
                with contextlib.suppress(httpx.HTTPError):  # a connection the killed worker held
                    answered += client.get(COUNT).json()["total"] == 320
            assert answered >= 32 - held[victim]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                workers = _workers(server)
                if victim not in workers and sorted(_owners(server, "0A").values()) == [1, 1]:
                    break
                time.sleep(0.2)
            else:
                pytest.fail(f"no replacement worker listens; log:\n{server.log()}")
            fresh = httpx.Client(base_url=server.url, timeout=30)
            assert fresh.get(COUNT).json()["total"] == 320
            fresh.close()
        finally:
            for client in clients:
                client.close()
    finally:
        server.kill(signal.SIGTERM)
        drop()


def test_a_worker_over_its_share_asks_clients_to_reconnect(tmp_path: Path) -> None:
    # 32 keep-alive connections from one client: the kernel's hash splits them unevenly
    # (21/11 was measured; 15-17 on each side only about 4 times in 10). A worker holding more
    # than its share plus one asks a client to reconnect until neither does.
    url, drop = throwaway_database("sqlite", tmp_path)
    server = Server(database_url=url, serve=True, workers=2, env=UNLIMITED)
    try:
        server.start(log_level="warning")
        deadline = time.monotonic() + 60
        while sorted(_owners(server, "0A").values()) != [1, 1] and time.monotonic() < deadline:
            time.sleep(0.1)
        # Three times 32 new connections: that chance alone leaves every split within the
        # share three times is about 7 in 100.
        for _ in range(3):
            clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(32)]
            try:
                closed = 0
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline:
                    for client in clients:
                        answer = client.get(COUNT)
                        assert answer.json()["total"] == 320  # a whole answer, then the close
                        closed += answer.headers.get("connection") == "close"
                held = _owners(server, "01")
                # The last round's closes (one in SHED_INTERVAL at most) reconnect at the next
                # request, which is not made.
                assert 30 <= sum(held.values()) <= 32, held
                assert max(held.values()) <= 32 // 2 + serving.SHARE_TOLERANCE, held
                assert closed < 32 * 2, closed  # a few reconnections, not one per request
            finally:
                for client in clients:
                    client.close()
            time.sleep(2 * serving.SHARE_REFRESH)  # the counts without these connections
    finally:
        server.kill(signal.SIGTERM)
        drop()


@pytest.mark.parametrize(
    ("own", "others", "over"),
    [
        (21, [11], True),  # fair share 16, +1 tolerated
        (18, [14], True),
        (17, [15], False),
        (16, [16], False),
        (5, [3], False),  # 8 clients: 4 each, 5 tolerated
        (6, [2], True),
        (13, [10, 9], True),  # three workers: 11 each (rounded up), 12 tolerated
        (12, [11, 9], False),
        (1, [], False),  # a worker alone never asks
        (0, [0], False),
    ],
)
def test_over_share(own: int, others: list[int], over: bool) -> None:
    assert serving.over_share(own, others) is over


def test_a_taken_port_is_refused_not_shared(tmp_path: Path) -> None:
    """A second server on a port in use stops with an error: it never joins the first one's
    workers (same user, so the kernel would let a SO_REUSEPORT socket in)."""
    url, drop = throwaway_database("sqlite", tmp_path)
    port = free_port()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            [str(Path(sys.executable).parent / "undersigned"), "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "2"],
            env=os.environ | {"UNDERSIGNED_DATABASE_URL": url}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    drop()
    assert result.returncode != 0
    assert "Address already in use" in result.stderr + result.stdout
