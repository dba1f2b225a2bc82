"""The HTTP server tying EVE SSO, ESI, faults and the control API together."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from .api import ESI, JSON_TYPE, encode_body, error_response, first_value
from .faults import SSO_ENDPOINTS, Fault, Faults
from .limits import ERROR_LIMITED_MESSAGE, ErrorLimit, RateLimiter
from .records import Character, Headers, RecordedRequest, RequestKind, RequestLog, Response
from .spec import Spec, normalise_path, parse_rate_limit
from .sso import SSO

logger = logging.getLogger("esi.emulator")

SSO_PATHS = {
    "/.well-known/oauth-authorization-server": "metadata",
    "/v2/oauth/authorize": "authorize",
    "/v2/oauth/token": "token",
    "/v2/oauth/revoke": "revoke",
    "/oauth/jwks": "jwks",
}
CONTROL_PREFIX = "/_emulator/"
MAX_BODY = 8 * 1024 * 1024
MAX_QUERY_FIELDS = 200
_REASONS = {420: "Error Limited", 520: "Unknown Error"}
_FAULT_FIELDS = {"target", "status", "retry_after", "latency", "drop", "times", "body"}
_RESPONSE_FIELDS = {"operation", "body", "status", "headers", "pages", "params"}


class Emulator:
    """A loopback HTTP server that plays EVE SSO v2 and ESI, for tests and offline demos.

    One base URL (:attr:`url`) serves both, so a site sets ``ESI_SSO_BASE_URL`` and
    ``ESI_API_URL`` to it. ESI routes come from ``spec_file`` (``None``: the bundled OpenAPI
    3.1 spec; a Swagger 2.0 or OpenAPI 3.1 JSON file also works).

    ``client_id`` / ``client_secret`` are the one registered EVE SSO application
    (``client_secret=None`` accepts any secret, ``client_id=None`` any client);
    ``characters`` those who can log in (``None``: three default characters);
    ``access_token_lifetime`` is ``expires_in`` in seconds (CCP: 1199);
    ``rotate_refresh_tokens`` gives a new refresh token on each refresh and kills the old one;
    ``error_limit`` / ``error_window`` size ESI's error limit (100 errors per 60 s);
    ``rate_limits=False`` never refuses with 429 (for benchmarks that hammer one route);
    ``rate_limit`` (``"40/10s"``) gives every rate-limit bucket that size instead of the
    spec's ``x-rate-limit`` (``ValueError`` if unreadable), to run buckets empty quickly;
    ``code_lifetime`` is the authorization code life in seconds (CCP: 300);
    ``verbose`` logs each request to stderr; ``request_log_size`` caps :attr:`requests`;
    ``state_file`` keeps EVE SSO's refresh tokens and characters in a JSON file, read at
    start and rewritten on every change, so a restarted emulator still honours the refresh
    tokens a site stored (``None``: memory only, as for tests).

    Use as ``with Emulator() as emulator: ...`` or ``emulator = Emulator().start()`` and
    ``emulator.stop()``. Raises ``ValueError`` for a ``port`` outside 0-65535. The server
    binds when :attr:`url` is first read or on start.
    Never expose it beyond loopback: it hands out tokens to anyone and its control API
    (``/_emulator/...``) changes its behaviour.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        spec_file: str | Path | None = None,
        client_id: str | None = "emulator-client-id",
        client_secret: str | None = "emulator-client-secret",
        characters: Iterable[Character] | None = None,
        access_token_lifetime: int = 1199,
        rotate_refresh_tokens: bool = True,
        verbose: bool = False,
        error_limit: int = 100,
        error_window: float = 60.0,
        rate_limits: bool = True,
        rate_limit: str | None = None,
        code_lifetime: float = 300.0,
        request_log_size: int = 50_000,
        state_file: str | Path | None = None,
    ) -> None:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"port must be a TCP port from 0 to 65535 (0 picks a free one), not {port!r}")
        self.host = host
        self.port = port
        self.verbose = verbose
        self.spec = Spec.load(spec_file)
        self.sso = SSO(
            lambda: self.url,
            client_id=client_id,
            client_secret=client_secret,
            characters=characters,
            access_token_lifetime=access_token_lifetime,
            rotate_refresh_tokens=rotate_refresh_tokens,
            code_lifetime=code_lifetime,
            state_file=state_file,
        )
        self.error_limit = ErrorLimit(error_limit, error_window)
        self.rate_limiter = RateLimiter(
            enabled=rate_limits, size=None if rate_limit is None else parse_rate_limit(rate_limit)
        )
        self.esi = ESI(self.spec, self.sso, self.rate_limiter)
        self.faults = Faults(resolve_target=self._fault_target)
        self._log = RequestLog(maxlen=request_log_size)
        self._server: _Server | None = None
        self._url: str | None = None
        self._thread: threading.Thread | None = None
        self._bind_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:8001``.

        Reading it binds the port if nothing did yet; after :meth:`stop` it stays the URL
        the emulator last served on."""
        if self._url is None:
            self._bind()
        return cast(str, self._url)

    def start(self) -> Emulator:
        """Serve in a daemon thread; returns ``self``. Raises ``RuntimeError`` if running."""
        server = self._bind()
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="esi-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (``KeyboardInterrupt``), then close."""
        server = self._bind()
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close open connections and release the port."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._thread = None
        self._close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind(self) -> _Server:
        with self._bind_lock:
            if self._server is None:
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                self._server = _Server((self.host, self.port), _Handler, self, family)
                host, port = self._server.server_address[:2]
                host = host.decode() if isinstance(host, bytes) else str(host)
                host_text = f"[{host}]" if ":" in host else host
                self._url = f"http://{host_text}:{port}"
            return self._server

    def _close(self) -> None:
        with self._bind_lock:
            server, self._server = self._server, None
        if server is not None:
            server.server_close()
            server.close_connections()

    # --- state -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received since the last reset, in arrival order (a copy)."""
        return self._log.snapshot()

    def reset(self, sso: bool = False) -> None:
        """Back to a fresh state between tests: no faults, no scripted ESI answers, full
        rate-limit buckets and error limit, an empty request log, zeroed SSO counters and the
        JWKS as generated.
        With ``sso`` also forget authorization codes, refresh tokens, owner-hash transfers
        and characters added since start."""
        self.faults.clear()
        self.esi.clear()
        self.rate_limiter.reset()
        self.error_limit.reset()
        self._log.clear()
        self.sso.reset_stats()
        if sso:
            self.sso.forget()

    def state(self) -> dict[str, Any]:
        """A JSON-able summary, as ``GET /_emulator/state`` returns it."""
        remain, reset = self.error_limit.state()
        kinds = {"sso": 0, "esi": 0, "control": 0}
        statuses: dict[str, int] = {}
        for request in self._log.snapshot():
            kinds[request.kind] += 1
            if request.kind == "esi" and request.status is not None:
                statuses[str(request.status)] = statuses.get(str(request.status), 0) + 1
        return {
            "url": self.url,
            "spec": {
                "kind": self.spec.kind,
                "source": self.spec.source,
                "version": str(self.spec.document.get("info", {}).get("version", "")),
                "operations": len(self.spec.operations),
            },
            "sso": {
                "client_id": self.sso.client_id,
                "stats": self.sso.stats,
                "characters": [
                    {"character_id": c.character_id, "name": c.name, "owner_hash": c.owner_hash}
                    for c in self.sso.characters
                ],
            },
            "requests": {"total": self._log.total, **kinds, "esi_statuses": statuses},
            "faults": [f.as_dict() for f in self.faults.active],
            "error_limit": {"remain": remain, "reset": reset},
        }

    def _fault_target(self, target: str) -> str:
        if not isinstance(target, str) or not target:
            raise ValueError("a fault needs a target")
        if target.startswith("/"):
            return target
        lowered = target.lower()
        if lowered in {"sso", "esi"} or lowered in {f"sso:{e}" for e in SSO_ENDPOINTS}:
            return lowered
        if lowered.startswith("sso:"):
            raise ValueError(f"unknown SSO endpoint in {target!r}: use one of {', '.join(SSO_ENDPOINTS)}")
        try:
            return self.spec.find(target).key
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None

    # --- request handling ------------------------------------------------------------

    def _handle(
        self,
        method: str,
        target: str,
        header_items: list[tuple[str, str]],
        body: bytes,
        client: tuple[str, int],
    ) -> Response | None:
        """Answer one request; ``None`` means drop the connection."""
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            path, query_string = parts.path or "/", parts.query
        else:
            path, _, query_string = target.partition("#")[0].partition("?")
        bad_query = False
        try:
            query = parse_qs(
                query_string, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS, errors="replace"
            )
        except ValueError:
            query, bad_query = {}, True
        headers = Headers(header_items)
        stripped = path.rstrip("/") or "/"
        kind: RequestKind
        if path.startswith(CONTROL_PREFIX) or stripped == CONTROL_PREFIX.rstrip("/"):
            kind = "control"
        elif stripped in SSO_PATHS:
            kind = "sso"
        else:
            kind = "esi"
        request = RecordedRequest(method, path, query, headers, body, kind, client[0], client[1])
        self._log.append(request)
        try:
            if kind == "control":
                response: Response | None = self._control(request)
            elif kind == "sso":
                response = self._sso(request, SSO_PATHS[stripped], bad_query)
            else:
                response = self._esi(request, bad_query)
        except Exception:
            logger.exception("esi emulator: error answering %s %s", method, path)
            response = error_response(500, "emulator internal error (see the esi.emulator log)")
        request.status = response.status if response is not None else None
        return response

    def _sso(self, request: RecordedRequest, endpoint: str, bad_query: bool) -> Response | None:
        with self.sso.in_flight(endpoint):
            return self._sso_answer(request, endpoint, bad_query)

    def _sso_answer(self, request: RecordedRequest, endpoint: str, bad_query: bool) -> Response | None:
        decision = self.faults.decide({"sso", f"sso:{endpoint}"}, (request.path,))
        if decision.latency:
            time.sleep(decision.latency)
        fault = decision.answer
        if fault is not None:
            if fault.drop:
                return None
            return _fault_response(fault, sso=True)
        if bad_query:
            return error_response(400, "too many query parameters")
        return self.sso.handle(endpoint, request)

    def _esi(self, request: RecordedRequest, bad_query: bool) -> Response | None:
        op, raw_params, allowed = self.spec.match(request.method, request.path)
        if op is not None:
            request.operation_id = op.operation_id
        request.tenant = request.headers.get("X-Tenant") or first_value(request.query, "datasource")
        request.compatibility_date = request.headers.get("X-Compatibility-Date") or first_value(
            request.query, "compatibility_date"
        )
        names = {"esi", op.key} if op is not None else {"esi"}
        decision = self.faults.decide(names, (request.path, normalise_path(request.path)))
        if decision.latency:
            time.sleep(decision.latency)
        fault = decision.answer
        if fault is not None and fault.drop:
            self.error_limit.count(None)
            return None
        if fault is not None:
            response = _fault_response(fault, sso=False)
        elif self.error_limit.exhausted():
            response = error_response(420, ERROR_LIMITED_MESSAGE)
        elif bad_query:
            response = error_response(400, f"too many query parameters (at most {MAX_QUERY_FIELDS})")
        else:
            response = self.esi.respond(request, op, raw_params, allowed, base_url=self.url)
        remain, reset = self.error_limit.count(response.status)
        response.headers["X-ESI-Error-Limit-Remain"] = str(remain)
        response.headers["X-ESI-Error-Limit-Reset"] = str(reset)
        return response

    # --- control API -----------------------------------------------------------------

    def _control(self, request: RecordedRequest) -> Response:
        try:
            loopback = ipaddress.ip_address(request.client_address).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return error_response(403, "the emulator control API answers loopback clients only")
        route = (request.method, request.path.rstrip("/"))
        try:
            if route == ("GET", "/_emulator/state"):
                return _json(200, self.state())
            if route == ("GET", "/_emulator/faults"):
                return _json(200, {"faults": [f.as_dict() for f in self.faults.active]})
            if route == ("POST", "/_emulator/faults"):
                fields = _json_object(request.body, _FAULT_FIELDS, required={"target"})
                fault = self.faults.add(fields.pop("target"), **fields)
                return _json(201, {"fault": fault.as_dict()})
            if route == ("DELETE", "/_emulator/faults"):
                count = len(self.faults.active)
                self.faults.clear()
                return _json(200, {"cleared": count})
            if route == ("POST", "/_emulator/reset"):
                fields = _json_object(request.body, {"sso"}, allow_empty=True)
                self.reset(sso=bool(fields.get("sso", False)))
                return _json(200, {"reset": True, "sso": bool(fields.get("sso", False))})
            if route == ("POST", "/_emulator/responses"):
                fields = _json_object(request.body, _RESPONSE_FIELDS, required={"operation"})
                operation = fields.pop("operation")
                if "body" not in fields and "pages" not in fields:
                    raise ValueError("give body or pages")
                self.esi.set_response(operation, fields.pop("body", None), **fields)
                return _json(201, {"operation": self.spec.find(operation).operation_id})
            if route == ("DELETE", "/_emulator/responses"):
                self.esi.clear()
                return _json(200, {"cleared": True})
            if route == ("POST", "/_emulator/tokens"):
                fields = _json_object(
                    request.body, {"character_id", "scopes", "client_id"}, required={"character_id"}
                )
                grant = self.sso.issue_grant(
                    int(fields["character_id"]),
                    list(fields.get("scopes") or []),
                    client_id=fields.get("client_id"),
                )
                return _json(201, grant)
        except (KeyError, ValueError, TypeError) as exc:
            return error_response(400, str(exc.args[0]) if exc.args else type(exc).__name__)
        known = {
            "/_emulator/state",
            "/_emulator/faults",
            "/_emulator/reset",
            "/_emulator/responses",
            "/_emulator/tokens",
        }
        if route[1] in known:
            return error_response(405, "Method not allowed")
        return error_response(404, "unknown control endpoint")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], emulator: Emulator, family: int
    ) -> None:
        self.address_family = family
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut idle keep-alive connections so their threads end with the server."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.emulator.verbose:
            super().handle_error(request, client_address)


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "esi-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        if self.server.emulator.verbose:
            sys.stderr.write(f"esi-emulator {self.address_string()} {format % args}\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server calls this for unparseable requests; answer in ESI's JSON shape, with
        # a status line even when the request line was too broken to name a version.
        self.close_connection = True
        self.request_version = self.protocol_version
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self._write(error_response(code, message or phrase))

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._write(error_response(exc.status, str(exc)))
            return
        response = self.server.emulator._handle(
            self.command,
            self.path,
            list(self.headers.items()),
            body,
            (str(self.client_address[0]), int(self.client_address[1])),
        )
        if response is None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.log_message('"%s" dropped by a fault', self.requestline)
            return
        self._write(response)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        if not raw_length.strip().isdigit():
            raise _BodyError(400, "invalid Content-Length")
        length = int(raw_length)
        if length > MAX_BODY:
            raise _BodyError(413, f"request body larger than {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError:
                raise _BodyError(400, "malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise _BodyError(413, f"request body larger than {MAX_BODY} bytes")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(8)

    def _write(self, response: Response) -> None:
        status = response.status
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = _REASONS.get(status, "Unknown")
        lines = [
            f"{self.protocol_version} {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
        ]
        for name, value in response.headers.items():
            lines.append(f"{name}: {_header_safe(str(value))}")
        no_body = status in (204, 304) or status < 200
        if not no_body:
            lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        payload = b"" if no_body or self.command == "HEAD" else response.body
        try:
            self.wfile.write(head + payload)
        except OSError:
            self.close_connection = True
            return
        self.log_request(status, len(payload))


def _header_safe(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _json(status: int, body: Any) -> Response:
    return Response(status, {"Content-Type": JSON_TYPE}, encode_body(body))


def _json_object(
    body: bytes,
    allowed: set[str],
    *,
    required: frozenset[str] | set[str] = frozenset(),
    allow_empty: bool = False,
) -> dict[str, Any]:
    if allow_empty and not body.strip():
        return {}
    try:
        fields = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"malformed JSON body: {exc}") from None
    if not isinstance(fields, dict):
        raise ValueError("the body must be a JSON object")
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    missing = set(required) - set(fields)
    if missing:
        raise ValueError(f"missing fields: {', '.join(sorted(missing))}")
    return fields


def _fault_response(fault: Fault, *, sso: bool) -> Response:
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    if fault.body is not None:
        body = fault.body
    elif status == 420 and not sso:
        body = {"error": ERROR_LIMITED_MESSAGE}
    elif sso:
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        body = {"error": error, "error_description": f"emulated fault ({status})"}
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = _REASONS.get(status, "Error")
        body = {"error": phrase}
    if not isinstance(body, (bytes, str)):
        headers["Content-Type"] = JSON_TYPE
    return Response(status, headers, encode_body(body))

