"""The local web server behind ``backprop explore``: the page's files and a small JSON API.

Everything ships in the package (``static/``: one HTML page, its scripts as ES modules, one style
sheet; no build step, nothing fetched from elsewhere). Any web page the user opens can send requests to
127.0.0.1, so the server trusts none of them by default:

- it listens on 127.0.0.1 only and answers only requests addressed to it by that name
  (``Host``, any case: a page elsewhere cannot reach it by DNS tricks);
- a POST must come from the page itself: an ``Origin`` other than the server's own, or a
  ``Sec-Fetch-Site`` other than ``same-origin``, is refused (403), and its body must be
  ``application/json`` (415: a cross-site form or a "simple" request cannot send that);
- the body is at most ``MAX_BODY`` bytes with a valid ``Content-Length`` (else 400 or 413);
  JSON's ``NaN`` and ``Infinity`` are refused;
- the network's size is capped (see :class:`~backpropagation.explore.session.Session`), a step
  or an epoch whose loss is not finite is undone and answered 422 with the reason, and no
  reply ever carries ``NaN``: the page stays usable.

Each browser tab has its own network and settings: the page sends a tab id of its own making in
the ``X-Explorer-Tab`` header (letters, digits, ``-``; a request without one is the tab
``default``), and the server keeps a :class:`Session` per tab, the :data:`MAX_TABS` most recently
used ones (an older tab starts over, and says so).

API (JSON in, JSON out):

=====================  ===============================================================
``GET /api/state``     configuration, weights, data, loss curve, decision boundary
``POST /api/step``     ``{"rows": n, "apply": bool}`` (default 1, true): one training step on the
                       next n samples: every layer's quantities, a row per sample; with
                       ``apply`` false the update is shown but made only by ``/api/apply``
``POST /api/apply``    make the update of the step on screen; the new state
``POST /api/train``    ``{"epochs": n}``: train n epochs, then the state
``POST /api/weight``   ``{"layer", "row", "col"}``: that weight's chain rule in the last step, and
                      its nudge (the loss at w ± ε)
``POST /api/reset``    any of :attr:`Session.SETTINGS` (layers, data set, activation, optimizer,
                       learning rate, batch size, seed, noise, test share, L2, input
                       features, initial weights): a new network; 400 with the reason if invalid
``POST /api/your-turn``  ``{"kinds": [...]}`` (optional): hide one quantity of the last step
``POST /api/check``    ``{"value": x}``: judge the learner's number for it
``POST /api/health``   each layer's health now and per epoch trained
``POST /api/landscape``  ``{"weights": [[layer, row, col], [layer, row, col]]}``: the loss
                       over two weights and the paths of SGD, momentum and Adam
``POST /api/data``     ``{"csv": text}``: train on this table (two numbers and a label)
=====================  ===============================================================
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from ..errors import DivergenceError
from .datasets import uploaded
from .session import Session

STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/style.css": ("style.css", "text/css; charset=utf-8"),
          **{f"/{name}": (name, "text/javascript; charset=utf-8")
             for name in ("app.js", "util.js", "step.js", "draw.js", "panels.js")}}
MAX_BODY = 64 * 1024
HOSTS = ("127.0.0.1", "localhost")
#: Tabs whose networks the server keeps (the least recently used beyond this start over).
MAX_TABS = 16
TAB = re.compile(r"[A-Za-z0-9-]{1,64}")


class Explorer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 with a :class:`Session` per browser tab (port 0: any free port);
    ``session`` is the first tab's settings and network, the template of every new tab's."""

    daemon_threads = True

    def __init__(self, session: Session, port: int = 0) -> None:
        self.template, self.lock = dict(session.config), threading.Lock()
        self.sessions = OrderedDict({"default": session})
        self.last_tab = "default"
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def session(self) -> Session:
        """The network of the tab that made the last request."""
        return self.sessions[self.last_tab]

    def tab(self, name: str) -> tuple[Session, bool]:
        """The session of tab ``name`` (a new one, from the template, for a tab not seen or
        forgotten); and whether it is new."""
        new = name not in self.sessions
        if new:
            self.sessions[name] = Session(**self.template)
            while len(self.sessions) > MAX_TABS:
                self.sessions.popitem(last=False)
        self.sessions.move_to_end(name)
        self.last_tab = name
        return self.sessions[name], new

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    @property
    def origins(self) -> set[str]:
        """The origins of the page this server serves (a POST from any other is refused)."""
        return {f"http://{host}:{self.server_address[1]}" for host in HOSTS}


class RequestError(Exception):
    """A request refused with an HTTP status and a reason the page shows."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server: Explorer

    def log_message(self, format, *args):       # quiet: the terminal shows the URL only
        pass

    def do_GET(self):
        self._respond(self._get)

    def do_POST(self):
        self._respond(self._post)

    def _respond(self, answer) -> None:
        """Run ``answer()``, and reply with what it returns or with the reason it failed."""
        try:
            self._check_host()
            status, payload = 200, answer()
        except RequestError as error:
            status, payload = error.status, {"error": str(error)}
        except DivergenceError as error:
            status, payload = 422, {"error": str(error)}
        except (ValueError, TypeError, OverflowError) as error:
            status, payload = 400, {"error": str(error)}
        except MemoryError:
            status, payload = 400, {"error": "not enough memory for that network; choose a smaller one"}
        except Exception as error:  # noqa: BLE001 - the page must always get an answer it can show
            status, payload = 500, {"error": f"{type(error).__name__}: {error}"}
        if isinstance(payload, tuple):           # a static file: (bytes, content type)
            return self._send_bytes(status, *payload)
        self._send(status, payload)

    def _check_host(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host.rsplit(":", 1)[0] not in HOSTS:
            raise RequestError(403, "this server answers requests to 127.0.0.1 or localhost only")

    def _tab_name(self) -> str:
        name = (self.headers.get("X-Explorer-Tab") or "default").strip()
        if not TAB.fullmatch(name):
            raise RequestError(400, "X-Explorer-Tab: expected 1 to 64 letters, digits or '-'")
        return name

    def _get(self):
        path = urlsplit(self.path).path
        if path == "/api/state":
            with self.server.lock:
                session, new = self.server.tab(self._tab_name())
                return {**session.state(), "new_tab": new}
        if path not in STATIC:
            raise RequestError(404, f"no such page: {path}")
        name, kind = STATIC[path]
        return resources.files(__package__).joinpath("static", name).read_bytes(), kind

    def _post(self):
        self._check_same_origin()
        request = self._json_body()
        with self.server.lock:
            session, _ = self.server.tab(self._tab_name())
            return self._answer(urlsplit(self.path).path, request, session)

    def _check_same_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower().rstrip("/") not in self.server.origins:
            raise RequestError(403, f"requests from {origin} are refused: only this page may change the network")
        site = (self.headers.get("Sec-Fetch-Site") or "same-origin").strip().lower()
        if site not in ("same-origin", "none"):
            raise RequestError(403, f"a {site} request is refused: only this page may change the network")
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(415, f"expected a JSON body (Content-Type: application/json), got {kind or 'none'}")

    def _json_body(self) -> dict:
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(411, "send the body with a Content-Length, not chunked")
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():
            raise RequestError(400, f"Content-Length: expected a whole number of bytes, got {text!r}")
        length = int(text)
        if length > MAX_BODY:
            raise RequestError(413, f"request too large ({length} bytes; at most {MAX_BODY})")
        try:
            request = json.loads(self.rfile.read(length) or b"{}", parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise RequestError(400, "the body is not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise RequestError(400, f"the body is not JSON: {error}") from None
        if not isinstance(request, dict):
            raise RequestError(400, "expected a JSON object")
        return request

    def _answer(self, path: str, request: dict, session: Session):
        simple = {"/api/apply": session.apply, "/api/health": session.health}
        if path in simple:
            return simple[path]()
        if path == "/api/step":
            return session.step(request.get("rows", 1), _flag("apply", request.get("apply", True)))
        if path == "/api/train":
            epochs = request.get("epochs", 1)
            if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 100:
                raise ValueError(f"epochs: expected a whole number from 1 to 100, got {epochs!r}")
            return session.train(epochs)
        if path == "/api/weight":
            return session.weight(request.get("layer"), request.get("row"), request.get("col"))
        if path == "/api/your-turn":
            return session.your_turn(request.get("kinds"))
        if path == "/api/check":
            return session.check(request.get("value"))
        if path == "/api/landscape":
            return session.landscape(request.get("weights"))
        if path == "/api/data":
            data = uploaded(request.get("csv"))
            return self._replace(session, {**session.config, "dataset": "uploaded", "data": data,
                                           "layers": [len(session.config["features"]), *session.config["layers"][1:-1],
                                                      len(data["classes"])]})
        if path == "/api/reset":
            unknown = sorted(set(request) - set(Session.SETTINGS))
            if unknown:
                raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}; expected some of "
                                 f"{', '.join(Session.SETTINGS)}")
            return self._replace(session, {**session.config, "data": session.data, **request})
        raise RequestError(404, f"no such action: {path}")

    def _replace(self, session: Session, settings: dict) -> dict:
        """A new network for this tab with ``settings``; its state."""
        fresh = Session(**settings)
        self.server.sessions[self.server.last_tab] = fresh
        return fresh.state()

    def _send(self, status: int, payload) -> None:
        try:
            body = json.dumps(payload, allow_nan=False)
        except ValueError:          # a non-finite number slipped through: JSON has none
            body = json.dumps(_finite(payload), allow_nan=False)
        self._send_bytes(status, body.encode(), "application/json")

    def _send_bytes(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected true or false, got {value!r}")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number this page accepts")


def _finite(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
