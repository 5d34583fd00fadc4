"""Replays the corrections calls of odoo-corrections-transcript.json (sections setup, B, C, D, E
and D-extra: reversals, credit notes, refunds, lock dates, write-offs) against a fresh stand-in
of each version whose "today" is the recording's (2026-11-30), in recorded order, over HTTP.

Each answer must agree with the recorded one: the HTTP status; a result (states, payment
states, residuals, dates, names, the act_windows) or an error (class, message, arguments), and
on 18 a method returning None must come back without a `result` key, on 19 as `null`.

Ids: the real servers spent ids the stand-in does not (journal items they deleted and made
again, partial reconciles), so the replay maps recorded ids to the stand-in's per model. A
mapping is learned the first time an id shows up in an answer (a create, a search, a read's
`id`, a many2one, an act_window's `res_id`) and must stay one-to-one; every later request and
expectation is translated with it, so a wrong record fails the comparison (many2ones are
compared with their display names).

What the stand-in leaves out is listed in DEVIATIONS with the reason.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from functools import cache

import pytest

from ledger_pipeline.sandbox.odoo_standin import OdooStandIn
from ledger_pipeline_tests.fixtures import fixture
from ledger_pipeline_tests.sandbox.test_odoo_standin_support import Outcome, Rpc

SECTIONS = ("setup", "B", "C", "D", "E", "D-extra")
SERVER_TODAY = "2026-11-30"
# 18's positional arguments, by method: what each position holds (None: not translated)
POSITIONAL = {
    "create": ("vals_list",),
    "write": ("ids", "vals"),
    "read": ("ids", None),
    "search_read": ("domain",),
    "search": ("domain",),
    "fields_get": (),
}
# (version, recorded note) -> (why the stand-in differs, fields of the answer left out)
DEVIATIONS: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {
    (version, "B2b wizard read"): (
        "the seeded company is named 'NexaCloud Ledger Test (CA)', the recorded 'My Company'",
        ("company_id",),
    )
    for version in (18, 19)
}


@cache
def corrections_calls(version: int) -> tuple[dict, ...]:
    data = json.loads(fixture("odoo-corrections-transcript.json").read_text())
    assert data["server_today"].startswith(SERVER_TODAY)
    return tuple(
        call
        for call in data["calls"]
        if call["version"] == f"{version}.0"
        and call["section"] in SECTIONS
        and _is_model_call(version, call)
    )


def _is_model_call(version: int, call: dict) -> bool:
    if version == 19:
        return call["request"]["path"].startswith("/json/2/")
    return call["request"]["body"]["params"]["service"] == "object"


class CorrectionsReplay:
    """Sends recorded calls with recorded ids translated, per model, into the stand-in's."""

    def __init__(self, odoo: OdooStandIn):
        self.odoo = odoo
        self.rpc = Rpc(odoo)
        self.ids: dict[str, dict[int, int]] = defaultdict(dict)
        self.problems: list[str] = []

    # -- ids ------------------------------------------------------------------------------------
    def relation(self, model: str, field: str) -> str | None:
        spec = self.odoo._db.registry.fields(model).get(field)
        return spec.relation if spec is not None else None

    def ours(self, model: str | None, rid):
        if model is None or not isinstance(rid, int) or isinstance(rid, bool):
            return rid
        return self.ids[model].get(rid, rid)

    def learn(self, model: str | None, recorded, answered) -> None:
        """Record that `recorded` is the stand-in's `answered`; one-to-one per model."""
        if model is None or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in (recorded, answered)
        ):
            return
        known = self.ids[model]
        if recorded in known:
            return
        if answered in known.values() and answered != recorded:
            self.problems.append(f"{model} id {answered} already stands for another record")
            return
        known[recorded] = answered

    # -- requests -------------------------------------------------------------------------------
    def request(self, version: int, call: dict) -> tuple[list, dict]:
        """(positional args, named args) with ids translated."""
        model, method = call["model"], call["method"]
        if version == 19:
            named = dict(call["request"]["body"])
            return [], {k: self.argument(model, k, v, named) for k, v in named.items()}
        args, kwargs = call["request"]["body"]["params"]["args"][5:7]
        roles = POSITIONAL.get(method, ("ids",))
        positional = [
            self.argument(model, roles[i] if i < len(roles) else None, value, kwargs)
            for i, value in enumerate(args)
        ]
        return positional, {k: self.argument(model, k, v, kwargs) for k, v in kwargs.items()}

    def argument(self, model: str, role: str | None, value, named: dict):
        if role == "ids":
            return [self.ours(model, rid) for rid in value]
        if role == "vals_list":
            return [self.vals(model, vals) for vals in value]
        if role == "vals":
            return self.vals(model, value)
        if role == "domain":
            return self.domain(model, value)
        if role == "context":
            active = value.get("active_model")
            return {
                **value,
                **(
                    {"active_ids": [self.ours(active, rid) for rid in value["active_ids"]]}
                    if "active_ids" in value
                    else {}
                ),
            }
        return value

    def vals(self, model: str, vals: dict) -> dict:
        translated = {}
        for name, value in vals.items():
            target = self.relation(model, name)
            if target is None:
                translated[name] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                translated[name] = self.ours(target, value)
            elif isinstance(value, list):
                translated[name] = [self.command(target, command) for command in value]
            else:
                translated[name] = value
        return translated

    def command(self, model: str, command):
        if not isinstance(command, list):
            return self.ours(model, command)
        code = command[0]
        if code == 0:
            return [0, 0, self.vals(model, command[2])]
        if code == 6:
            return [6, 0, [self.ours(model, rid) for rid in command[2]]]
        return [code, self.ours(model, command[1]), *command[2:]]

    def domain(self, model: str, domain: list) -> list:
        translated = []
        for leaf in domain:
            if isinstance(leaf, list) and len(leaf) == 3 and "." not in leaf[0]:
                field, operator, value = leaf
                target = self.relation(model, field) or (model if field == "id" else None)
                if isinstance(value, list):
                    value = [self.ours(target, v) for v in value]
                else:
                    value = self.ours(target, value)
                leaf = [field, operator, value]
            translated.append(leaf)
        return translated

    # -- answers --------------------------------------------------------------------------------
    def expected(self, model: str, method: str, recorded, answered):
        """The recorded result in the stand-in's ids, learning new ids from the answer."""
        if method in ("create", "search") and isinstance(recorded, list):
            pairs = zip(recorded, answered if isinstance(answered, list) else [], strict=False)
            for was, now in pairs:
                self.learn(model, was, now)
            return [self.ours(model, rid) for rid in recorded]
        if method in ("read", "search_read") and isinstance(recorded, list):
            rows = answered if isinstance(answered, list) else []
            return [
                self.row(model, row, rows[i] if i < len(rows) else {})
                for i, row in enumerate(recorded)
            ]
        is_action = isinstance(recorded, dict) and recorded.get("type") == "ir.actions.act_window"
        if is_action and "res_id" in recorded and isinstance(answered, dict):
            self.learn(recorded["res_model"], recorded["res_id"], answered.get("res_id"))
            return {**recorded, "res_id": self.ours(recorded["res_model"], recorded["res_id"])}
        return recorded

    def row(self, model: str, recorded: dict, answered: dict) -> dict:
        self.learn(model, recorded.get("id"), answered.get("id"))
        row = {}
        for name, value in recorded.items():
            got = answered.get(name)
            target = model if name == "id" else self.relation(model, name)
            if name == "matching_number" and isinstance(value, str):
                row[name] = self.matching_number(value, got)
            elif target is None:
                row[name] = value
            elif isinstance(value, int) and not isinstance(value, bool):
                row[name] = self.ours(target, value)
            elif isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
                self.learn(target, value[0], got[0] if isinstance(got, list) and got else None)
                rid = self.ours(target, value[0])
                name_shown = value[1]
                if target == "account.full.reconcile":  # Odoo's "model,id" display name
                    name_shown = f"account.full.reconcile,{rid}"
                row[name] = [rid, name_shown]
            elif isinstance(value, list):
                if isinstance(got, list) and len(got) == len(value):
                    for was, now in zip(value, got, strict=True):
                        self.learn(target, was, now)
                row[name] = [self.ours(target, rid) for rid in value]
            else:
                row[name] = value
        return row

    def matching_number(self, value: str, got) -> str:
        """ "5" names a full reconcile, "P5" a partial one."""
        partial = value.startswith("P")
        model = "account.partial.reconcile" if partial else "account.full.reconcile"
        number = int(value[1:] if partial else value)
        if isinstance(got, str) and got.lstrip("P").isdigit():
            self.learn(model, number, int(got.lstrip("P")))
        return f"{'P' if partial else ''}{self.ours(model, number)}"


def _agree(expected, answered) -> bool:
    if isinstance(expected, float) or isinstance(answered, float):
        return (
            all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (expected, answered)
            )
            and abs(expected - answered) < 1e-6
        )
    if isinstance(expected, list) and isinstance(answered, list):
        return len(expected) == len(answered) and all(map(_agree, expected, answered))
    if isinstance(expected, dict) and isinstance(answered, dict):
        return expected.keys() == answered.keys() and all(
            _agree(expected[k], answered[k]) for k in expected
        )
    return expected == answered


def _without(body, names: tuple[str, ...]):
    if isinstance(body, list):
        return [_without(item, names) for item in body]
    if isinstance(body, dict):
        return {k: _without(v, names) for k, v in body.items() if k not in names}
    return body


def _send(replay: CorrectionsReplay, version: int, call: dict) -> Outcome:
    args, kwargs = replay.request(version, call)
    if version == 19:
        return replay.rpc.json2(call["model"], call["method"], kwargs)
    return replay.rpc.execute_kw(call["model"], call["method"], args, kwargs)


def disagreement(replay: CorrectionsReplay, version: int, call: dict, answer: Outcome) -> str:
    """What differs between the recorded answer and the stand-in's ("" when nothing)."""
    recorded, status = call["response"], call["http_status"]
    if answer.status != status:
        return f"HTTP {answer.status}, recorded {status}: {json.dumps(answer.body)[:300]}"
    if version == 18:
        if "error" in recorded:
            expected, got = recorded["error"], answer.body.get("error")
            expected, got = _without(expected, ("debug",)), _without(got, ("debug",))
            return "" if got == expected else f"error {got}, recorded {expected}"
        if "result" not in recorded:  # a method that returned None
            return "" if "result" not in answer.body and answer.ok else f"got {answer.body}"
        if "result" not in answer.body:
            return f"no result key, recorded {json.dumps(recorded)[:200]}"
        recorded, got = recorded["result"], answer.body["result"]
    else:
        if status != 200:
            expected, got = _without(recorded, ("debug",)), _without(answer.body, ("debug",))
            return "" if got == expected else f"error {got}, recorded {expected}"
        got = answer.body
    expected = replay.expected(call["model"], call["method"], recorded, got)
    left_out = DEVIATIONS.get((version, call.get("note")), ("", ()))[1]
    expected, got = _without(expected, left_out), _without(got, left_out)
    if _agree(expected, got):
        return ""
    return f"\n  recorded {json.dumps(expected)[:900]}\n  answered {json.dumps(got)[:900]}"


@pytest.fixture(scope="module")
def problems() -> dict[int, dict[str, list[str]]]:
    """Per version and section, the recorded calls the stand-in answered differently."""
    found: dict[int, dict[str, list[str]]] = {}
    for version in (18, 19):
        found[version] = defaultdict(list)
        with OdooStandIn(version=version) as odoo:
            odoo.today = SERVER_TODAY
            replay = CorrectionsReplay(odoo)
            for call in corrections_calls(version):
                answer = _send(replay, version, call)
                problem = disagreement(replay, version, call, answer)
                problem += "".join(f"\n  {p}" for p in replay.problems)
                replay.problems.clear()
                if problem:
                    found[version][call["section"]].append(
                        f"seq {call['seq']} {call['model']}.{call['method']} "
                        f"({call.get('note')}): {problem}"
                    )
    return found


@pytest.mark.parametrize("version", [18, 19])
@pytest.mark.parametrize("section", SECTIONS)
def test_recorded_corrections_section_agrees(problems, version, section):
    assert corrections_calls(version)
    assert problems[version].get(section, []) == []


# -- what the recording did not exercise, from the same source rules (§D.2, §D.4) ---------------
def _invoice(rpc: Rpc, date: str, price: float = 100.0, taxed: bool = True) -> int:
    line = {"name": "Subscription", "quantity": 1, "price_unit": price}
    if taxed:
        line["tax_ids"] = [[6, 0, [7]]]
    move = rpc.create(
        "account.move",
        {
            "move_type": "out_invoice",
            "partner_id": 1,
            "invoice_date": date,
            "journal_id": 1,
            "invoice_line_ids": [[0, 0, line]],
        },
    )
    assert rpc.call("account.move", "action_post", [move]).ok
    return move


def _entry(rpc: Rpc, date: str) -> int:
    accounts = rpc.ok("account.account", "search", domain=[["code", "in", ["112110", "512210"]]])
    receivable, expense = sorted(accounts)
    move = rpc.create(
        "account.move",
        {
            "move_type": "entry",
            "journal_id": 3,
            "date": date,
            "line_ids": [
                [0, 0, {"account_id": expense, "debit": 10.0, "name": "x"}],
                [0, 0, {"account_id": receivable, "partner_id": 1, "credit": 10.0, "name": "x"}],
            ],
        },
    )
    assert rpc.call("account.move", "action_post", [move]).ok
    return move


def _dates(rpc: Rpc, move: int) -> tuple[str, str]:
    row = rpc.read_one("account.move", move, ["date", "name"])
    return row["date"], row["name"]


@pytest.mark.parametrize("version", [18, 19])
def test_the_tax_lock_moves_only_entries_with_taxes(version):
    with OdooStandIn(version=version) as odoo:
        odoo.today = SERVER_TODAY
        rpc = Rpc(odoo)
        assert rpc.ok("res.company", "write", [1], vals={"tax_lock_date": "2026-01-31"}) is True
        first = _invoice(rpc, "2026-01-19")  # the journal has no entry yet: month end
        taxed = _invoice(rpc, "2026-01-20")  # numbering resets yearly: min(today, 31 Dec)
        untaxed = _invoice(rpc, "2026-01-21", taxed=False)
        misc = _entry(rpc, "2026-01-22")
        assert _dates(rpc, first) == ("2026-02-28", "INV/2026/00001")
        assert _dates(rpc, taxed) == ("2026-11-30", "INV/2026/00002")
        assert _dates(rpc, untaxed) == ("2026-01-21", "INV/2026/00003")
        assert _dates(rpc, misc) == ("2026-01-22", "MISC/2026/01/0001")


@pytest.mark.parametrize("version", [18, 19])
def test_a_locked_entry_names_every_lock_it_falls_in(version):
    with OdooStandIn(version=version) as odoo:
        odoo.today = SERVER_TODAY
        rpc = Rpc(odoo)
        january = _invoice(rpc, "2026-01-15")
        rpc.ok(
            "res.company",
            "write",
            [1],
            vals={"fiscalyear_lock_date": "2026-01-31", "sale_lock_date": "2026-02-28"},
        )
        refused = rpc.call("account.move", "button_draft", [january])
        assert refused.failure == (
            "odoo.exceptions.UserError",
            "You cannot add/modify entries prior to and inclusive of: Global Lock Date "
            "(01/31/2026), Sales Lock Date (02/28/2026).",
        )
        # the last lock decides: the invoice lands after the sales lock, the entry after the
        # global one (the sales lock does not cover the MISC journal)
        assert _dates(rpc, _invoice(rpc, "2026-01-20"))[0] == "2026-11-30"
        assert _dates(rpc, _entry(rpc, "2026-01-20")) == ("2026-02-28", "MISC/2026/02/0001")


@pytest.mark.parametrize("version", [18, 19])
def test_the_hard_lock_only_moves_forward(version):
    with OdooStandIn(version=version) as odoo:
        rpc = Rpc(odoo)
        assert rpc.ok("res.company", "write", [1], vals={"hard_lock_date": "2026-01-31"})
        lowered = rpc.call("res.company", "write", [1], vals={"hard_lock_date": "2026-01-30"})
        assert lowered.failure[0] == "odoo.exceptions.UserError"
        assert rpc.ok("res.company", "write", [1], vals={"hard_lock_date": "2026-02-28"})
        row = rpc.read_one("res.company", 1, ["hard_lock_date", "user_hard_lock_date"])
        assert row == {"id": 1, "hard_lock_date": "2026-02-28", "user_hard_lock_date": "2026-02-28"}


@pytest.mark.parametrize("version", [18, 19])
def test_today_is_the_real_date_unless_fixed(version):
    with OdooStandIn(version=version) as odoo:
        rpc = Rpc(odoo)
        invoice = _invoice(rpc, "2026-01-15")
        before = datetime.date.today().isoformat()
        wizard = rpc.create(
            "account.move.reversal",
            {"journal_id": 1},
            context={"active_model": "account.move", "active_ids": [invoice]},
        )
        after = datetime.date.today().isoformat()
        assert rpc.read_one("account.move.reversal", wizard, ["date"])["date"] in (before, after)
        odoo.today = "2027-02-03"
        fixed = rpc.create(
            "account.move.reversal",
            {"journal_id": 1},
            context={"active_model": "account.move", "active_ids": [invoice]},
        )
        assert rpc.read_one("account.move.reversal", fixed, ["date"])["date"] == "2027-02-03"


@pytest.mark.parametrize("version", [18, 19])
def test_only_a_posted_move_can_be_reversed(version):
    with OdooStandIn(version=version) as odoo:
        rpc = Rpc(odoo)
        draft = rpc.create(
            "account.move",
            {
                "move_type": "out_invoice",
                "partner_id": 1,
                "invoice_line_ids": [[0, 0, {"name": "x", "quantity": 1, "price_unit": 5}]],
            },
        )
        refused = rpc.call(
            "account.move.reversal",
            "create",
            vals_list=[{"journal_id": 1}],
            context={"active_model": "account.move", "active_ids": [draft]},
        )
        assert refused.failure == (
            "odoo.exceptions.UserError",
            {
                18: "You can only reverse posted moves.",
                19: "To reverse a journal entry, it has to be posted first.",
            }[version],
        )


@pytest.mark.parametrize("version", [18, 19])
def test_an_explicit_accounting_date_wins_over_the_invoice_date(version):
    """`date` is computed from `invoice_date`, but the ORM keeps a value written with it
    (source: fields protected during create/write); a writer can pick the date itself."""
    with OdooStandIn(version=version) as odoo:
        rpc = Rpc(odoo)
        line = {"name": "x", "quantity": 1, "price_unit": 5}
        move = rpc.create(
            "account.move",
            {
                "move_type": "out_invoice",
                "partner_id": 1,
                "invoice_date": "2026-01-20",
                "date": "2026-02-01",
                "invoice_line_ids": [[0, 0, line]],
            },
        )
        read = lambda: rpc.read_one("account.move", move, ["invoice_date", "date"])  # noqa: E731
        assert read() == {"id": move, "invoice_date": "2026-01-20", "date": "2026-02-01"}
        rpc.ok("account.move", "write", [move], vals={"invoice_date": "2026-01-22"})
        assert read()["date"] == "2026-01-22"
        rpc.ok(
            "account.move",
            "write",
            [move],
            vals={"invoice_date": "2026-01-23", "date": "2026-02-02"},
        )
        assert read() == {"id": move, "invoice_date": "2026-01-23", "date": "2026-02-02"}
