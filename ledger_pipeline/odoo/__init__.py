"""Odoo as the ledger of record: transport, setup, booking, payments, read-back."""

from ledger_pipeline.odoo.errors import OdooError, OdooTransportError
from ledger_pipeline.odoo.readback import LedgerReadBack, MoveReadBack
from ledger_pipeline.odoo.report import BookingAction, BookingReport, BookingStep, InvoiceBooking
from ledger_pipeline.odoo.resource import OdooLedger

__all__ = [
    "BookingAction",
    "BookingReport",
    "BookingStep",
    "InvoiceBooking",
    "LedgerReadBack",
    "MoveReadBack",
    "OdooError",
    "OdooLedger",
    "OdooTransportError",
]
