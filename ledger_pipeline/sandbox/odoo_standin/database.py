"""One Odoo database: its models, its seeded chart, and calls run as single transactions, served
by workers that may charge a cost per call (`cost_model`)."""

from __future__ import annotations

import threading

from .accounts import (
    AccountAccount,
    AccountJournal,
    AccountPaymentMethod,
    AccountPaymentMethodLine,
    AccountTax,
    AccountTaxGroup,
    AccountTaxRepartitionLine,
)
from .base_models import (
    IrConfigParameter,
    IrModel,
    IrModelData,
    IrModelFields,
    IrModuleModule,
    ResCompany,
    ResCountry,
    ResCountryState,
    ResCurrency,
    ResCurrencyRate,
    ResPartner,
    ResUsers,
)
from .chart import seed
from .cost_model import OdooCostModel, Workers, id_list
from .journal_items import AccountMoveLine
from .moves import AccountMove
from .orm import Env, Registry
from .payment_register import AccountPaymentRegister
from .payments import AccountPayment
from .reconcile import AccountFullReconcile, AccountPartialReconcile
from .store import Store
from .wizards import AccountMoveReversal, ValidateAccountMove

MODELS = [
    ResUsers, ResCompany, ResCountry, ResCountryState, ResCurrency, ResCurrencyRate, ResPartner,
    IrModel, IrModelFields, IrModelData, IrModuleModule, IrConfigParameter,
    AccountAccount, AccountTaxGroup, AccountTax, AccountTaxRepartitionLine, AccountJournal,
    AccountPaymentMethod,
    AccountPaymentMethodLine, AccountMove, AccountMoveLine, AccountPartialReconcile,
    AccountFullReconcile, AccountPayment, AccountPaymentRegister, AccountMoveReversal,
    ValidateAccountMove,
]  # fmt: skip

# Calls that post journal entries, numbered by their journal's sequence: the record model holding
# `journal_id` (the wizards name the journal the entries go to).
POSTING = {
    ("account.move", "action_post"): "account.move",
    ("account.payment", "action_post"): "account.payment",
    ("account.payment.register", "action_create_payments"): "account.payment.register",
    ("account.move.reversal", "modify_moves"): "account.move.reversal",
    ("account.move.reversal", "reverse_moves"): "account.move.reversal",  # posts when is_modify
    ("validate.account.move", "validate_move"): "account.move",  # through its move_ids
}


class Database:
    def __init__(
        self,
        version: int,
        name: str,
        *,
        cost_model: OdooCostModel | None = None,
        workers: int | None = None,
    ):
        if version not in (18, 19):
            raise ValueError(f"the stand-in plays Odoo 18 or 19, not {version!r}")
        self.version = version
        self.name = name
        self.store = Store()
        self.registry = Registry(version, self.store, MODELS)
        self.chart = seed(self.store, version, list(self.registry.models))
        self.lock = threading.RLock()
        self.today: str | None = None  # "YYYY-MM-DD" to fix the server's date, None: real date
        self.cost_model = cost_model
        self.workers = Workers(workers)

    def execute(self, model: str, method: str, ids, kwargs: dict, context: dict | None):
        """Run one RPC call as a worker serves it; everything it changed is undone if it raises.
        Only the execution holds the database lock, so the cost of calls overlaps."""
        seconds = self.cost_model.seconds(model, method, ids, kwargs) if self.cost_model else 0.0
        journals = self.posting_journals(model, method, ids, kwargs)
        with self.workers.serve(seconds, journals), self.lock, self.store.transaction():
            target = Env(self, context)[model]
            function = getattr(target, method)
            if function.rpc.model:
                return function(**kwargs)
            return function(ids, **kwargs)

    def posting_journals(self, model: str, method: str, ids, kwargs: dict) -> list[int]:
        """The journals whose entries a posting call numbers (none for other calls); ids that
        name no record are left to the call to refuse."""
        holder = POSTING.get((model, method))
        if holder is None or (method == "reverse_moves" and not kwargs.get("is_modify")):
            return []
        with self.lock:
            records = [self.store.get(model, rid) for rid in id_list(ids)]
            records = [record for record in records if record]
            if holder != model:  # validate.account.move: the moves it posts
                records = [
                    self.store.get(holder, rid)
                    for record in records
                    for rid in record.get("move_ids") or ()
                ]
            return sorted(
                {record["journal_id"] for record in records if record and record.get("journal_id")}
            )

    def records(self, model: str, domain=None) -> list[dict]:
        """What `search_read` would return, archived records included, without a call."""
        with self.lock:
            target = Env(self, {"active_test": False})[model]
            return target.read(target.search_ids(domain or []))
