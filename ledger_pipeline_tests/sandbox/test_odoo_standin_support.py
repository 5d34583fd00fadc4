"""Shared by the Odoo stand-in tests: a bare HTTP client for either protocol, and the recorded
transcripts the stand-in is compared with (no tests here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import pytest
import requests

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.fixtures import fixture

VERSIONS = [pytest.param(18, id="odoo18"), pytest.param(19, id="odoo19")]
TRANSCRIPTS = {18: "odoo18-transcript.json", 19: "odoo19-transcript.json"}


@dataclass
class Outcome:
    """What one call came back with, on either protocol."""

    status: int
    body: object
    headers: dict

    @property
    def error(self) -> dict | None:
        if isinstance(self.body, dict) and "error" in self.body:  # JSON-RPC
            return self.body["error"]["data"]
        if self.status != 200:  # JSON-2
            return self.body if isinstance(self.body, dict) else {"name": str(self.body)}
        return None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def result(self):
        assert self.ok, f"the call failed: {self.error}"
        if isinstance(self.body, dict) and "jsonrpc" in self.body:
            return self.body.get("result")
        return self.body

    @property
    def failure(self) -> tuple[str, str]:
        assert self.error is not None, f"the call succeeded: {self.body}"
        return self.error["name"], self.error["message"]


class Rpc:
    """Calls a stand-in over HTTP: JSON-RPC `execute_kw` on 18, JSON-2 on 19 (or as asked)."""

    def __init__(self, odoo: OdooStandIn, protocol: str | None = None):
        self.odoo = odoo
        self.protocol = protocol or ("json2" if odoo.version >= 19 else "jsonrpc")
        self.session = requests.Session()

    def call(self, model: str, method: str, ids=None, *, context=None, **named) -> Outcome:
        """Named arguments as JSON-2 takes them; on JSON-RPC the vals of `create` and `write` go
        positionally, as the pipeline's transport sends them."""
        if self.protocol == "json2":
            body = dict(named)
            if ids is not None:
                body["ids"] = ids
            if context is not None:
                body["context"] = context
            return self.json2(model, method, body)
        args = [] if ids is None else [ids]
        leading = {"create": "vals_list", "write": "vals"}.get(method)
        if leading:
            args.append(named.pop(leading))
        if context is not None:
            named["context"] = context
        return self.execute_kw(model, method, args, named)

    def ok(self, model: str, method: str, ids=None, **named):
        return self.call(model, method, ids, **named).result

    def create(self, model: str, vals: dict, **named) -> int:
        created = self.ok(model, "create", vals_list=[vals], **named)
        return created[0]

    def read(self, model: str, ids, fields: list[str]) -> list[dict]:
        return self.ok(model, "read", ids, fields=fields)

    def read_one(self, model: str, rid: int, fields: list[str]) -> dict:
        return self.read(model, [rid], fields)[0]

    def execute_kw(
        self, model, method, args, kwargs=None, *, password=None, db=None, uid=2
    ) -> Outcome:
        return self.jsonrpc(
            "object",
            "execute_kw",
            [
                db or self.odoo.database,
                uid,
                password or self.odoo.api_key,
                model,
                method,
                args,
                kwargs or {},
            ],
        )

    def jsonrpc(self, service: str, method: str, args: list) -> Outcome:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"service": service, "method": method, "args": args},
        }
        response = self.session.post(self.odoo.url + "/jsonrpc", json=payload, timeout=10)
        return _outcome(response)

    def json2(self, model: str, method: str, body, *, headers=None) -> Outcome:
        sent = {
            "Authorization": f"bearer {self.odoo.api_key}",
            "X-Odoo-Database": self.odoo.database,
            "Content-Type": "application/json; charset=utf-8",
        }
        sent.update(headers or {})
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        response = self.session.post(
            f"{self.odoo.url}/json/2/{model}/{method}",
            data=data,
            headers={k: v for k, v in sent.items() if v is not None},
            timeout=10,
        )
        return _outcome(response)


def _outcome(response: requests.Response) -> Outcome:
    try:
        parsed = response.json()
    except ValueError:
        parsed = response.text
    return Outcome(response.status_code, parsed, dict(response.headers))


# -- the record --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recorded:
    """One call of a transcript, the same way for both versions."""

    section: str
    label: str
    model: str | None
    method: str | None
    request: object  # 18: (args, kwargs); 19: the JSON-2 body
    status: int | None
    result: object
    error: tuple[str, str] | None  # (class, message)


@cache
def transcript(version: int) -> list[Recorded]:
    data = json.loads(fixture(TRANSCRIPTS[version]).read_text())
    calls = data["calls"] + (data.get("q12_q13", {}).get("calls", []) if version == 19 else [])
    return [_normalise(version, call) for call in calls]


def _normalise(version: int, call: dict) -> Recorded:
    if version == 18:
        error = call.get("error")
        return Recorded(
            call["section"],
            call["label"],
            call.get("model"),
            call.get("method"),
            (call.get("args"), call.get("kwargs")),
            call.get("http_status"),
            call.get("result"),
            (error["name"], error["data.message"]) if error else None,
        )
    failed = call.get("err_name") is not None
    return Recorded(
        call["section"],
        call["label"],
        call.get("model"),
        call.get("method"),
        call.get("request"),
        call.get("status"),
        call.get("result", call.get("body")),
        (call["err_name"], call["err_message"]) if failed else None,
    )


def recorded(version: int, label: str) -> Recorded:
    """The first recorded call with this label."""
    for call in transcript(version):
        if call.label == label:
            return call
    raise LookupError(f"no call labelled {label!r} in the Odoo {version} transcript")


def replay(rpc: Rpc, call: Recorded) -> Outcome:
    """Send a recorded call again as it was sent (18: execute_kw args; 19: the JSON-2 body)."""
    if rpc.odoo.version == 18:
        args, kwargs = call.request
        return rpc.execute_kw(call.model, call.method, args, kwargs)
    return rpc.json2(call.model, call.method, call.request)
