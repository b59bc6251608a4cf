"""A small threaded HTTP server for provider fakes.

Subclass FakeProvider, add routes with `self.route(method, path_regex, handler)`; each handler
gets (request, match) and returns a werkzeug Response. Every request is recorded, and
`fail_next(n, status)` makes the next n requests fail, to test outages and retries.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

Handler = Callable[[Request, re.Match[str]], Response]


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(data: Any, status: int = 200, **headers: str) -> Response:
    return Response(json.dumps(data), status=status, headers=headers, mimetype="application/json")


class FakeProvider:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Recorded] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method.upper(), re.compile(pattern + "$"), handler))

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeProvider:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data()
        rec = Recorded(
            request.method,
            request.path,
            request.args.to_dict(flat=False),
            dict(request.headers),
            body,
        )
        with self._lock:
            self.requests.append(rec)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            resp = json_response({"error": "injected failure"}, status=failure)
            return resp(environ, start_response)
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                return handler(request, match)(environ, start_response)
        return json_response({"error": "not found", "path": request.path}, 404)(
            environ, start_response
        )
