"""The transport over real HTTP against a scripted server: shapes, errors, retries, secrets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledger_pipeline.odoo.errors import DryRunWriteError, OdooError, OdooTransportError
from ledger_pipeline.odoo.resource import OdooLedger
from ledger_pipeline.odoo.transport import (
    Json2Transport,
    JsonRpcTransport,
    connect,
    detect_version,
    new_session,
)

KEY = "0123456789abcdef0123456789abcdef01234567"


class ScriptedOdoo:
    """An HTTP server answering from a script of (status, body, delay) and recording requests."""

    def __init__(self) -> None:
        self.script: deque[tuple[int, object, float]] = deque()
        self.requests: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                owner.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(raw) if raw else None,
                    }
                )
                status, body, delay = owner.script.popleft() if owner.script else (200, None, 0)
                if delay:
                    time.sleep(delay)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                kind = "text/html" if isinstance(body, str) else "application/json"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    pass

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def then(self, status: int, body: object = None, delay: float = 0.0) -> ScriptedOdoo:
        self.script.append((status, body, delay))
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    scripted = ScriptedOdoo()
    yield scripted
    scripted.close()


def json2(server: ScriptedOdoo, **kwargs) -> Json2Transport:
    return Json2Transport(server.url, "ledger", KEY, retry_wait=0.01, **kwargs)


def jsonrpc(server: ScriptedOdoo, **kwargs) -> JsonRpcTransport:
    return JsonRpcTransport(server.url, "ledger", KEY, login="bot", retry_wait=0.01, **kwargs)


# -- request shapes ------------------------------------------------------------------------


def test_json2_sends_named_arguments_with_bearer_key_and_database(server):
    server.then(200, [41, 42]).then(200, None).then(200, [{"id": 7, "name": "INV/1"}])
    odoo = json2(server)
    assert odoo.create("account.move", [{"ref": "NC-1"}, {"ref": "NC-2"}]) == [41, 42]
    assert odoo.call("account.move", "action_post", [41, 42]) is None  # JSON `null`
    assert odoo.search_read("account.move", [["ref", "=", "x"]], ["name"], limit=1)
    create, post, search = server.requests
    assert create["path"] == "/json/2/account.move/create"
    assert create["headers"]["Authorization"] == f"bearer {KEY}"
    assert create["headers"]["X-Odoo-Database"] == "ledger"
    assert create["headers"]["Content-Type"].startswith("application/json")
    assert create["body"] == {"vals_list": [{"ref": "NC-1"}, {"ref": "NC-2"}]}
    assert post["body"] == {"ids": [41, 42]}
    assert search["body"] == {"domain": [["ref", "=", "x"]], "fields": ["name"], "limit": 1}
    assert odoo.calls[("account.move", "create")] == 1


def test_jsonrpc_authenticates_once_and_sends_leading_arguments_positionally(server):
    server.then(200, {"jsonrpc": "2.0", "id": 1, "result": 2})  # authenticate → uid 2
    server.then(200, {"jsonrpc": "2.0", "id": 2, "result": 5})  # create of one dict → int
    server.then(200, {"jsonrpc": "2.0", "id": 3})  # a method returning None: no `result` key
    server.then(200, {"jsonrpc": "2.0", "id": 4, "result": True})
    odoo = jsonrpc(server)
    assert odoo.create("res.partner", [{"name": "Acme"}]) == [5]
    assert odoo.call("account.payment", "action_post", [9]) is None
    odoo.write("res.company", [1], {"tax_calculation_rounding_method": "round_globally"})
    auth, create, post, write = (r["body"]["params"] for r in server.requests)
    assert auth == {
        "service": "common",
        "method": "authenticate",
        "args": ["ledger", "bot", KEY, {}],
    }
    assert create["args"] == ["ledger", 2, KEY, "res.partner", "create", [[{"name": "Acme"}]], {}]
    assert post["args"][3:] == ["account.payment", "action_post", [[9]], {}]
    # 18's res.company.write names its argument `values`, so vals must go positionally.
    assert write["args"][5:] == [[[1], {"tax_calculation_rounding_method": "round_globally"}], {}]
    assert {r["path"] for r in server.requests} == {"/jsonrpc"}


def test_jsonrpc_refused_login_is_access_denied_without_the_key(server):
    server.then(200, {"jsonrpc": "2.0", "id": 1, "result": False})
    with pytest.raises(OdooError) as caught:
        jsonrpc(server).search_read("res.partner", [], ["name"])
    assert caught.value.name == "odoo.exceptions.AccessDenied"
    assert KEY not in str(caught.value)


# -- errors --------------------------------------------------------------------------------

NEGATIVE = (
    "You cannot validate an invoice with a negative total amount. You should create a credit "
    "note instead. Use the action menu to transform it into a credit note or refund."
)


def test_json2_error_keeps_odoo_class_and_message(server):
    server.then(
        422,
        {
            "name": "odoo.exceptions.UserError",
            "message": NEGATIVE,
            "arguments": [NEGATIVE],
            "context": {},
            "debug": "Traceback …",
        },
    )
    with pytest.raises(OdooError) as caught:
        json2(server).call("account.move", "action_post", [1])
    error = caught.value
    assert (error.name, error.message, error.status) == ("odoo.exceptions.UserError", NEGATIVE, 422)
    assert str(error) == f"odoo.exceptions.UserError: {NEGATIVE}"
    assert error.where == "account.move.action_post"
    assert len(server.requests) == 1  # an answer from Odoo is never repeated


def test_jsonrpc_error_member_keeps_odoo_class_and_message(server):
    server.then(200, {"jsonrpc": "2.0", "id": 1, "result": 2})
    server.then(
        200,
        {
            "jsonrpc": "2.0",
            "id": 2,
            "error": {
                "code": 200,
                "message": "Odoo Server Error",
                "data": {"name": "odoo.exceptions.UserError", "message": NEGATIVE},
            },
        },
    )
    with pytest.raises(OdooError) as caught:
        jsonrpc(server).call("account.move", "action_post", [1])
    assert (caught.value.name, caught.value.message) == ("odoo.exceptions.UserError", NEGATIVE)


def test_html_error_page_becomes_a_readable_error(server):
    server.then(404, "<!DOCTYPE html><title>404 Not Found</title><h1>Not Found</h1><p>No database")
    with pytest.raises(OdooError) as caught:
        json2(server).search_read("res.partner", [], ["name"])
    assert caught.value.name == "HTTP 404"
    assert caught.value.message.startswith("404 Not Found Not Found No database")


def test_secrets_never_reach_messages_or_reprs(server):
    server.then(
        401, {"name": "werkzeug.exceptions.Unauthorized", "message": f"Invalid apikey {KEY}"}
    )
    odoo = json2(server)
    with pytest.raises(OdooError) as caught:
        odoo.search_read("res.partner", [], ["name"])
    assert caught.value.name == "werkzeug.exceptions.Unauthorized"
    assert KEY not in str(caught.value)
    assert "***" in caught.value.message
    assert KEY not in repr(odoo)
    ledger = OdooLedger(url=server.url, database="ledger", api_key=KEY)
    assert KEY not in repr(ledger) and KEY not in str(ledger)


# -- retries -------------------------------------------------------------------------------


def test_gateway_503_is_retried_even_for_a_write(server):
    server.then(503, "<h1>Service Unavailable</h1>").then(200, [7])
    assert json2(server).create("account.move", [{"ref": "x"}]) == [7]
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_502_and_504_are_retried_for_a_read_but_not_for_a_write(server, status):
    server.then(status, "<h1>Bad Gateway</h1>").then(200, [{"id": 1}])
    odoo = json2(server)
    assert odoo.search_read("account.move", [], ["name"]) == [{"id": 1}]
    server.requests.clear()
    server.then(status, "<h1>Bad Gateway</h1>")
    with pytest.raises(OdooTransportError) as caught:
        odoo.create("account.move", [{"ref": "x"}])
    assert caught.value.ambiguous is True  # it may have been committed: re-read by key first
    assert len(server.requests) == 1


def test_read_timeout_is_retried_for_a_read_and_ambiguous_for_a_write(server):
    odoo = json2(server, timeout=0.3)
    server.then(200, [], delay=0.6).then(200, [{"id": 3}])
    assert odoo.search_read("account.move", [], ["name"]) == [{"id": 3}]
    server.requests.clear()
    server.then(200, [9], delay=0.6)
    with pytest.raises(OdooTransportError) as caught:
        odoo.create("account.move", [{"ref": "x"}])
    assert caught.value.ambiguous is True
    assert len(server.requests) == 1
    assert odoo.calls[("account.move", "search_read")] == 2  # retries are counted calls


def test_connection_refused_is_retried_then_reported_as_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    odoo = Json2Transport(
        f"http://127.0.0.1:{port}", "ledger", KEY, retry_attempts=3, retry_wait=0.01
    )
    with pytest.raises(OdooTransportError) as caught:
        odoo.create("account.move", [{"ref": "x"}])
    assert caught.value.ambiguous is False  # never sent: safe to retry even a write
    assert odoo.calls[("account.move", "create")] == 3
    assert KEY not in str(caught.value)


def test_dry_run_transport_refuses_writes_before_any_request(server):
    odoo = json2(server, read_only=True)
    with pytest.raises(DryRunWriteError):
        odoo.create("account.move", [{"ref": "x"}])
    assert server.requests == []


# -- protocol detection ----------------------------------------------------------------------


def test_detects_json2_from_web_version(server):
    server.then(200, {"version_info": [19, 0, 0, "final", 0, ""], "version": "19.0"})
    assert detect_version(server.url, new_session(), 5) == ("json2", (19, 0, 0))
    assert server.requests[0]["method"] == "GET"


def test_detects_jsonrpc_when_web_version_is_not_a_get_route(server):
    server.then(400, "<h1>Bad Request</h1>")
    server.then(
        200,
        {"jsonrpc": "2.0", "id": 0, "result": {"server_version_info": [18, 0, 0, "final", 0, ""]}},
    )
    assert detect_version(server.url, new_session(), 5) == ("jsonrpc", (18, 0, 0))
    server.then(200, {"version_info": ["saas~18", 2, 0, "final", 0, ""], "version": "saas~18.2"})
    odoo = connect(server.url, "ledger", KEY, protocol="auto")
    assert isinstance(odoo, JsonRpcTransport)


def test_explicit_protocol_skips_detection(server):
    assert isinstance(connect(server.url, "ledger", KEY, protocol="json2"), Json2Transport)
    assert server.requests == []
    with pytest.raises(ValueError):
        connect(server.url, "ledger", KEY, protocol="xmlrpc")
