"""A small threaded JSON-over-HTTP service: the base of the TSO and device-cloud simulators.

A body sent as XML (``Content-Type: application/xml``, ``text/xml`` or ``...+xml``) is not
parsed: the handler gets its bytes in ``Request.raw`` and may answer bytes with ``RawBody``.
Tests arm faults per route on ``service.faults`` (``simulators.faults``: an error status, a late
answer, garbage, a dropped connection); none are armed by default.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from simulators.faults import DELAY, DROP, FAIL, GARBAGE, FaultPlan

MAX_BODY_BYTES = 10 * 1024 * 1024
INJECTED_ERROR = b'{"error": "injected fault"}'


@dataclass(frozen=True)
class Request:
    """What a route handler gets: the path, query parameters and the parsed JSON body.

    For an XML body, ``body`` is None and ``raw`` holds the bytes as received.
    """

    path: str
    query: dict[str, str]
    body: Any
    raw: bytes = b""
    content_type: str = ""


@dataclass(frozen=True)
class RawBody:
    """A handler's answer sent as these bytes instead of JSON."""

    data: bytes
    content_type: str = "application/xml"


def is_xml(content_type: str) -> bool:
    """Tell whether a Content-Type header announces XML."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/xml", "text/xml") or media.endswith("+xml")


class HttpError(Exception):
    """Answer with ``status`` and a JSON error message."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        """Keep the status beside the message."""
        super().__init__(message)
        self.status = status


Handler = Callable[[Request], tuple[HTTPStatus, Any]]


class JsonService:
    """Routes (method, path) to handlers and serves them on 127.0.0.1 in a background thread."""

    def __init__(self, name: str) -> None:
        """An empty service named ``name`` (used in logs and /health)."""
        self.name = name
        self.routes: dict[tuple[str, str], Handler] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.faults = FaultPlan()  # empty: tests arm faults (simulators/faults.py)
        self.route("GET", "/health")(lambda _request: (HTTPStatus.OK, {"service": self.name}))

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        """Register a handler for ``method`` and ``path``."""

        def register(handler: Handler) -> Handler:
            self.routes[(method, path)] = handler
            return handler

        return register

    @property
    def url(self) -> str:
        """Base URL of the running service."""
        assert self._server is not None, "service not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> str:
        """Serve in a daemon thread on 127.0.0.1 (port 0 = any free port); return the URL."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self.name, daemon=True
        )
        self._thread.start()
        return self.url

    def serve_forever(self, port: int) -> None:
        """Serve in the foreground until interrupted."""
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            server_version = f"vppal-{service.name}"

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the clients record what matters

            def _dispatch(self, method: str) -> None:
                parts = urlsplit(self.path)
                handler = service.routes.get((method, parts.path))
                fault = None
                try:
                    if handler is None:
                        raise HttpError(HTTPStatus.NOT_FOUND, f"no route {method} {parts.path}")
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > MAX_BODY_BYTES:
                        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
                    raw = self.rfile.read(length) if length else b""
                    fault = service.faults.take(method, parts.path, raw)
                    if fault is not None and fault.kind == DROP:
                        self.close_connection = True
                        return
                    if fault is not None and fault.kind == FAIL:
                        self._answer(fault.status, INJECTED_ERROR, "application/json")
                        return
                    if fault is not None and fault.kind == GARBAGE:
                        self._answer(fault.status, fault.body, fault.content_type)
                        return
                    content_type = self.headers.get("Content-Type") or ""
                    try:
                        body = json.loads(raw) if raw and not is_xml(content_type) else None
                    except json.JSONDecodeError as error:
                        raise HttpError(
                            HTTPStatus.BAD_REQUEST, f"body is not JSON: {error}"
                        ) from None
                    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                    request = Request(parts.path, query, body, raw, content_type)
                    status, payload = handler(request)
                except HttpError as error:
                    status, payload = error.status, {"error": str(error)}
                if isinstance(payload, RawBody):
                    data, media = payload.data, payload.content_type
                else:
                    data, media = json.dumps(payload, default=str).encode(), "application/json"
                if fault is not None and fault.kind == DELAY:
                    time.sleep(fault.delay_s)  # processed, answered late
                self._answer(status, data, media)

            def _answer(self, status: int, data: bytes, media: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", media)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up waiting (a timeout)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

        return _Handler
