"""One way to call Odoo, over JSON-2 (Odoo ≥ 19) or JSON-RPC `execute_kw` (Odoo ≤ 18).

Callers always name their arguments (`create(vals_list=…)`, `write(ids, vals=…)`); the JSON-RPC
transport turns the leading ones into the positional arguments `execute_kw` needs (Odoo 18's
`res.company.write` calls its argument `values`, `create` only accepts its vals positionally,
odoo-payments.md "Exact error texts"). Results are normalised: `create` always returns a list, a
method returning None gives None on both protocols.

Every call is its own Odoo transaction. A call is repeated (with back-off, via tenacity) only when
repeating is safe: any transient failure of a read (502/503/504, timeouts, dropped connections);
for a write, only when the request cannot have been processed (connection refused or timed out
before sending, HTTP 429 or 503, a PostgreSQL serialization failure or deadlock that Odoo rolled
back). A write that may have been processed (read timeout, connection dropped after sending, a
gateway's 502 or 504) raises `OdooTransportError(ambiguous=True)`, and the caller re-reads by key
before trying again.

A transport is safe to share between threads: up to `max_parallel` calls go out at once over its
pooled connections (`ParallelismLimit`, which halves that number while Odoo says it is
overloaded), calls are counted under a lock, and `busy` times how long calls were in flight.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from ledger_pipeline.odoo.errors import (
    DryRunWriteError,
    OdooError,
    OdooTransportError,
    is_concurrency_failure,
    redact,
)
from ledger_pipeline.odoo.parallelism import BusyClock, ParallelismLimit

log = logging.getLogger(__name__)

Protocol = Literal["json2", "jsonrpc"]
USER_AGENT = "nexacloud-ledger-pipeline/0.1 (+requests)"

# Methods that never write: the only ones a dry run may call, and always safe to repeat.
READ_METHODS = frozenset(
    {
        "search",
        "search_read",
        "search_count",
        "read",
        "read_group",  # Odoo 18's grouped read (deprecated on 19)
        "formatted_read_group",  # Odoo 19's
        "fields_get",
        "check_object_reference",
        "context_get",
        "get_external_id",
        "get_metadata",
        "version",
        "authenticate",
    }
)

# Leading parameters `execute_kw` must receive positionally (after the record ids).
_POSITIONAL: Mapping[str, tuple[str, ...]] = {
    "create": ("vals_list",),
    "write": ("vals",),
    "search": ("domain",),
    "search_read": ("domain",),
    "search_count": ("domain",),
    "check_object_reference": ("module", "xml_id"),
    "load": ("fields", "data"),
}

_GATEWAY_STATUSES = {502, 503, 504}
RETRY_ATTEMPTS = 4  # tries per call, when repeating it is safe
RETRY_WAIT = 0.2  # seconds before the first retry; doubles each time, at most 5 s
MAX_RETRY_AFTER = 60.0  # the longest an overloaded Odoo's Retry-After is honoured


def new_session(pool_size: int = 4) -> requests.Session:
    """One pooled HTTP session (keep-alive); urllib3's own retries are off, tenacity decides."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class OdooTransport(ABC):
    """Calls Odoo models; counts calls per (model, method); refuses writes when read-only."""

    protocol: Protocol

    def __init__(
        self,
        url: str,
        database: str,
        api_key: str,
        *,
        login: str = "admin",
        timeout: float = 60.0,
        session: requests.Session | None = None,
        retry_attempts: int = 4,
        retry_wait: float = 0.2,
        read_only: bool = False,
        server_version: tuple[int, ...] | None = None,
        max_parallel: int = 1,
    ) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.login = login
        self._api_key = api_key
        self.timeout = timeout
        self.session = session or new_session(max(4, max_parallel))
        self.retry_attempts = max(1, retry_attempts)
        self.retry_wait = retry_wait
        self.read_only = read_only
        self.server_version = server_version
        self.calls: Counter[tuple[str, str]] = Counter()
        self.limit = ParallelismLimit(max_parallel)
        self.busy = BusyClock()
        # Called with (model, method) before every write: the writer's lease renews itself here.
        self.before_write: Callable[[str, str], None] | None = None
        self._uid: int | None = None
        self._lock = threading.Lock()  # the call counter and the uid, shared by threads

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(url={self.url!r}, database={self.database!r})"

    # -- the one entry point --------------------------------------------------------------

    def call(self, model: str, method: str, ids: Sequence[int] | None = None, /, **params: Any):
        """Call `model.method` on `ids` (None for model-level methods) with named `params`."""
        if method not in READ_METHODS:
            if self.read_only:
                raise DryRunWriteError(f"dry run: refusing to call {model}.{method}")
            if self.before_write is not None:
                self.before_write(model, method)
        return self._retrying(model, method)(self._attempt, model, method, ids, params)

    def _retrying(self, model: str, method: str) -> Retrying:
        """Repeat a call only when that is safe (see the module docstring)."""
        return Retrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=_honouring_retry_after(wait_exponential(multiplier=self.retry_wait, max=5)),
            retry=retry_if_exception(lambda exc: _safe_to_repeat(exc, method)),
            before_sleep=lambda state: log.warning(
                "Odoo %s.%s: %s; retrying (attempt %d)",
                model,
                method,
                state.outcome.exception() if state.outcome else "?",
                state.attempt_number + 1,
            ),
            reraise=True,
        )

    def count(self, model: str, method: str) -> None:
        with self._lock:
            self.calls[(model, method)] += 1

    def _attempt(self, model: str, method: str, ids, params: dict[str, Any]):
        with self.limit.slot(), self.busy.timing():
            self.count(model, method)
            started = time.monotonic()
            try:
                result = self._send(model, method, None if ids is None else list(ids), params)
            except (OdooError, OdooTransportError) as exc:
                if is_concurrency_failure(exc) or getattr(exc, "overloaded", False):
                    self.limit.overloaded(f"{model}.{method}: {exc}")
                raise
            finally:
                log.debug("Odoo %s.%s %.1f ms", model, method, (time.monotonic() - started) * 1000)
        self.limit.answered()
        if method == "create" and isinstance(result, int):
            return [result]  # 18 returns an int for a single dict; 19 always a list
        return result

    @abstractmethod
    def _send(self, model: str, method: str, ids: list[int] | None, params: dict[str, Any]): ...

    @abstractmethod
    def uid(self) -> int:
        """The id of the user the API key belongs to."""

    # -- conveniences -------------------------------------------------------------------

    def search_read(
        self, model: str, domain: list, fields: Sequence[str], **kwargs: Any
    ) -> list[dict[str, Any]]:
        return self.call(model, "search_read", domain=domain, fields=list(fields), **kwargs) or []

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        return self.call(model, "read", list(ids), fields=list(fields)) or []

    def create(self, model: str, vals_list: Sequence[Mapping[str, Any]]) -> list[int]:
        return list(self.call(model, "create", vals_list=list(vals_list)) or [])

    def write(self, model: str, ids: Sequence[int], vals: Mapping[str, Any]) -> None:
        self.call(model, "write", list(ids), vals=dict(vals))

    # -- HTTP ---------------------------------------------------------------------------

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> OdooTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _redact(self, text: str) -> str:
        return redact(text, [self._api_key])

    def _post(self, path: str, payload: Any, headers: Mapping[str, str], model: str, method: str):
        body = json.dumps(payload, default=_json_default, ensure_ascii=False).encode("utf-8")
        try:
            response = self.session.post(
                self.url + path,
                data=body,
                headers={"User-Agent": USER_AGENT, **headers},
                timeout=(min(10.0, self.timeout), self.timeout),
            )
        except requests.RequestException as exc:
            sent = not _not_sent(exc)
            what = "no answer" if sent else "could not connect"
            raise OdooTransportError(
                self._redact(f"{model}.{method}: {what} from Odoo at {self.url}: {exc}"),
                ambiguous=sent,
                model=model,
                method=method,
            ) from exc
        if response.status_code == 429:  # a proxy (or Odoo's own limiter) refused it unprocessed
            raise OdooTransportError(
                f"{model}.{method}: HTTP 429 (too many requests) from {self.url}",
                ambiguous=False,
                model=model,
                method=method,
                status=429,
                retry_after=_retry_after(response),
            )
        if response.status_code in _GATEWAY_STATUSES:
            # A gateway answered for Odoo. 503: Odoo never took the request. 502 (the upstream
            # broke off its answer) and 504 (it answered too late) may hide a commit.
            raise OdooTransportError(
                f"{model}.{method}: HTTP {response.status_code} from {self.url}",
                ambiguous=response.status_code != 503,
                model=model,
                method=method,
                status=response.status_code,
                retry_after=_retry_after(response) if response.status_code == 503 else None,
            )
        return response

    def _http_error(self, response: requests.Response, model: str, method: str) -> OdooError:
        """Odoo's error class and message from an error body, or the HTTP status and text."""
        body = _json_or_none(response)
        if isinstance(body, dict) and "name" in body and "message" in body:
            name, message = str(body["name"]), str(body["message"])
        else:
            name, message = f"HTTP {response.status_code}", _text_snippet(response.text)
        return OdooError(
            name,
            self._redact(message),
            model=model,
            method=method,
            status=response.status_code,
        )


class Json2Transport(OdooTransport):
    """Odoo ≥ 19: `POST /json/2/<model>/<method>`, bearer API key, named arguments."""

    protocol: Protocol = "json2"

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"bearer {self._api_key}",
            "X-Odoo-Database": self.database,
            "Content-Type": "application/json; charset=utf-8",
        }

    def _send(self, model, method, ids, params):
        payload = dict(params)
        if ids is not None:
            payload["ids"] = ids
        response = self._post(f"/json/2/{model}/{method}", payload, self._headers(), model, method)
        if response.status_code != 200:
            raise self._http_error(response, model, method)
        return _json_body(response, model, method)

    def uid(self) -> int:
        if self._uid is None:
            context = self.call("res.users", "context_get") or {}
            with self._lock:
                self._uid = int(context["uid"])
        return self._uid


class JsonRpcTransport(OdooTransport):
    """Odoo ≤ 18 (and 19's deprecated route): `POST /jsonrpc`, `execute_kw`, login + API key."""

    protocol: Protocol = "jsonrpc"
    _request_ids = itertools.count(1)

    def _rpc(self, service: str, method: str, args: list, model: str) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._request_ids),
        }
        headers = {"Content-Type": "application/json; charset=utf-8"}
        response = self._post("/jsonrpc", payload, headers, model, method)
        if response.status_code != 200:
            raise self._http_error(response, model, method)
        body = _json_body(response, model, method)
        if not isinstance(body, dict):
            raise OdooError("HTTP 200", f"unexpected JSON-RPC body: {_text_snippet(str(body))}")
        error = body.get("error")
        if error is not None:
            data = error.get("data") or {}
            raise OdooError(
                str(data.get("name") or error.get("message") or "Odoo Server Error"),
                self._redact(str(data.get("message") or error.get("message") or error)),
                model=model,
                method=method,
                status=response.status_code,
            )
        return body.get("result")  # a method returning None sends no `result` key at all

    def _send(self, model, method, ids, params):
        kwargs = dict(params)
        args: list[Any] = [] if ids is None else [ids]
        for name in _POSITIONAL.get(method, ()):
            if name not in kwargs:
                break
            args.append(kwargs.pop(name))
        rpc_args = [self.database, self.uid(), self._api_key, model, method, args, kwargs]
        return self._rpc("object", "execute_kw", rpc_args, model)

    def uid(self) -> int:
        if self._uid is None:
            uid = self._retrying("common", "authenticate")(self._authenticate)
            if not uid:  # a refused login is `result: false`, not an error (contract §0)
                raise OdooError(
                    "odoo.exceptions.AccessDenied",
                    f"Access Denied: Odoo refused login {self.login!r} with this API key "
                    f"on database {self.database!r}",
                    model="common",
                    method="authenticate",
                )
            self._uid = int(uid)
        return self._uid

    def _authenticate(self) -> Any:
        self.count("common", "authenticate")
        args = [self.database, self.login, self._api_key, {}]
        return self._rpc("common", "authenticate", args, "common")


def detect_version(
    url: str, session: requests.Session, timeout: float
) -> tuple[Protocol, tuple[int, ...]]:
    """Which API the server speaks: JSON-2 from Odoo 19 on, JSON-RPC before.

    `GET /web/version` answers on Odoo 19 without a key; older servers answer JSON-RPC
    `common.version` (their `/web/version` is a JSON-RPC route).
    """
    base = url.rstrip("/")
    try:
        response = session.get(
            base + "/web/version", headers={"User-Agent": USER_AGENT}, timeout=timeout
        )
        body = _json_or_none(response) if response.status_code == 200 else None
        if isinstance(body, dict) and body.get("version_info"):
            version = _version_tuple(body["version_info"])
            return ("json2" if version[:1] >= (19,) else "jsonrpc"), version
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": "common", "method": "version", "args": []},
            "id": 0,
        }
        response = session.post(
            base + "/jsonrpc", json=payload, headers={"User-Agent": USER_AGENT}, timeout=timeout
        )
    except requests.RequestException as exc:
        raise OdooTransportError(
            f"cannot reach Odoo at {base}: {exc}", ambiguous=False, method="version"
        ) from exc
    body = _json_or_none(response)
    result = body.get("result") if isinstance(body, dict) else None
    if isinstance(result, dict) and result.get("server_version_info"):
        return "jsonrpc", _version_tuple(result["server_version_info"])
    raise OdooError(
        f"HTTP {response.status_code}",
        f"{base} answers neither GET /web/version nor JSON-RPC common.version: "
        f"{_text_snippet(response.text)}",
        method="version",
    )


def connect(
    url: str,
    database: str,
    api_key: str,
    *,
    login: str = "admin",
    protocol: str = "auto",
    timeout: float = 60.0,
    read_only: bool = False,
    retry_attempts: int | None = None,
    retry_wait: float | None = None,
    max_parallel: int = 1,
) -> OdooTransport:
    """A transport for `protocol` ("json2", "jsonrpc", or "auto": ask the server), sending up
    to `max_parallel` calls at once when shared by that many threads."""
    transports: dict[str, type[OdooTransport]] = {
        "json2": Json2Transport,
        "jsonrpc": JsonRpcTransport,
    }
    if protocol not in (*transports, "auto"):
        raise ValueError(f"protocol must be 'json2', 'jsonrpc' or 'auto', not {protocol!r}")
    session = new_session(max(4, max_parallel))
    version: tuple[int, ...] | None = None
    if protocol == "auto":
        try:
            protocol, version = detect_version(url, session, timeout)
        except BaseException:
            session.close()
            raise
    return transports[protocol](
        url,
        database,
        api_key,
        login=login,
        timeout=timeout,
        session=session,
        read_only=read_only,
        server_version=version,
        retry_attempts=RETRY_ATTEMPTS if retry_attempts is None else retry_attempts,
        retry_wait=RETRY_WAIT if retry_wait is None else retry_wait,
        max_parallel=max_parallel,
    )


def _safe_to_repeat(exc: BaseException, method: str) -> bool:
    if is_concurrency_failure(exc):
        return True  # Odoo rolled the transaction back; the same call may pass a moment later
    if not isinstance(exc, OdooTransportError):
        return False  # Odoo answered: repeating gives the same answer
    return method in READ_METHODS or not exc.ambiguous


def _honouring_retry_after(backoff):
    """The exponential back-off, or longer when an overloaded Odoo said how long to wait."""

    def wait(state: RetryCallState) -> float:
        seconds = backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        return max(seconds, min(asked, MAX_RETRY_AFTER)) if asked else seconds

    return wait


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from proxies: then None)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request never left: connect timeout, refused, name resolution."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.ReadTimeout
    ):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
        return isinstance(reason, urllib3.exceptions.NewConnectionError | ConnectionRefusedError)
    return False


def _json_body(response: requests.Response, model: str, method: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise OdooError(
            f"HTTP {response.status_code}",
            f"not a JSON answer: {_text_snippet(response.text)}",
            model=model,
            method=method,
            status=response.status_code,
        ) from None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _text_snippet(text: str, limit: int = 300) -> str:
    plain = re.sub(r"<[^>]+>", " ", text or "")
    plain = re.sub(r"\s+", " ", plain).strip()
    return plain[:limit] + ("…" if len(plain) > limit else "")


def _version_tuple(info: Sequence[Any]) -> tuple[int, ...]:
    numbers = []
    for part in list(info)[:3]:
        digits = re.findall(r"\d+", str(part))
        if not digits:
            break
        numbers.append(int(digits[-1]))  # "saas~18" → 18
    return tuple(numbers)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # the wire format; money stays Decimal everywhere else
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to Odoo")
