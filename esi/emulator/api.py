"""The emulated ESI: routes from the spec, scripted and default bodies, caching headers,
pagination, scopes, tenant and compatibility date, rate limits.

Behaviour follows CCP's ESI documentation (developers.eveonline.com/docs/services/esi/):
"Caching", "Pagination" (``X-Pages`` and cursor based), "Rate Limiting".
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email.utils import formatdate
from typing import Any

from .limits import RateLimiter
from .records import RecordedRequest, Response
from .spec import Operation, Spec, convert_value, normalise_path
from .sso import SSO, TokenRejected

#: ``func(request, path_params) -> (status, headers, body)`` for :meth:`ESI.set_handler`.
Handler = Callable[[RecordedRequest, dict[str, Any]], tuple[int, dict[str, str] | None, Any]]

TENANTS = ("tranquility", "singularity")
JSON_TYPE = "application/json; charset=UTF-8"
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CURSOR_PREFIX = "emulator-cursor:"
_UNSET: Any = object()
_SPEC_PATHS = {"openapi": ("/meta/openapi.json", "/meta/openapi-3.1.json"), "swagger": ("/swagger.json",)}
_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
}


def encode_body(body: Any) -> bytes:
    """Body bytes: ``bytes`` as given, ``str`` UTF-8 encoded, anything else as JSON."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=256)
def etag_for(body: bytes) -> str:
    """The strong ETag of a body: a quoted SHA-256 prefix (remembered for the bodies served
    most recently, which scripted pages serve again and again)."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """ESI's error shape: ``{"error": message}`` as JSON."""
    return Response(status, {"Content-Type": JSON_TYPE, **(headers or {})}, encode_body({"error": message}))


@dataclass
class _Script:
    params: dict[str, str]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    pages: list[Any] = field(default_factory=list)
    handler: Handler | None = None
    set_at: float = field(default_factory=time.time)
    #: Page index -> encoded body: a page is encoded once, when first served, so serving
    #: a large page costs a write, not a JSON encoding per request (the benchmarks
    #: measure the client, not the emulator).
    encoded: dict[int, bytes] = field(default_factory=dict)

    def page_body(self, index: int) -> bytes:
        body = self.encoded.get(index)
        if body is None:
            body = self.encoded[index] = encode_body(self.pages[index])
        return body


class ESI:
    """Scripted ESI answers (``emulator.esi``), thread-safe.

    Without a script an operation answers with its default body: the Swagger 2.0 response
    example, else one built from the response schema (see :meth:`Spec.build_value`).
    """

    def __init__(self, spec: Spec, sso: SSO, rate_limiter: RateLimiter) -> None:
        self.spec = spec
        self._sso = sso
        self._rate_limiter = rate_limiter
        self._lock = threading.Lock()
        self._scripts: dict[str, list[_Script]] = {}
        self._started = time.time()

    # --- scripting -------------------------------------------------------------------

    def set_response(
        self,
        operation: str,
        body: Any = _UNSET,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        pages: list[Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        """Script the answer of ``operation`` (operationId in either form, or
        ``"METHOD /path"``).

        ``body`` is JSON-able (``bytes`` / ``str`` are sent as they are, still labelled JSON
        unless ``headers`` say otherwise); ``status`` the HTTP status; ``headers`` override
        the emulator's. ``pages`` is a list of bodies, one per
        page: on ``page`` operations ``X-Pages`` is ``len(pages)`` and a page past the end
        answers 404; on cursor operations (``before`` / ``after``) each page is a list of
        records (or a whole body) served as ``{<list field>: records, "cursor": {"before":
        ..., "after": ...}}``, oldest page first. ``params`` limits the script to requests
        whose path or query parameters equal these values (e.g. ``{"type_id": 587}``); a
        script with params wins over one without. Raises ``KeyError`` for an unknown
        operation and ``ValueError`` when neither ``body`` nor ``pages`` is given.
        """
        if pages is None and body is _UNSET:
            raise ValueError("give a body or pages")
        self._add(
            operation,
            _Script(
                params=_stringify(params),
                status=int(status),
                headers=dict(headers or {}),
                pages=list(pages) if pages is not None else [body],
            ),
        )

    def set_handler(self, operation: str, func: Handler, *, params: dict[str, Any] | None = None) -> None:
        """Answer ``operation`` with ``func(request, path_params)``, which returns
        ``(status, headers or None, body)``; body JSON-able, ``bytes``, or ``None`` for
        none. ``path_params`` holds the path parameters converted to their types. The
        emulator still adds caching, error-limit and rate-limit headers (``headers`` win).
        Raises ``KeyError`` for an unknown operation."""
        self._add(operation, _Script(params=_stringify(params), handler=func))

    def set_pages(self, operation: str, n: int) -> None:
        """Serve the default body as ``n`` pages (``X-Pages: n``, or ``n`` cursor pages)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        op = self.spec.find(operation)
        self.set_response(operation, pages=[self.spec.default_body(op)] * n)

    def clear(self) -> None:
        """Forget every scripted answer and handler."""
        with self._lock:
            self._scripts.clear()

    def _add(self, operation: str, script: _Script) -> None:
        op = self.spec.find(operation)
        with self._lock:
            scripts = [s for s in self._scripts.get(op.key, []) if s.params != script.params]
            scripts.append(script)
            self._scripts[op.key] = scripts

    def _script_for(
        self, op: Operation, params: dict[str, str], query: dict[str, list[str]]
    ) -> _Script | None:
        with self._lock:
            scripts = list(reversed(self._scripts.get(op.key, [])))
        # Most specific first, newest first among equals (the sort is stable).
        scripts.sort(key=lambda s: -len(s.params))
        for script in scripts:
            if all(params.get(k, first_value(query, k)) == v for k, v in script.params.items()):
                return script
        return None

    # --- answering -------------------------------------------------------------------

    def respond(
        self,
        request: RecordedRequest,
        op: Operation | None,
        raw_params: dict[str, str],
        allowed: list[str],
        *,
        base_url: str,
    ) -> Response:
        """Answer an ESI request already past faults and the error limit; ``request.tenant``
        and ``request.compatibility_date`` hold what the client sent."""
        if op is None:
            return self._unrouted(request, allowed, base_url)
        key = request.client_address
        response, key = self._checked(request, op, raw_params, key)
        if op.rate_limit is not None:
            response.headers.update(self._rate_limiter.charge(op.rate_limit, key, response.status))
        return response

    def _unrouted(self, request: RecordedRequest, allowed: list[str], base_url: str) -> Response:
        path = normalise_path(request.path)
        if request.method in {"GET", "HEAD"} and path in _SPEC_PATHS[self.spec.kind]:
            body = self.spec.served_document(base_url)
            headers = {"Content-Type": JSON_TYPE, "Cache-Control": "public, max-age=300"}
            return self._cacheable(request, Response(200, headers, body), self._started, 300)
        if allowed:
            return error_response(405, "Method not allowed", {"Allow": ", ".join(allowed)})
        return error_response(404, "Not found")

    def _checked(
        self, request: RecordedRequest, op: Operation, raw_params: dict[str, str], key: str
    ) -> tuple[Response, str]:
        tenant = request.tenant
        if tenant and tenant not in TENANTS:
            return error_response(400, f"unknown tenant {tenant[:40]!r}: use tranquility or singularity"), key
        problem = _compatibility_problem(request.compatibility_date)
        if problem:
            return error_response(400, problem), key
        if "token" in request.query:
            return (
                error_response(
                    400,
                    "the token query parameter is not supported: send the access token in an "
                    "'Authorization: Bearer' header",
                ),
                key,
            )
        params: dict[str, Any] = {}
        for name, raw in raw_params.items():
            param = op.param(name, "path")
            value, problem = convert_value(param.schema if param else {}, raw)
            if problem:
                return error_response(400, f"invalid path parameter {name}: {problem}"), key
            params[name] = value
        claims, denied = self._authenticate(request, op, params)
        if claims is not None:
            character = str(claims["sub"]).rsplit(":", 1)[-1]
            # CCP: <applicationID>:<characterID> on authenticated routes, else <IP>:<applicationID>.
            application = claims.get("azp", "")
            key = f"{application}:{character}" if op.requires_auth else f"{key}:{application}"
        if denied is not None:
            return denied, key
        if op.rate_limit is not None:
            retry_after = self._rate_limiter.retry_after(op.rate_limit, key)
            if retry_after is not None:
                return error_response(429, "Too many requests", {"Retry-After": str(retry_after)}), key
        problem = self._query_problem(op, request.query) or self._body_problem(op, request)
        if problem:
            return error_response(400, problem), key
        return self._answer(request, op, params), key

    def _authenticate(
        self, request: RecordedRequest, op: Operation, params: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, Response | None]:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        claims: dict[str, Any] | None = None
        problem = "authentication required: send 'Authorization: Bearer <access token>'"
        if scheme.lower() == "bearer" and token.strip():
            try:
                claims = self._sso.verify_access_token(token.strip())
            except TokenRejected as exc:
                problem = str(exc)
        if not op.requires_auth:
            return claims, None
        if claims is None:
            return None, error_response(401, problem, {"WWW-Authenticate": "Bearer"})
        granted = claims.get("scp", [])
        granted_set = {granted} if isinstance(granted, str) else set(granted)
        if not any(set(required) <= granted_set for required in op.scopes):
            return claims, error_response(403, "token not valid for scope")
        character = int(str(claims["sub"]).rsplit(":", 1)[-1])
        if "character_id" in params and params["character_id"] != character:
            return claims, error_response(403, "token not valid for this character_id")
        return claims, None

    def _query_problem(self, op: Operation, query: dict[str, list[str]]) -> str | None:
        for param in op.params:
            if param.location != "query" or param.name in {"token", "datasource"}:
                continue
            values = query.get(param.name)
            if not values:
                if param.required:
                    return f"missing required query parameter {param.name}"
                continue
            is_array = param.schema.get("type") == "array"
            if is_array and len(values) > 1 and not param.repeated:
                return (
                    f"query parameter {param.name} given {len(values)} times: ESI takes the values "
                    f"separated by commas ({param.name}=1,2,3)"
                )
            for raw in values if is_array else values[:1]:
                _, problem = convert_value(param.schema, raw)
                if problem:
                    return f"invalid query parameter {param.name}: {problem}"
        return None

    def _body_problem(self, op: Operation, request: RecordedRequest) -> str | None:
        if op.request_body_schema is None:
            return None
        if not request.body.strip():
            return "request body required" if op.request_body_required else None
        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, ValueError) as exc:
            return f"malformed JSON body: {exc}"[:200]
        expected = self.spec.schema_type(op.request_body_schema)
        check = _TYPE_CHECKS.get(expected)
        if check is not None and not check(body):
            return f"request body must be a JSON {expected}"
        return None

    def _answer(self, request: RecordedRequest, op: Operation, params: dict[str, Any]) -> Response:
        raw = {k: str(v) for k, v in params.items()}
        script = self._script_for(op, raw, request.query)
        if script is not None and script.handler is not None:
            status, headers, body = script.handler(request, params)
            response = Response(int(status), {}, b"" if body is None else encode_body(body))
            if body is not None:
                response.headers["Content-Type"] = JSON_TYPE
            response.headers.update(headers or {})
            x_pages = (headers or {}).get("X-Pages") or (1 if op.paged else None)
            return self._finish(request, op, response, time.time(), x_pages, headers or {})
        if script is not None:
            pages, status, set_at, extra = script.pages, script.status, script.set_at, script.headers
        else:
            pages, status, set_at, extra = [self.spec.default_body(op)], op.success_status, self._started, {}
        index = 0
        if op.cursor:
            body, problem = self._cursor_page(op, pages, request.query)
            if problem:
                return error_response(400, problem)
            index = -1
        elif op.paged:
            page = int(first_value(request.query, "page") or 1)
            if page > len(pages):
                return error_response(404, "Requested page does not exist!", {"X-Pages": str(len(pages))})
            index = page - 1
            body = pages[index]
        else:
            body = pages[0]
        if script is not None and index >= 0 and body is not None:
            body = script.page_body(index)
        response = Response(status, {})
        if status not in (204, 304) and body is not None:
            response.body = encode_body(body)
            response.headers["Content-Type"] = JSON_TYPE
        x_pages = len(pages) if op.paged else None
        return self._finish(request, op, response, set_at, x_pages, extra)

    def _finish(
        self,
        request: RecordedRequest,
        op: Operation,
        response: Response,
        set_at: float,
        x_pages: int | str | None,
        extra: dict[str, str],
    ) -> Response:
        if x_pages is not None:
            response.headers["X-Pages"] = str(x_pages)
        if 200 <= response.status < 300:
            response = self._cacheable(request, response, set_at, op.cache_age)
        if response.status != 304:
            response.headers.update(extra)
        return response

    def _cacheable(
        self, request: RecordedRequest, response: Response, set_at: float, age: int | None
    ) -> Response:
        """Add ``Cache-Control`` / ``Expires`` (when ``age``), ``Last-Modified`` and ``ETag``;
        turn a matching ``If-None-Match`` into ``304 Not Modified``."""
        now = time.time()
        headers = response.headers
        if age is not None:
            headers["Cache-Control"] = f"public, max-age={age}"
            headers["Expires"] = formatdate(now + age, usegmt=True)
        headers["Last-Modified"] = formatdate(set_at, usegmt=True)
        tag = etag_for(response.body)
        headers["ETag"] = tag
        candidates = request.headers.get("If-None-Match")
        if candidates and request.method in {"GET", "HEAD"} and _etag_matches(candidates, tag):
            kept = {
                k: v
                for k, v in headers.items()
                if k in {"Cache-Control", "Expires", "ETag", "Last-Modified", "X-Pages"}
            }
            return Response(304, kept, b"")
        return response

    def _cursor_page(
        self, op: Operation, pages: list[Any], query: dict[str, list[str]]
    ) -> tuple[Any, str | None]:
        """Serve ``pages`` (oldest first) with CCP's cursors: no cursor gives the newest page,
        ``before`` walks to older pages, ``after`` to newer ones, each ending with an empty
        list ("Cursor-based Pagination", developers.eveonline.com/docs/services/esi/)."""
        before, after = first_value(query, "before"), first_value(query, "after")
        if before and after:
            return None, "before and after are mutually exclusive"
        count = len(pages)
        index: int | None
        if after:
            bound = 0 if after == "0" else _read_cursor(after, count)
            if bound is None:
                return None, "invalid after cursor"
            index = bound if bound < count else None
            new_before, new_after = bound, (bound + 1 if index is not None else bound)
        elif before:
            bound = count if before == "0" else _read_cursor(before, count)
            if bound is None:
                return None, "invalid before cursor"
            index = bound - 1 if bound >= 1 else None
            new_before, new_after = (bound - 1 if index is not None else bound), bound
        else:
            index = count - 1 if count else None
            new_before, new_after = max(count - 1, 0), count
        field_name = self._list_field(op)
        page = copy.deepcopy(pages[index]) if index is not None else []
        body = page if isinstance(page, dict) else {field_name: page}
        body["cursor"] = {"before": _make_cursor(new_before), "after": _make_cursor(new_after)}
        return body, None

    def _list_field(self, op: Operation) -> str:
        schema = self.spec.deref(op.response_schema or {})
        for name, prop in (schema.get("properties") or {}).items():
            if name != "cursor" and self.spec.schema_type(prop) == "array":
                return str(name)
        return "items"


def first_value(query: dict[str, list[str]], name: str) -> str | None:
    """The first value of query parameter ``name``, or ``None``."""
    values = query.get(name)
    return values[0] if values else None


def _stringify(params: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()}


def _compatibility_problem(value: str | None) -> str | None:
    if value is None:
        return None
    if _DATE.match(value):
        try:
            date.fromisoformat(value)
            return None
        except ValueError:
            pass
    return f"invalid compatibility date {value[:40]!r}: use YYYY-MM-DD"


def _etag_matches(header: str, tag: str) -> bool:
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


def _make_cursor(bound: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{bound}".encode()).decode().rstrip("=")


def _read_cursor(token: str, count: int) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX) :].isdigit():
        return None
    return min(int(text[len(_CURSOR_PREFIX) :]), count)
