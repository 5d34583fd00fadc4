"""One Odoo database: its models, its seeded chart, and calls run as single transactions."""

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


class Database:
    def __init__(self, version: int, name: str):
        if version not in (18, 19):
            raise ValueError(f"the stand-in plays Odoo 18 or 19, not {version!r}")
        self.version = version
        self.name = name
        self.store = Store()
        self.registry = Registry(version, self.store, MODELS)
        self.chart = seed(self.store, version, list(self.registry.models))
        self.lock = threading.RLock()
        self.today: str | None = None  # "YYYY-MM-DD" to fix the server's date, None: real date

    def execute(self, model: str, method: str, ids, kwargs: dict, context: dict | None):
        """Run one RPC call; everything it changed is undone if it raises."""
        with self.lock, self.store.transaction():
            target = Env(self, context)[model]
            function = getattr(target, method)
            if function.rpc.model:
                return function(**kwargs)
            return function(ids, **kwargs)

    def records(self, model: str, domain=None) -> list[dict]:
        """What `search_read` would return, archived records included, without a call."""
        with self.lock:
            target = Env(self, {"active_test": False})[model]
            return target.read(target.search_ids(domain or []))
