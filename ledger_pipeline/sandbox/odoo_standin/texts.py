"""Every message text the stand-in answers with, as recorded (odoo-contract.md, odoo19-contract.md,
odoo-payments.md). Texts that changed between versions are keyed by version; the rest are shared.
Those marked "(source)" were not recorded; they are Odoo's own text for that case.
"""

from __future__ import annotations

BY_VERSION = {
    # protocol and ORM
    "unknown_model": {
        18: "Object {model} doesn't exist",
        19: "the model '{model}' does not exist",
    },
    "unknown_method": {
        18: "The method '{method}' does not exist on the model '{model}'",
        19: "The method '{model}.{method}' does not exist",
    },
    "private_method": {
        18: "Private methods (such as {method}) cannot be called remotely.",
        19: "Private methods (such as '{model}.{method}') cannot be called remotely.",
    },
    "invalid_field_write": {
        18: "Invalid field {field!r} on model {model!r}",
        19: "Invalid field {field!r} in {model!r}",
    },
    "invalid_field_read": {
        18: "Invalid field {field!r} on model {model!r}",
        19: "Invalid field {field!r} on {model!r}",
    },
    "invalid_leaf": {
        18: "Invalid field {model}.{field} in leaf {leaf}",
        19: "Invalid field {model}.{field} in condition {leaf}",
    },
    # posting
    "no_lines": {
        18: "You need to add a line before posting.",
        19: "Even magicians can't post nothing!",
    },
    "no_partner": {
        18: "The field 'Customer' is required, please complete it to validate the Customer "
        "Invoice.",
        19: "The 'Customer' field is required to validate the invoice.\n"
        "You probably don't want to explain to your auditor that you invoiced an invisible man :)",
    },
    # payments
    "nothing_to_pay": {
        18: "You can't register a payment because there is nothing left to pay on the selected "
        "journal items.",
        19: "There's nothing left to pay for the selected journal items, so no payment "
        "registration is necessary. You've got your finances under control like a boss!",
    },
    "group_memo_prefix": {18: "BATCH", 19: "GROUP"},
    # the reversal wizard over a move that is not posted (odoo-corrections §B.1)
    "reverse_unposted": {
        18: "You can only reverse posted moves.",
        19: "To reverse a journal entry, it has to be posted first.",
    },
}

UNSTORED_LEAF = "Cannot convert {model}.{field} to SQL because it is not stored"  # 19 only
ACCESS_DENIED = "Access Denied"
INVALID_APIKEY = "Invalid apikey"
NO_BEARER = "User not authenticated, use an API Key with a Bearer Authorization header."
JSON2_ROUTE_HINT = "Did you mean POST /json/2/<model>/<method>?"
MISSING_RECORD = "Record does not exist or has been deleted.\n(Record: {model}({ids}), User: 2)"
UNKNOWN_DATABASE = (
    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "{db}" does not '
    "exist\n"
)
INTEGER_SYNTAX = 'invalid input syntax for type integer: "{value}"'

CANNOT_COMPLETE = "The operation cannot be completed: {detail}"
NOT_NULL = (  # (source)
    "The operation cannot be completed:\n"
    "- Create/update: a mandatory field is not set.\n"
    "- Delete: another model requires the record being deleted. If possible, archive it "
    "instead.\n\n"
    "Model: {model_name} ({model})\n"
    "Field: {field_name} ({field})\n"
)
FOREIGN_KEY = (  # (source)
    "The operation cannot be completed: another model requires the record being deleted. "
    "If possible, archive it instead.\n\n"
    "Model: {model_name} ({model})\n"
    "Constraint: {constraint}\n"
)
DUPLICATE_XMLID = (
    'duplicate key value violates unique constraint "ir_model_data_module_name_uniq_index"\n'
    "DETAIL:  Key (module, name)=({module}, {name}) already exists.\n"
)
KEY_UNIQUE = "Key must be unique."  # ir.config_parameter's UNIQUE(key)
XMLID_NOT_FOUND = "External ID not found in the system: {module}.{name}"
CUSTOM_FIELD_PREFIX = "Custom fields must have a name that starts with 'x_'!"
DUPLICATE_FIELD = "Field names must be unique per model."  # (source)
DUPLICATE_JOURNAL_CODE = "Journal codes must be unique per company."  # (source)
DUPLICATE_RATE = "Only one currency rate per day allowed!"  # (source)

ACCOUNT_CODE_CHARS = "The account code can only contain alphanumeric characters and dots."
ACCOUNT_CODE_UNIQUE = (
    "Account codes must be unique. You can't create accounts with these duplicate codes: {codes}"
)
ACCOUNT_CODE_MISSING = "The code must be set for every company to which this account belongs."

NEGATIVE_TOTAL = (
    "You cannot validate an invoice with a negative total amount. You should create a credit note "
    "instead. Use the action menu to transform it into a credit note or refund."
)
MUST_BE_DRAFT = "The entry {name} (id {id}) must be in draft."
INACTIVE_CURRENCY = "You cannot validate a document with an inactive currency: {currency}"
POSTED_READONLY = "You cannot modify the following readonly fields on a posted move: {fields}"
POSTED_DELETE = (
    "You can't delete a posted journal item. Don\u2019t play games with your accounting records; "
    "reset the journal entry to draft before deleting it."
)
POSTED_TAXES = (
    "You cannot modify the taxes related to a posted journal item, you should reset the journal "
    "entry to draft to do so."
)
HASHED_FIELDS = (
    "You cannot edit the following fields: {fields}.\nThe following entries are already hashed:\n"
    "{names}"
)
HASHED_DRAFT = "You cannot reset to draft a locked journal entry."
HASH_FLAG_LOCKED = (
    "You cannot modify the field Secure Posted Entries with Hash of a journal that already has "
    "accounting entries."
)
UNBALANCED_19 = "The entry is not balanced."
UNBALANCED_18 = (
    "An error has occurred.\n\nThe move ({move}) is not balanced.\nThe total of debits equals "
    "{debit} and the total of credits equals {credit}.\nYou might want to specify a default "
    'account on journal "{journal}" to automatically balance each move.'
)
SWITCH_NOT_DRAFT = "You can only switch the type of a draft entry."  # (source)

LOCKED_ENTRY = "You cannot add/modify entries prior to and inclusive of: {locks}."
HARD_LOCK_REMOVED = "The Hard Lock Date cannot be removed."
HARD_LOCK_LOWERED = (  # (source)
    "A new Hard Lock Date must be posterior (or equal) to the previous one."
)
ALREADY_RECONCILED = "You are trying to reconcile some entries that are already reconciled."
RECONCILE_UNPOSTED = "You can only reconcile posted entries."  # (source)
RECONCILE_ACCOUNTS = "Entries are not from the same account: {accounts}"  # (source)
RECONCILE_ACCOUNT_FLAG = (  # (source)
    "Account {account} does not allow reconciliation. First change the configuration of this "
    "account to allow it."
)
REGISTER_UNPOSTED = "You can only register payment for posted journal entries."  # (source)
REGISTER_WRONG_MODEL = (  # (source)
    "The register payment wizard should only be called on account.move or account.move.line "
    "records."
)
PAYMENT_NOT_DRAFT = "Only a draft payment can be posted."  # (source)


def text(version: int, key: str, **values) -> str:
    return BY_VERSION[key][version].format(**values)
