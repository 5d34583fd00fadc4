"""Odoo's exceptions as the stand-in raises them.

Each carries the dotted class name Odoo reports (`data.name` on JSON-RPC, `name` on JSON-2) and the
HTTP status JSON-2 answers it with (odoo19-contract §0: 422 user errors, 403 access, 404 missing,
500 anything else). Werkzeug's HTTP exceptions also repeat their status in `arguments`.
"""

from __future__ import annotations


class OdooError(Exception):
    name = "odoo.exceptions.UserError"
    status = 422
    werkzeug = False

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        self.message = message
        if name is not None:
            self.name = name

    @property
    def arguments(self) -> list:
        return [self.message, self.status] if self.werkzeug else [self.message]


class UserError(OdooError):
    pass


class ValidationError(OdooError):
    name = "odoo.exceptions.ValidationError"


class AccessError(OdooError):
    name = "odoo.exceptions.AccessError"
    status = 403


class MissingError(OdooError):
    name = "odoo.exceptions.MissingError"
    status = 404


class AccessDenied(OdooError):
    name = "odoo.exceptions.AccessDenied"
    status = 401


class ServerError(OdooError):
    """Any other Python or database exception: `builtins.ValueError`, `psycopg2.…` (HTTP 500)."""

    status = 500

    def __init__(self, name: str, message: str):
        super().__init__(message, name)


def value_error(message: str) -> ServerError:
    return ServerError("builtins.ValueError", message)


def type_error(message: str) -> ServerError:
    return ServerError("builtins.TypeError", message)


class HttpError(OdooError):
    werkzeug = True


class BadRequest(HttpError):
    name = "werkzeug.exceptions.BadRequest"
    status = 400


class Unauthorized(HttpError):
    name = "werkzeug.exceptions.Unauthorized"
    status = 401


class NotFound(HttpError):
    name = "werkzeug.exceptions.NotFound"
    status = 404


class UnprocessableEntity(HttpError):
    name = "werkzeug.exceptions.UnprocessableEntity"
    status = 422
