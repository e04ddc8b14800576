"""A misbehaving HTTP server on 127.0.0.1 and an in-process runner for the `tokenwatch` command."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tokenwatch_desktop.cli.main import main
from tokenwatch_desktop.core import logs

#: A route maps (path, query) to the response (status, headers, body).
Route = Callable[[str, dict[str, list[str]]], tuple[int, dict[str, str], bytes]]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        parts = urlsplit(self.path)
        route = self.server.routes.get(parts.path)
        if route is None:
            status, headers, body = 404, {}, b'{"error": {"message": "no route"}}'
        else:
            status, headers, body = route(parts.path, parse_qs(parts.query))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]


@pytest.fixture
def odd_server() -> Iterator[_Server]:
    """Start a server on 127.0.0.1 whose responses each test sets through `server.routes`."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.routes = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def root_url(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass
class CliResult:
    status: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[Sequence[str]], CliResult]]:
    """Run `tokenwatch ARGS` in this process; close the log handlers it installs afterwards."""

    def run(args: Sequence[str]) -> CliResult:
        status = main(list(args))
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    yield run
    logs.reset()
