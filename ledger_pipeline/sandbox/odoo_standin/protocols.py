"""The two external APIs over one database.

JSON-RPC (`POST /jsonrpc`, services `common` and `object`): positional and keyword arguments bound
as Python binds them, errors as HTTP 200 with an `error` member (contract §12), a `None` result as
a body without `result`. JSON-2 (`POST /json/2/<model>/<method>`, Odoo 19): named arguments only,
bearer API key, errors as the bare error object with a real HTTP status (19 contract §0).
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal

from . import texts
from .database import Database
from .errors import (
    AccessDenied,
    AccessError,
    BadRequest,
    NotFound,
    OdooError,
    ServerError,
    Unauthorized,
    UnprocessableEntity,
    UserError,
    type_error,
)

log = logging.getLogger(__name__)

VERSION_INFO = {18: [18, 0, 0, "final", 0, ""], 19: [19, 0, 0, "final", 0, ""]}
SERVER_VERSION = {18: "18.0+e-20241005", 19: "19.0"}
UID = 2


def web_version(version: int) -> dict:
    return {"version_info": VERSION_INFO[version], "version": SERVER_VERSION[version]}


def common_version(version: int) -> dict:
    return {
        "server_version": SERVER_VERSION[version],
        "server_version_info": VERSION_INFO[version],
        "server_serie": f"{version}.0",
        "protocol_version": 1,
    }


def encode(payload: object) -> bytes:
    return json.dumps(payload, default=_plain, ensure_ascii=False).encode()


def decode(body: bytes) -> object:
    return json.loads(body, parse_float=Decimal)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def error_object(error: OdooError) -> dict:
    return {
        "name": error.name,
        "message": error.message,
        "arguments": error.arguments,
        "context": {},
        "debug": f"Traceback (most recent call last):\n  (Odoo stand-in)\n{error.name}: "
        f"{error.message}\n",
    }


def as_odoo_error(exception: Exception) -> OdooError:
    if isinstance(exception, OdooError):
        return exception
    log.warning("stand-in failure, answered as a server error", exc_info=exception)
    return ServerError(f"builtins.{type(exception).__name__}", str(exception))


class Caller:
    """Resolves and runs model methods for one database and one protocol."""

    def __init__(self, database: Database, json2: bool):
        self.database = database
        self.json2 = json2
        self.version = database.version

    def resolve(self, model: str, method: str):
        if method.startswith("_"):
            raise AccessError(
                texts.text(self.version, "private_method", model=model, method=method)
            )
        cls = self.database.registry.models.get(model)
        if cls is None:
            message = texts.text(self.version, "unknown_model", model=model)
            raise NotFound(message) if self.json2 else UserError(message)
        function = getattr(cls, method, None)
        signature = getattr(function, "rpc", None)
        if signature is None or self.version not in getattr(function, "rpc_versions", (18, 19)):
            message = texts.text(self.version, "unknown_method", model=model, method=method)
            raise (
                NotFound(message) if self.json2 else ServerError("builtins.AttributeError", message)
            )
        return function, signature

    def call_json2(self, model: str, method: str, body: dict):
        _, signature = self.resolve(model, method)
        body = dict(body)
        ids = body.pop("ids", None)
        context = body.pop("context", None) or {}
        if signature.model and ids is not None:
            raise UnprocessableEntity(f"cannot call {model}.{method} with ids")
        parameters = signature.parameters(self.version)
        for public, python in parameters:
            if python in signature.required and public not in body:
                raise UnprocessableEntity(f"missing a required argument: '{public}'")
        exposed = {public for public, _ in parameters}
        unexpected = [name for name in body if name not in exposed]
        if unexpected and not signature.var_kwargs:
            raise UnprocessableEntity(f"got an unexpected keyword argument '{unexpected[0]}'")
        kwargs = {python: body[public] for public, python in parameters if public in body}
        kwargs.update({name: body[name] for name in unexpected})
        return self.database.execute(model, method, ids or [], kwargs, context)

    def call_jsonrpc(self, model: str, method: str, args: list, kwargs: dict):
        function, signature = self.resolve(model, method)
        args, kwargs = list(args or []), dict(kwargs or {})
        context = kwargs.pop("context", None) or {}
        ids = []
        if signature.model:
            if method == "create" and not args:
                raise ServerError("builtins.IndexError", "tuple index out of range")
        elif args:
            ids = args.pop(0)
        else:
            raise ServerError("builtins.IndexError", "list index out of range")
        name = _python_name(function)
        parameters = signature.parameters(self.version)
        if len(args) > len(parameters):
            offset = 1 if signature.model else 2
            raise type_error(
                f"{name}() takes {len(parameters) + offset} positional arguments "
                f"but {len(args) + offset} were given"
            )
        bound = {python: value for (_, python), value in zip(parameters, args, strict=False)}
        by_public = dict(parameters)
        for public, value in kwargs.items():
            python = by_public.get(public)
            if python is None:
                if not signature.var_kwargs:
                    raise type_error(f"{name}() got an unexpected keyword argument '{public}'")
                bound[public] = value
            elif python in bound:
                raise type_error(f"{name}() got multiple values for argument '{public}'")
            else:
                bound[python] = value
        for public, python in parameters:
            if python in signature.required and python not in bound:
                raise type_error(f"{name}() missing 1 required positional argument: '{public}'")
        result = self.database.execute(model, method, ids, bound, context)
        if method == "create" and isinstance(args[0], dict):
            return result[0]
        return result


def _python_name(function) -> str:
    """How Python names the method in a TypeError (Odoo's base class is BaseModel)."""
    qualified = function.__qualname__
    return "BaseModel" + qualified[len("Model") :] if qualified.startswith("Model.") else qualified


class JsonRpc:
    """`POST /jsonrpc`: answers (body, model-method key) for one request."""

    def __init__(self, database: Database, password: str, login: str):
        self.database = database
        self.password = password
        self.login = login
        self.caller = Caller(database, json2=False)

    @staticmethod
    def key(request: dict) -> tuple[str, str]:
        params = request.get("params") or {}
        service, method = params.get("service"), params.get("method")
        args = params.get("args") or []
        if service == "object" and method in ("execute_kw", "execute") and len(args) >= 5:
            return str(args[3]), str(args[4])
        return str(service), str(method)

    def answer(self, request: dict) -> dict:
        reply = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            result = self._dispatch(request.get("params") or {})
        except Exception as exception:  # every failure is answered the way Odoo answers it
            error = as_odoo_error(exception)
            reply["error"] = {
                "code": 200,
                "message": "Odoo Server Error",
                "data": error_object(error),
            }
            return reply
        if result is not None:
            reply["result"] = result
        return reply

    @staticmethod
    def failure(request: dict, error: OdooError) -> dict:
        return {
            "jsonrpc": "2.0",
            "id": request.get("id"),
            "error": {"code": 200, "message": "Odoo Server Error", "data": error_object(error)},
        }

    def _dispatch(self, params: dict):
        service, method, args = params.get("service"), params.get("method"), params.get("args")
        args = list(args or [])
        if service == "common" and method == "version":
            return common_version(self.database.version)
        if service == "common" and method in ("authenticate", "login"):
            if len(args) < (4 if method == "authenticate" else 3):
                missing = "user_agent_env" if len(args) == 3 else "password"
                raise type_error(
                    f"exp_{method}() missing 1 required positional argument: '{missing}'"
                )
            self._check_database(args[0])
            return UID if (args[1], args[2]) == (self.login, self.password) else False
        if service == "object" and method in ("execute_kw", "execute"):
            db, uid, password, model, model_method = args[:5]
            self._check_database(db)
            if uid != UID or password != self.password:
                raise AccessDenied(texts.ACCESS_DENIED)
            if method == "execute":
                return self.caller.call_jsonrpc(model, model_method, args[5:], {})
            rest = args[5:]
            return self.caller.call_jsonrpc(
                model, model_method, rest[0] if rest else [], rest[1] if len(rest) > 1 else {}
            )
        raise ServerError("builtins.KeyError", f"'{service}.{method}'")

    def _check_database(self, name: str) -> None:
        if name != self.database.name:
            raise ServerError("psycopg2.OperationalError", texts.UNKNOWN_DATABASE.format(db=name))


class Json2:
    """`POST /json/2/<model>/<method>` (Odoo 19)."""

    def __init__(self, database: Database, api_key: str):
        self.database = database
        self.api_key = api_key
        self.caller = Caller(database, json2=True)

    def authenticate(self, authorization: str | None, database_header: str | None) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized(texts.NO_BEARER)
        if key.strip() != self.api_key or database_header not in (None, self.database.name):
            raise Unauthorized(texts.INVALID_APIKEY)

    def answer(self, model: str, method: str, raw_body: bytes, authorization, database_header):
        """(HTTP status, payload) for one call."""
        try:
            try:
                body = decode(raw_body or b"{}")
            except ValueError as error:
                raise BadRequest(f"could not parse the body as json: {error}") from None
            self.authenticate(authorization, database_header)
            if not isinstance(body, dict):
                raise UnprocessableEntity("the body must be a JSON object of named arguments")
            return 200, self.caller.call_json2(model, method, body)
        except Exception as exception:  # every failure is answered the way Odoo answers it
            error = as_odoo_error(exception)
            return error.status, error_object(error)
