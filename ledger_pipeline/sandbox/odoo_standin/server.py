"""The stand-in as a server on loopback: routes, call counting, injected latency and faults,
workers and the cost of calls."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import texts
from .cost_model import OdooCostModel
from .database import Database
from .errors import NotFound, OdooError, ServerError
from .protocols import Json2, JsonRpc, decode, encode, error_object, web_version

JSON = "application/json; charset=utf-8"
NOT_FOUND_PAGE = (
    b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on the server. If you entered the URL manually please "
    b"check your spelling and try again.</p>\n"
)
BAD_GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
FAULT_MESSAGE = "injected fault: the server failed this call and changed nothing"
SERIALIZATION_FAILURE = "could not serialize access due to concurrent update"
# What a proxy in front of Odoo answers when it sheds load (nginx's pages), never JSON.
OVERLOAD_PAGES = {
    429: b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n",
    503: b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
    b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
}


@dataclass(frozen=True)
class Fault:
    kind: str  # "fail", "after_commit", "time_out" or "overload"
    message: str = FAULT_MESSAGE
    status: int | None = None  # after_commit: None drops the connection, else this HTTP status
    seconds: float = 0.0
    name: str = "psycopg2.OperationalError"  # fail: the exception Odoo reports
    retry_after: float | None = None  # overload: the Retry-After header's seconds


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


class OdooStandIn:
    """An Odoo 18 (JSON-RPC) or 19 (JSON-2, and the deprecated JSON-RPC) server on 127.0.0.1.

    State lives in memory; each call is one transaction. Calls are counted per (model, method);
    `fail_call`, `fail_after_commit`, `time_out_call`, `overload` and `fail_serialization` act on
    the k-th call from now (k=1 is the next one).

    `cost_model` charges each model call its server time (slept outside the database lock, so
    calls overlap as on a multi-worker Odoo); `workers` caps the model calls served at once (None:
    no cap). Posts on one journal are served one at a time, as Odoo's sequence row lock does.
    Without a cost model nothing sleeps.
    """

    def __init__(
        self,
        version: int = 18,
        port: int = 0,
        *,
        api_key: str | None = None,
        database: str = "nexacloud",
        login: str = "admin",
        cost_model: OdooCostModel | None = None,
        workers: int | None = None,
    ):
        self.version = version
        self.database = database
        self.login = login
        self.api_key = api_key or secrets.token_hex(20)
        self.latency_ms = 0
        self.call_log: list[tuple[str, str]] = []
        self._port = port
        self._db = Database(version, database, cost_model=cost_model, workers=workers)
        self._jsonrpc = JsonRpc(self._db, self.api_key, login)
        self._json2 = Json2(self._db, self.api_key) if version >= 19 else None
        self._faults: dict[int, Fault] = {}  # by call number since start, never reset
        self._calls_made = 0
        self._counter_lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> OdooStandIn:
        self._stopping.clear()
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = _Server(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.02,),  # poll often: stop() waits for the loop to notice
            name=f"odoo{self.version}-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def serve_forever(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        if self._server is None:
            self.start()
        try:
            self._thread.join()
        finally:
            self.stop()

    def __enter__(self) -> OdooStandIn:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def today(self) -> str | None:
        """The server's date as "YYYY-MM-DD" when fixed; None (default) follows the real date.
        Lock dates, default wizard and payment dates depend on it."""
        return self._db.today

    @today.setter
    def today(self, value: str | None) -> None:
        self._db.today = value

    # -- observation and faults -----------------------------------------------------------------
    def call_counts(self) -> Counter:
        with self._counter_lock:
            return Counter(self.call_log)

    def reset_counts(self) -> None:
        """Clear the call log and restart the peaks and the server time charged."""
        with self._counter_lock:
            self.call_log.clear()
        self._db.workers.reset()

    @property
    def cost_model(self) -> OdooCostModel | None:
        return self._db.cost_model

    @property
    def workers(self) -> int | None:
        """How many model calls are served at once at most (None: no cap); fixed at start."""
        return self._db.workers.cap

    @property
    def peak_concurrent_calls(self) -> int:
        """The most model calls served at once (since start or `reset_counts`), waiting on a
        journal lock included: a waiting Odoo worker is busy too."""
        return self._db.workers.peak_concurrent_calls

    @property
    def peak_concurrent_posts(self) -> int:
        """The most posting calls served at once past their journal locks: never more than the
        number of journals posted to, 1 when all post on one journal."""
        return self._db.workers.peak_concurrent_posts

    @property
    def server_seconds(self) -> float:
        """The server time charged by the cost model (since start or `reset_counts`)."""
        return self._db.workers.server_seconds

    def fail_call(self, k: int, message: str = FAULT_MESSAGE) -> None:
        """The k-th call from now answers an Odoo server error and changes nothing."""
        self._schedule(k, Fault("fail", message))

    def fail_after_commit(self, k: int, status: int | None = None) -> None:
        """The k-th call from now does its work, then the connection drops (or, with `status`,
        a gateway answers that status), so the client cannot know it succeeded."""
        self._schedule(k, Fault("after_commit", status=status))

    def time_out_call(self, k: int, seconds: float) -> None:
        """The k-th call from now does its work but answers only after `seconds`."""
        self._schedule(k, Fault("time_out", seconds=seconds))

    def overload(self, k: int, status: int = 429, retry_after: float | None = None) -> None:
        """The k-th call from now is turned away by the proxy in front of Odoo: `status` (429 or
        503) with an HTML page and, when given, a `Retry-After` header; nothing changes."""
        if status not in OVERLOAD_PAGES:
            raise ValueError(f"overload answers 429 or 503, not {status!r}")
        self._schedule(k, Fault("overload", status=status, retry_after=retry_after))

    def fail_serialization(self, k: int) -> None:
        """The k-th call from now meets a concurrent update: Odoo's own retries exhausted, the
        psycopg2 SerializationFailure reaches the client as a server error; nothing changes."""
        self._schedule(
            k, Fault("fail", SERIALIZATION_FAILURE, name="psycopg2.errors.SerializationFailure")
        )

    def clear_faults(self) -> None:
        with self._counter_lock:
            self._faults.clear()

    def records(self, model: str, domain=None) -> list[dict]:
        """The records of `model` as `search_read` returns them over the wire (archived ones
        included), read directly: no HTTP, not counted."""
        return json.loads(encode(self._db.records(model, domain)))

    def _schedule(self, k: int, fault: Fault) -> None:
        if k < 1:
            raise ValueError("k counts calls from now: 1 is the next call")
        with self._counter_lock:
            self._faults[self._calls_made + k] = fault

    def _begin_call(self, key: tuple[str, str]) -> Fault | None:
        with self._counter_lock:
            self.call_log.append(key)
            self._calls_made += 1
            return self._faults.pop(self._calls_made, None)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client gone mid-request (killed, timed out) is normal here: no traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    standin: OdooStandIn
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/3.0.1"
    disable_nagle_algorithm = True  # headers and body go in two sends; don't wait between them

    def log_message(self, format: str, *args) -> None:  # quiet: tests read the call log instead
        pass

    def do_GET(self) -> None:
        self._drain()
        if self.path.split("?")[0] == "/web/version":
            self._call(
                ("web", "version"),
                lambda: Reply(200, encode(web_version(self.standin.version))),
                self._json2_failure,
            )
        elif self._json2_path() is not None:
            self._send(self._json2_not_found())
        else:
            self._send(Reply(404, NOT_FOUND_PAGE, "text/html; charset=utf-8"))

    def do_POST(self) -> None:
        body = self._drain()
        path = self.path.split("?")[0]
        if path == "/jsonrpc":
            self._jsonrpc(body)
            return
        route = self._json2_path()
        if route is None:
            self._send(Reply(404, NOT_FOUND_PAGE, "text/html; charset=utf-8"))
        elif not route:
            self._send(self._json2_not_found())
        elif not self.headers.get("Content-Type", "").startswith("application/json"):
            self._send(
                Reply(
                    415,
                    b"<!doctype html>\n<title>415 Unsupported Media Type</title>\n"
                    b"<h1>Unsupported Media Type</h1>\n",
                    "text/html; charset=utf-8",
                )
            )
        else:
            model, method = route
            self._call(
                (model, method), lambda: self._json2_reply(model, method, body), self._json2_failure
            )

    # -- protocols ------------------------------------------------------------------------------
    def _jsonrpc(self, body: bytes) -> None:
        try:
            request = decode(body)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            self._send(
                Reply(
                    400,
                    encode(
                        {
                            "jsonrpc": "2.0",
                            "id": None,
                            "error": {"code": 400, "message": "Bad Request", "data": {}},
                        }
                    ),
                )
            )
            return
        rpc = self.standin._jsonrpc
        self._call(
            rpc.key(request),
            lambda: Reply(200, encode(rpc.answer(request))),
            lambda error: Reply(200, encode(rpc.failure(request, error))),
        )

    def _json2_path(self) -> tuple[str, str] | tuple[()] | None:
        """(model, method) for a JSON-2 route, () for /json/2 without both, None otherwise."""
        if self.standin._json2 is None:
            return None
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:2] != ["json", "2"]:
            return None
        if len(parts) == 4 and self.command == "POST":
            return parts[2], parts[3]
        return ()

    def _json2_reply(self, model: str, method: str, body: bytes) -> Reply:
        status, payload = self.standin._json2.answer(
            model,
            method,
            body,
            self.headers.get("Authorization"),
            self.headers.get("X-Odoo-Database"),
        )
        headers = (("WWW-Authenticate", "Bearer "),) if status == 401 else ()
        return Reply(status, encode(payload), JSON, headers)

    def _json2_not_found(self) -> Reply:
        return Reply(404, encode(error_object(NotFound(texts.JSON2_ROUTE_HINT))))

    @staticmethod
    def _json2_failure(error: OdooError) -> Reply:
        return Reply(error.status, encode(error_object(error)))

    # -- one call, with latency and faults ------------------------------------------------------
    def _call(self, key: tuple[str, str], run, failure) -> None:
        standin = self.standin
        fault = standin._begin_call(key)
        if standin.latency_ms:
            time.sleep(standin.latency_ms / 1000)
        if fault and fault.kind == "overload":
            retry = (
                () if fault.retry_after is None else (("Retry-After", f"{fault.retry_after:g}"),)
            )
            self._send(Reply(fault.status, OVERLOAD_PAGES[fault.status], "text/html", retry))
            return
        if fault and fault.kind == "fail":
            self._send(failure(ServerError(fault.name, fault.message)))
            return
        reply = run()
        if fault and fault.kind == "after_commit":
            if fault.status is None:
                self._drop()
            else:
                self._send(Reply(fault.status, BAD_GATEWAY_PAGE, "text/html"))
            return
        if fault and fault.kind == "time_out":
            standin._stopping.wait(fault.seconds)
        self._send(reply)

    # -- HTTP plumbing --------------------------------------------------------------------------
    def _drain(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may be gone already
            self.connection.shutdown(socket.SHUT_RDWR)
