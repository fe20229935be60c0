"""The local web server behind ``backprop explore``: the page's files and a small JSON API.

Everything ships in the package (``static/``: one HTML page, one script, one style sheet; no
build step, nothing fetched from elsewhere). The server listens on 127.0.0.1 only and answers
only requests addressed to it by that name (a page elsewhere cannot reach it by DNS tricks).

API (JSON in, JSON out):

=====================  ===============================================================
``GET /api/state``     configuration, weights, data, loss curve, decision boundary
``POST /api/step``     one training step on the next sample: every layer's quantities
``POST /api/train``    ``{"epochs": n}``: train n epochs, then the state
``POST /api/reset``    ``{"layers", "dataset", "activation", "learning_rate",
                       "batch_size", "seed"}``: a new network; 400 with the reason if invalid
=====================  ===============================================================
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from .session import Session

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/style.css": ("style.css", "text/css; charset=utf-8")}
MAX_BODY = 64 * 1024


class Explorer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 holding one :class:`Session` (port 0: any free port)."""

    daemon_threads = True

    def __init__(self, session: Session, port: int = 0) -> None:
        self.session, self.lock = session, threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: Explorer

    def log_message(self, format, *args):       # quiet: the terminal shows the URL only
        pass

    def _allowed(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            self._send(403, {"error": "this server answers requests to 127.0.0.1 or localhost only"})
            return False
        return True

    def do_GET(self):
        if not self._allowed():
            return
        if self.path == "/api/state":
            with self.server.lock:
                return self._send(200, self.server.session.state())
        if self.path not in STATIC:
            return self._send(404, {"error": f"no such page: {self.path}"})
        name, kind = STATIC[self.path]
        body = resources.files(__package__).joinpath("static", name).read_bytes()
        self._send_bytes(200, body, kind)

    def do_POST(self):
        if not self._allowed():
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._send(413, {"error": "request too large"})
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(request, dict):
                raise ValueError("expected a JSON object")
            with self.server.lock:
                answer = self._answer(request)
        except (ValueError, TypeError) as error:
            return self._send(400, {"error": str(error)})
        if answer is None:
            return self._send(404, {"error": f"no such action: {self.path}"})
        self._send(200, answer)

    def _answer(self, request: dict):
        server = self.server
        if self.path == "/api/step":
            return server.session.step()
        if self.path == "/api/train":
            epochs = request.get("epochs", 1)
            if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 100:
                raise ValueError(f"epochs: expected a whole number from 1 to 100, got {epochs!r}")
            return server.session.train(epochs)
        if self.path == "/api/reset":
            config = {**server.session.config, **request}
            server.session = Session(**config)
            return server.session.state()
        return None

    def _send(self, status: int, payload) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
