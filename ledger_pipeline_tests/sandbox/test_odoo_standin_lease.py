"""Replays the lease calls of odoo-corrections-transcript.json (sections A, A-cost, A-cost-why,
A-extra: every `ir.config_parameter` and `ir.model.data` call) against a fresh stand-in of each
version, in recorded order, and checks each answer: the same HTTP status and the same body, error
class and message included. Ids are translated where the stand-in hands out others; timestamps
and tracebacks are left out.

The two creates sent "at the same moment" (A19) are replayed winner first: the recorded servers
serialised them the same way (PostgreSQL made the second INSERT wait for the first).
"""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.fixtures import fixture
from ledger_pipeline_tests.sandbox.test_odoo_standin_record import Replay
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import VERSIONS, Outcome, Rpc

LEASE_MODELS = ("ir.config_parameter", "ir.model.data")


@cache
def lease_calls(version: int) -> list[dict]:
    data = json.loads(fixture("odoo-corrections-transcript.json").read_text())
    calls = [
        call
        for call in data["calls"]
        if call["section"].startswith("A")
        and call["version"] == f"{version}.0"
        and call["model"] in LEASE_MODELS
        and call["request"]["path"] in ("/jsonrpc", f"/json/2/{call['model']}/{call['method']}")
    ]
    return _winner_first(calls)


def _winner_first(calls: list[dict]) -> list[dict]:
    """Each pair of concurrent creates (marked `thread`) with the one that got the id first."""
    ordered: list[dict] = []
    for call in calls:
        previous = ordered[-1] if ordered else None
        pair = previous is not None and "thread" in previous and "thread" in call
        same_round = pair and previous["note"].split(",")[0] == call["note"].split(",")[0]
        if same_round and _failed(previous) and not _failed(call):
            ordered[-1:] = [call, previous]
        else:
            ordered.append(call)
    return ordered


def _failed(call: dict) -> bool:
    response = call["response"]
    return call["http_status"] != 200 or (isinstance(response, dict) and "error" in response)


class IdReplay(Replay):
    """Sends recorded calls, translating the recorded servers' ids into the stand-in's, in
    messages too."""

    def send(self, call: dict) -> Outcome:
        body = self.translate(call["request"]["body"])
        if self.rpc.odoo.version == 18:
            _db, _uid, _key, model, method, args, kwargs = body["params"]["args"]
            return self.rpc.execute_kw(model, method, args, kwargs)
        return self.rpc.json2(call["model"], call["method"], body)

    def learn(self, call: dict, answer: Outcome) -> None:
        if call["method"] != "create" or _failed(call) or not answer.ok:
            return
        recorded = call["response"]
        recorded = recorded["result"] if isinstance(recorded, dict) else recorded
        for was, now in zip(recorded, answer.result, strict=True):
            self.ids[was] = now

    def translate(self, value):
        if isinstance(value, str):  # "(Record: ir.config_parameter(18,), …": the id in a message
            return re.sub(r"\((\d+),\)", lambda m: f"({self.translate(int(m[1]))},)", value)
        return super().translate(value)


def comparable(body):
    """A body without what differs run to run: timestamps and the (trimmed) traceback."""
    if isinstance(body, list):
        return [comparable(item) for item in body]
    if isinstance(body, dict):
        return {
            key: comparable(value)
            for key, value in body.items()
            if key != "debug" and not key.endswith("_date")
        }
    return body


def replay_disagreements(version: int) -> list[str]:
    problems = []
    with OdooStandIn(version=version) as odoo:
        replay = IdReplay(odoo)
        for call in lease_calls(version):
            answer = replay.send(call)
            replay.learn(call, answer)
            expected = comparable(replay.translate(call["response"]))
            got = comparable(answer.body)
            if answer.status != call["http_status"] or got != expected:
                problems.append(
                    f"seq {call['seq']} {call['model']}.{call['method']} ({call.get('note')}): "
                    f"expected {call['http_status']} {json.dumps(expected)[:300]}, "
                    f"got {answer.status} {json.dumps(got)[:300]}"
                )
    return problems


@pytest.mark.parametrize("version", VERSIONS)
def test_the_recorded_lease_calls_get_the_recorded_answers(version):
    calls = lease_calls(version)
    methods = {(c["model"], c["method"]) for c in calls}
    assert {"create", "search_read", "write", "unlink", "get_param", "set_param"} <= {
        method for model, method in methods if model == "ir.config_parameter"
    }
    assert sum("thread" in c for c in calls) == 6  # three rounds of two concurrent creates
    assert replay_disagreements(version) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_a_duplicate_key_is_refused_whatever_the_value(version):
    with OdooStandIn(version=version) as odoo:
        rpc = Rpc(odoo)
        first = rpc.create("ir.config_parameter", {"key": "k", "value": "a"})
        again = rpc.call("ir.config_parameter", "create", vals_list=[{"key": "k", "value": "b"}])
        assert again.failure == (
            "odoo.exceptions.ValidationError",
            "The operation cannot be completed: Key must be unique.",
        )
        assert again.status == (422 if version == 19 else 200)
        renamed = rpc.create("ir.config_parameter", {"key": "other", "value": "c"})
        clash = rpc.call("ir.config_parameter", "write", [renamed], vals={"key": "k"})
        assert clash.failure[0] == "odoo.exceptions.ValidationError"
        rows = rpc.ok("ir.config_parameter", "search_read", domain=[], fields=["key", "value"])
        assert [(r["id"], r["key"], r["value"]) for r in rows] == [
            (first, "k", "a"),
            (renamed, "other", "c"),
        ]
