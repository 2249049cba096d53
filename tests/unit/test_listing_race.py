"""A container removed between the engine's list and its inspect (another run's `down`, a
client container ending) is simply not listed: the docker SDK's list inspects each container
it listed, and without ``ignore_removed`` that inspect's 404 fails the whole listing. Checked
with the real SDK against an engine stub on a unix socket that lists two containers and has
lost one of them by the time it is inspected."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import docker
import pytest

from reboot_harness.stack import labels

PROJECT = "rh-race"
KEPT, GONE = "a" * 64, "b" * 64


def _summary(cid: str) -> dict[str, object]:
    return {"Id": cid, "Names": [f"/{PROJECT}-{cid[0]}-1"], "State": "running",
            "Labels": {"com.docker.compose.project": PROJECT}}  # fmt: skip


def _details(cid: str) -> dict[str, object]:
    return {"Id": cid, "Name": f"/{PROJECT}-{cid[0]}-1", "State": {"Status": "running"},
            "Config": {"Labels": {"com.docker.compose.project": PROJECT}}}  # fmt: skip


class _Engine(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/containers/json"):
            self._answer(200, [_summary(KEPT), _summary(GONE)])
        elif path.endswith(f"/containers/{KEPT}/json"):
            self._answer(200, _details(KEPT))
        else:  # GONE: removed since the list
            self._answer(404, {"message": f"No such container: {GONE}"})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # type: ignore[no-untyped-def]
        request, _ = super().get_request()
        return request, ("local", 0)  # BaseHTTPRequestHandler wants a (host, port)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[docker.DockerClient]:
    sock = tmp_path / "engine.sock"
    server = _UnixHTTPServer(str(sock), _Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = docker.DockerClient(base_url=f"unix://{sock}", version="1.41", timeout=5)
    try:
        yield client
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_a_container_removed_while_listing_is_left_out(
    engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(docker.errors.NotFound):  # the SDK's default: the whole list fails
        engine.containers.list(all=True)
    monkeypatch.setattr(labels, "client", lambda: engine)
    assert [c.id for c in labels.project_containers(PROJECT)] == [KEPT]
    assert [c.id for c in labels.project_clients(PROJECT)] == [KEPT]
