"""A real server (two worker processes) and a receiver started by the test on 127.0.0.1: the
receiver is down while signatures arrive, the server is killed with -9 before anything was
delivered, then both come back. Every event arrives once, in order, validly signed."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from app.webhooks import service
from tests.conftest import ADMIN_TOKEN
from tests.hardening.conftest import UNLIMITED, Server, free_port, throwaway_database

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SIGNATURES = 8


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append({"headers": dict(self.headers), "body": body})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _reserve_port() -> tuple[socket.socket, int]:
    for _ in range(50):
        reserved = socket.socket()
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            reserved.bind(("127.0.0.1", free_port()))
        except OSError:  # taken between free_port's probe and this bind
            reserved.close()
            continue
        return reserved, int(reserved.getsockname()[1])
    raise RuntimeError("no port to reserve")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_events_survive_a_down_receiver_and_kill_9(kind: str, tmp_path: Path) -> None:
    url, drop = throwaway_database(kind, tmp_path)
    # The receiver is down: its port is bound (so no other process on this shared machine can
    # take it while the events wait) but not listening, so deliveries are refused.
    reserved, port = _reserve_port()
    hook_url = f"http://127.0.0.1:{port}/hook"
    env = UNLIMITED | {
        "UNDERSIGNED_WEBHOOK_ALLOW_PRIVATE": "true",
        "UNDERSIGNED_WEBHOOKS_IN_BACKGROUND": "true",
    }
    server = Server(database_url=url, env=env, workers=2)
    receiver: ThreadingHTTPServer | None = None
    _Receiver.received = []
    try:
        server.start(log_level="warning")
        api = f"{server.url}/api/v1"
        letter = {"slug": "hooked", "title": "Hooked", "lang": "en", "status": "open"}
        assert httpx.post(f"{api}/letters", json=letter, headers=ADMIN).status_code == 201
        hook = httpx.post(
            f"{api}/letters/hooked/webhooks",
            json={"url": hook_url, "events": ["signature.created", "count.changed"]},
            headers=ADMIN,
        )
        assert hook.status_code == 201, hook.text
        secret = hook.json()["secret"]
        for n in range(SIGNATURES):
            signed = httpx.post(
                f"{api}/letters/hooked/signatures",
                json={"organisation": {"name": f"Receiver Test Organisation {n:02d}"}},
                headers=ADMIN,
            )
            assert signed.status_code == 201, signed.text
        server.kill()  # -9, with every event still undelivered
        receiver = ThreadingHTTPServer(("127.0.0.1", port), _Receiver, bind_and_activate=False)
        receiver.socket.close()
        receiver.socket, receiver.server_name, receiver.server_port = reserved, "127.0.0.1", port
        receiver.server_activate()
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        server.start(log_level="warning")
        deadline = time.monotonic() + 120  # backoff after the failed attempts is ≤ 40 s
        while len(_Receiver.received) < 2 * SIGNATURES and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # anything sent twice would arrive now
        got = _Receiver.received
        assert len(got) == 2 * SIGNATURES, [g["headers"]["Undersigned-Event"] for g in got]
        assert len({g["headers"]["Undersigned-Delivery"] for g in got}) == 2 * SIGNATURES
        for g in got:
            assert service.verify(
                secret, header=g["headers"]["Undersigned-Signature"], body=g["body"]
            )
        bodies = [json.loads(g["body"]) for g in got]
        assert [b["event"] for b in bodies] == ["signature.created", "count.changed"] * SIGNATURES
        positions = [b["data"]["signature"]["position"] for b in bodies[::2]]
        assert positions == list(range(1, SIGNATURES + 1))
        assert [b["data"]["total"] for b in bodies[1::2]] == list(range(1, SIGNATURES + 1))
    finally:
        server.kill()
        if receiver is not None:
            receiver.shutdown()
            receiver.server_close()
        reserved.close()
        server.log_path.unlink(missing_ok=True)
        drop()
