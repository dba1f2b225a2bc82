"""The ESI client, with django-esi's API on today's ESI.

::

    from esi.clients import EsiClientProvider

    esi = EsiClientProvider(app_info_text="myapp/1.0")

    status = esi.client.Status.get_status().result()
    notifications = esi.client.Character.get_characters_character_id_notifications(
        character_id=token.character_id, token=token
    ).results()

``client.<Resource>.<operation>(**params)`` returns an :class:`EsiRequest`; nothing is sent
until ``result()`` (one page), ``results()`` (every page) or ``results_localized()``. Both
operation names work: the OpenAPI operationId (``GetCharactersCharacterIdNotifications``) and
its snake_case form, which is the Swagger 2.0 name. ``dir(client)`` lists the resources,
``dir(client.Universe)`` their operations.

By default the client is built from the OpenAPI 3.1 spec bundled with the package and sends
``X-Compatibility-Date`` (the spec's date, ``ESI_COMPATIBILITY_DATE`` or the
``compatibility_date`` argument) and ``X-Tenant`` (``datasource``) on every request (CCP,
"ESI: compatibility dates"). A Swagger 2.0 ``spec_file``, ``version=`` and per-resource
versions (``Universe="v1"``) use ESI's legacy versioned routes.
"""

from __future__ import annotations

import datetime
import itertools
import json
import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from . import __version__, app_settings, required_scopes
from ._json import loads
from .errors import (
    ESIResponseDecodeError,
    ESITooManyPagesError,
    IncompleteResponseError,
    MissingScopesError,
)
from .http import budgets, deadline, transport
from .http.transport import EsiResponse
from .openapi import DecodeError, EsiSpec, Operation, SpecError
from .openapi.bravado_lock import BRAVADO_LOCK
from .openapi.results import EsiObject  # noqa: F401 - public here: esi.clients.EsiObject

if TYPE_CHECKING:
    from .models import Token

logger = logging.getLogger(__name__)

_specs: dict[str, EsiSpec] = {}
_specs_lock = threading.Lock()
_pages_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


#: The name prefix of the page pool's threads.
_PAGE_THREADS = "esi-pages"


def _executor() -> ThreadPoolExecutor:
    """One pool per process for fetching pages 2..N (bounded by ``ESI_PAGE_CONCURRENCY``)."""
    global _pages_executor
    if _pages_executor is None:
        with _executor_lock:
            if _pages_executor is None:
                _pages_executor = ThreadPoolExecutor(
                    max_workers=int(app_settings.ESI_PAGE_CONCURRENCY), thread_name_prefix=_PAGE_THREADS
                )
    return _pages_executor


def load_spec(spec_file: str | Path | None = None, version: str | None = None) -> EsiSpec:
    """The spec for a client, parsed once per process.

    ``spec_file`` (either format), else with ``version`` the legacy Swagger 2.0 spec that
    ESI served at ``/<version>/swagger.json`` (downloaded once and kept in the Django cache
    for ``ESI_SPEC_CACHE_DURATION`` seconds), else ``ESI_SPEC_FILE``, else the bundled spec.

    Raises:
        SpecError: the file or download is not an ESI spec.
    """
    spec_file = spec_file or (None if version else app_settings.ESI_SPEC_FILE)
    key = f"file:{Path(spec_file).resolve()}" if spec_file else (f"version:{version}" if version else "bundled")
    spec = _specs.get(key)
    if spec is None:
        with _specs_lock:
            spec = _specs.get(key)
            if spec is None:
                if spec_file:
                    spec = EsiSpec.from_file(spec_file)
                elif version:
                    spec = EsiSpec.from_dict(_download_swagger(version))
                else:
                    spec = EsiSpec.bundled()
                _specs[key] = spec
    return spec


def _download_swagger(version: str) -> dict[str, Any]:
    from django.core.cache import cache

    cache_key = f"esi:spec:swagger:{version}"
    spec = cache.get(cache_key)
    if spec is None:
        url = f"{app_settings.esi_api_url()}/{version}/swagger.json"
        try:
            with deadline.limit(float(app_settings.ESI_REQUESTS_TOTAL_TIMEOUT)):
                answer = transport.session().get(
                    url, timeout=transport.default_timeout(), headers={"User-Agent": user_agent(None)}
                )
            answer.raise_for_status()
            spec = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise SpecError(
                f"Could not download the legacy spec {url} ({exc}); ESI's Swagger routes are "
                "retired: pass spec_file= or use the bundled OpenAPI spec"
            ) from exc
        cache.set(cache_key, spec, int(app_settings.ESI_SPEC_CACHE_DURATION))
    return dict(spec)


def user_agent(app_info_text: str | None, app_url: str | None = None) -> str:
    """``<app> (<contact email>; +<url>) django-esi-ng/<version>``, as CCP's guidelines ask
    (products are space-delimited, so spaces in the app text become dashes)."""
    parts = []
    if app_info_text:
        parts.append("-".join(str(app_info_text).split()))
    comment = "; ".join(
        part for part in (app_settings.ESI_USER_CONTACT_EMAIL, f"+{app_url}" if app_url else None) if part
    )
    if comment:
        parts.append(f"({comment})")
    parts.append(f"django-esi-ng/{__version__}")
    return " ".join(parts)


@dataclass
class _Config:
    spec: EsiSpec
    datasource: str
    compatibility_date: str | None
    user_agent: str
    base_paths: dict[str, str]
    token: Any


class RequestConfig:
    """Per-request options, as bravado's: ``also_return_response`` makes ``result()`` and
    ``results()`` return ``(data, response)``."""

    def __init__(self) -> None:
        self.also_return_response = False


class EsiClient:
    """The client: resources as attributes (``client.Universe``); tags with spaces are
    reachable with underscores (``client.Planetary_Interaction``)."""

    def __init__(self, config: _Config) -> None:
        self._config = config
        self._resources: dict[str, ResourceProxy] = {}

    def __getattr__(self, name: str) -> ResourceProxy:
        if name.startswith("__"):
            raise AttributeError(name)
        proxy = self._resources.get(name)
        if proxy is None:
            proxy = ResourceProxy(self._config, self._config.spec.resource(name))
            self._resources[name] = proxy
        return proxy

    def __dir__(self) -> list[str]:
        return self._config.spec.resource_names()

    @property
    def spec(self) -> EsiSpec:
        """The :class:`~esi.openapi.EsiSpec` this client calls (its ``format``,
        ``version``, ``compatibility_date``, resources and operations)."""
        return self._config.spec

    def __repr__(self) -> str:
        return f"<EsiClient {self._config.spec.format} {self._config.spec.version}>"


class ResourceProxy:
    """One resource (tag); its operations are attributes under either name."""

    def __init__(self, config: _Config, resource: Any) -> None:
        self._config = config
        self._resource = resource
        self._callers: dict[str, OperationCaller] = {}

    def __getattr__(self, name: str) -> OperationCaller:
        if name.startswith("__"):
            raise AttributeError(name)
        caller = self._callers.get(name)
        if caller is None:
            caller = OperationCaller(self._config, self._resource.operation(name))
            self._callers[name] = caller
        return caller

    def __dir__(self) -> list[str]:
        return self._resource.operation_names()

    def __repr__(self) -> str:
        return f"<Resource {self._resource.name}>"


class _OperationDoc:
    """``__doc__`` of :class:`OperationCaller`: the class's own docstring on the class (for
    autodoc), the operation's method, path, parameters and scopes on an instance (for
    ``help()`` and shell exploration)."""

    def __init__(self, class_doc: str) -> None:
        self.class_doc = class_doc

    def __get__(self, instance: OperationCaller | None, owner: type) -> str:
        if instance is None:
            return self.class_doc
        op = instance.operation
        scopes = f" Scopes: {', '.join(op.scopes)}." if op.scopes else ""
        return f"{op.http_method} {op.path_name} ({op.operation_id}). Parameters: {', '.join(op.params)}.{scopes}"


class OperationCaller:
    """One operation of a resource (``client.Universe.get_universe_types_type_id``).

    Calling it with the operation's parameters (and optionally ``token=``) gives an
    :class:`EsiRequest`; parameters are checked against the spec at once. On an instance,
    ``__doc__`` (and so ``help()``) gives the operation's method, path, parameters and
    scopes.
    """

    def __init__(self, config: _Config, operation: Operation) -> None:
        self._config = config
        self.operation = operation

    def __call__(self, token: Any = None, **params: Any) -> EsiRequest:
        return EsiRequest(self._config, self.operation, params, token or self._config.token)

    def required_scopes(self) -> list[str]:
        """The ESI scopes a token needs for this operation (empty for public routes), as
        django-esi 10's ``required_scopes()``."""
        return list(self.operation.scopes)

    def __repr__(self) -> str:
        return f"<Operation {self.operation.name}>"


OperationCaller.__doc__ = _OperationDoc(OperationCaller.__doc__ or "")  # type: ignore[assignment]


@dataclass
class _Auth:
    header: str | None
    #: Keys the response cache: ``"public"``, ``"character:<id>"`` once the character is
    #: verified, ``None`` (never cached) for a token nobody verified.
    identity: str | None
    #: The character's rate-limit bucket (the claimed one for an unverified token string:
    #: ESI buckets by the character it finds in a genuine token).
    character_id: int | None


@dataclass
class _CallOptions:
    """django-esi 10's keyword arguments of ``result()`` / ``results()``, mapped onto this
    client's: ``use_etag`` (send ``If-None-Match`` from the stored copy), ``return_response``
    (return ``(data, response)``), ``force_refresh`` (skip the stored copy and its ETag),
    ``use_cache`` (``False``: skip the stored copy), ``store_cache`` (``False``: do not store
    the answer) and ``last_modified`` (a ``datetime`` sent as ``If-Modified-Since``)."""

    ignore_cache: bool
    store: bool = True
    use_etag: bool = True
    if_modified_since: str | None = None
    return_response: bool = False

    @classmethod
    def take(cls, extra: dict[str, Any], ignore_cache: bool) -> _CallOptions:
        """Remove django-esi 10's keywords from ``extra`` (the rest are spec parameters).
        Raises ``TypeError`` for a ``last_modified`` that is not a ``datetime``."""
        use_etag = bool(extra.pop("use_etag", True))
        return_response = bool(extra.pop("return_response", False))
        force_refresh = bool(extra.pop("force_refresh", False))
        use_cache = bool(extra.pop("use_cache", True))
        store = bool(extra.pop("store_cache", True))
        last_modified = extra.pop("last_modified", None)
        if_modified_since = None
        if last_modified is not None:
            if not isinstance(last_modified, datetime.datetime):
                raise TypeError(
                    f"last_modified must be a datetime, not {type(last_modified).__name__}"
                )
            if last_modified.tzinfo is None:
                last_modified = last_modified.replace(tzinfo=datetime.timezone.utc)
            if_modified_since = format_datetime(last_modified.astimezone(datetime.timezone.utc), usegmt=True)
        return cls(
            ignore_cache=ignore_cache or force_refresh or not use_cache,
            store=store,
            use_etag=use_etag and not force_refresh,
            if_modified_since=if_modified_since,
            return_response=return_response,
        )

    def fetch_kwargs(self) -> dict[str, Any]:
        return {"ignore_cache": self.ignore_cache, **self.walk_kwargs()}

    def walk_kwargs(self) -> dict[str, Any]:
        return {"store": self.store, "use_etag": self.use_etag, "if_modified_since": self.if_modified_since}


class EsiRequest:
    """One ESI request, sent by :meth:`result`, :meth:`results` or
    :meth:`results_localized`.

    Keyword arguments of those methods: ``timeout`` (seconds, or ``(connect, read)``),
    ``retries`` (attempts after the first on 5xx / connection errors), ``language`` (ESI
    language code), ``ignore_cache`` (skip the response cache, still storing the answer).
    """

    def __init__(self, config: _Config, operation: Operation, params: dict[str, Any], token: Any) -> None:
        self._config = config
        self.operation = operation
        self.params = params
        self.token = token
        self.request_config = RequestConfig()
        # Checks the parameters now, as bravado did when the operation was called.
        self._prepared = operation.prepare(**params)

    def __repr__(self) -> str:
        return f"<EsiRequest {self.operation.name} {self.params!r}>"

    def required_scopes(self) -> list[str]:
        """The ESI scopes a token needs for this request's operation (django-esi 10)."""
        return list(self.operation.scopes)

    # -- the three ways to send -------------------------------------------------------------

    def result(
        self,
        timeout: Any = None,
        retries: int | None = None,
        language: str | None = None,
        ignore_cache: bool = False,
        **extra: Any,
    ) -> Any:
        """The decoded response of one request (one page of a paged operation).

        Returns:
            The data (lists, dicts, ``datetime`` for ``date-time`` fields), or
            ``(data, response)`` with ``request_config.also_return_response``.

        django-esi 10's keyword arguments work too: ``return_response=True`` returns
        ``(data, response)``; ``use_cache=False`` skips the stored copy; ``store_cache=False``
        stores nothing; ``use_etag=False`` revalidates without ``If-None-Match``;
        ``force_refresh=True`` does both of the first and last; ``last_modified`` (a
        ``datetime``) is sent as ``If-Modified-Since``. Any other keyword is a spec
        parameter.

        Raises:
            HTTPError: a subclass per status (``HTTPNotFound``, ``HTTPForbidden``, ...).
            HTTPNotModified: a 304 to ``last_modified`` with no stored copy.
            ESIConnectionError: ESI could not be reached, after retries.
            ESIErrorLimitException: the error limit is reached (``ESI_ERROR_LIMIT_BEHAVIOUR``).
            ESIBucketLimitException: a rate-limit bucket is empty (``ESI_RATE_LIMIT_BEHAVIOUR``).
            MissingScopesError: the token lacks a scope; raised before any request.
            TokenExpiredError: the token expired and cannot be refreshed.
            TokenInvalidError: EVE SSO says the token's grant is gone.
            ESIResponseDecodeError: the body does not fit the spec.
            ParameterError: a spec parameter is missing or does not fit (a ``TypeError``).
        """
        options = _CallOptions.take(extra, ignore_cache)
        prepared = self._prepare_extra(extra)
        data, response = self._fetch(prepared, timeout, retries, language, **options.fetch_kwargs())
        return (data, response) if self.request_config.also_return_response or options.return_response else data

    def results(
        self,
        timeout: Any = None,
        retries: int | None = None,
        language: str | None = None,
        ignore_cache: bool = False,
        **extra: Any,
    ) -> Any:
        """Every page of the result, combined into one list.

        ``X-Pages`` operations: pages 2..N are fetched concurrently (at most
        ``ESI_PAGE_CONCURRENCY`` at once, none more after the first failure, and at most
        ``ESI_MAX_PAGES`` in all); if their ``Last-Modified`` disagree (the data changed
        mid-walk) the walk is made once more. Cursor operations (``before`` /
        ``after``): every record once, oldest first (of a record found on two pages, the
        newer copy). ``from_id`` operations: walked until no new records. Other operations:
        as :meth:`result`.

        Raises:
            IncompleteResponseError: pages still disagree on a second walk (rather than
                silently returning partial or mixed data). Otherwise as :meth:`result`.
            ESITooManyPagesError: ``X-Pages`` announced more than ``ESI_MAX_PAGES``.
        """
        options = _CallOptions.take(extra, ignore_cache)
        style = self.operation.pagination
        kwargs = {"timeout": timeout, "retries": retries, "language": language, **options.walk_kwargs()}
        ignore_cache = options.ignore_cache
        if style == "page" and "page" not in extra and self.params.get("page") is None:
            data, response = self._all_pages(kwargs, ignore_cache)
        elif style == "cursor" and not ({"before", "after"} & (extra.keys() | self._given())):
            data, response = self._cursor_walk(kwargs, ignore_cache)
        elif style == "from_id" and "from_id" not in extra and self.params.get("from_id") is None:
            data, response = self._from_id_walk(kwargs, ignore_cache)
        else:
            data, response = self._fetch(self._prepare_extra(extra), **kwargs, ignore_cache=ignore_cache)
        return (data, response) if self.request_config.also_return_response or options.return_response else data

    def results_localized(self, languages: Iterable[str] | str | None = None, **kwargs: Any) -> dict[str, Any]:
        """:meth:`results` in each language (default ``ESI_LANGUAGES``), as
        ``{language: data}``; the languages are fetched concurrently.

        ``languages`` is a list of ESI language codes or one code. Raises ``ValueError``
        for a code not in ``ESI_LANGUAGES`` (as django-esi 7 and 10 do), before any request.
        """
        if isinstance(languages, str):
            languages = [languages]
        known = list(app_settings.ESI_LANGUAGES)
        wanted = list(dict.fromkeys(languages)) if languages else known
        unknown = [lang for lang in wanted if lang not in known]
        if unknown:
            raise ValueError(
                f"Invalid or unsupported language code(s) {', '.join(map(repr, unknown))}: "
                f"ESI_LANGUAGES has {', '.join(known)}"
            )
        kwargs.pop("language", None)
        also = self.request_config.also_return_response
        futures = {lang: _executor().submit(self._localized, lang, kwargs, also) for lang in wanted}
        return {lang: future.result() for lang, future in futures.items()}

    def _localized(self, language: str, kwargs: dict[str, Any], also: bool) -> Any:
        clone = EsiRequest(self._config, self.operation, self.params, self.token)
        clone.request_config.also_return_response = also
        return clone.results(language=language, **kwargs)

    # -- internals --------------------------------------------------------------------------

    def _given(self) -> set[str]:
        return {key for key, value in self.params.items() if value is not None}

    def _prepare_extra(self, extra: dict[str, Any]) -> Any:
        if not extra:
            return self._prepared
        return self.operation.prepare(**{**self.params, **extra})

    def _auth(self) -> _Auth:
        op = self.operation
        required_scopes.record_operation(op)
        token = self.token
        if token is None:
            if op.scopes:
                raise MissingScopesError(op.name, list(op.scopes))
            return _Auth(None, "public", None)
        from .models import Token

        if isinstance(token, Token):
            if op.scopes:
                held = getattr(token, "_esi_scope_names", None)
                if held is None:
                    held = set(token.scopes.values_list("name", flat=True))
                    token._esi_scope_names = held  # type: ignore[attr-defined]
                missing = [s for s in op.scopes if s not in held]
                if missing:
                    raise MissingScopesError(op.name, missing)
            access = token.valid_access_token()
            # A stored token's JWT was verified when EVE SSO issued it.
            return _Auth(f"Bearer {access}", f"character:{token.character_id}", token.character_id)
        if isinstance(token, str):
            claims = _unverified_claims(token)
            claimed = None
            if claims is not None:
                # Unverified claims only fail a call early for a missing scope and pick the
                # rate-limit bucket; ESI verifies the token itself.
                scopes = claims.get("scp", [])
                scopes = [scopes] if isinstance(scopes, str) else list(scopes or [])
                missing = [s for s in op.scopes if s not in scopes]
                if missing:
                    raise MissingScopesError(op.name, missing)
                sub = str(claims.get("sub", "")).rsplit(":", 1)[-1]
                claimed = int(sub) if sub.isascii() and sub.isdigit() and len(sub) < 20 else None
            verified = _verified_character(token)
            identity = None if verified is None else f"character:{verified}"
            return _Auth(f"Bearer {token}", identity, verified or claimed)
        raise TypeError(f"token must be an esi.models.Token or an access token string, not {type(token).__name__}")

    def _headers(self, prepared: Any, language: str | None, auth: _Auth) -> tuple[dict[str, str], list[tuple[str, str]], str | None]:
        config = self._config
        headers = {"User-Agent": config.user_agent, "Accept": "application/json", **prepared.headers}
        query = list(prepared.query)
        declared = self.operation.transport_params
        if config.spec.format == "openapi31":
            headers["X-Tenant"] = config.datasource
            if config.compatibility_date:
                headers["X-Compatibility-Date"] = config.compatibility_date
            if language:
                language = "en" if language == "en-us" else language
                headers["Accept-Language"] = language
        else:
            if "datasource" in declared:
                query.append(("datasource", config.datasource))
            if language:
                if "language" in declared:
                    query.append(("language", language))
                else:
                    headers["Accept-Language"] = language
        if prepared.body is not None:
            headers["Content-Type"] = "application/json"
        if auth.header:
            headers["Authorization"] = auth.header
        return headers, query, language

    def _url(self, prepared: Any) -> str:
        path = prepared.path
        base = self._config.base_paths.get(self.operation.resource.name)
        if base:
            old = self._config.spec.base_path.rstrip("/")
            if old and path.startswith(old + "/"):
                path = path[len(old):]
            path = "/" + base.strip("/") + path
        return app_settings.esi_api_url() + path

    def _fetch(
        self,
        prepared: Any,
        timeout: Any,
        retries: int | None,
        language: str | None,
        ignore_cache: bool,
        store: bool = True,
        use_etag: bool = True,
        if_modified_since: str | None = None,
    ) -> tuple[Any, EsiResponse]:
        op = self.operation
        auth = self._auth()
        headers, query, language = self._headers(prepared, language, auth)
        if if_modified_since:
            headers["If-Modified-Since"] = if_modified_since
        request = transport.Request(
            prepared.method, self._url(prepared), query, headers, prepared.body, auth.identity, auth.character_id
        )
        return transport.fetch(
            request,
            self._decode,
            operation=op.name,
            group=op.rate_limit_group,
            cache_age=op.cache_age,
            timeout=timeout,
            retries=retries,
            use_cache=not ignore_cache,
            use_etag=use_etag,
            store=store,
        )

    def _decode(self, response: EsiResponse) -> Any:
        if app_settings.ESI_VALIDATE_RESPONSES and response.content.strip():
            self._validate(response)
        try:
            return self.operation.decode(response.content, response.status_code)
        except DecodeError as exc:
            raise ESIResponseDecodeError(str(exc)) from exc

    def _validate(self, response: EsiResponse) -> None:
        from bravado_core.validate import validate_schema_object
        from jsonschema.exceptions import ValidationError

        bravado_op = self.operation.bravado_operation
        responses = bravado_op.op_spec.get("responses", {})
        deref = bravado_op.swagger_spec.deref
        schema = (deref(responses.get(str(response.status_code), responses.get("default"))) or {}).get("schema")
        if schema is None:
            return
        try:
            body = loads(response.content)
            with BRAVADO_LOCK:
                validate_schema_object(bravado_op.swagger_spec, schema, body)
        except (ValidationError, ValueError) as exc:
            raise ESIResponseDecodeError(f"{self.operation.name}: response does not match the spec: {exc}") from exc

    def _all_pages(self, kwargs: dict[str, Any], ignore_cache: bool) -> tuple[Any, EsiResponse]:
        for walk in range(2):
            first_data, first = self._fetch(self._prepare_extra({"page": 1}), **kwargs, ignore_cache=ignore_cache)
            pages = _x_pages(first.headers.get("X-Pages"))
            limit = int(app_settings.ESI_MAX_PAGES)
            if pages > limit:
                raise ESITooManyPagesError(
                    f"{self.operation.name}: ESI announced {pages} pages (X-Pages), more than "
                    f"ESI_MAX_PAGES ({limit}); only the first was fetched",
                    pages,
                    limit,
                )
            results = [(first_data, first), *self._pages(range(2, pages + 1), kwargs, ignore_cache)]
            stamps = {r.headers.get("Last-Modified") for _, r in results}
            if len(stamps) <= 1:
                return _combine([data for data, _ in results]), first
            logger.info("%s: pages changed during the walk (%s); walking again", self.operation.name, stamps)
            ignore_cache = True
        raise IncompleteResponseError(f"{self.operation.name}: pages kept changing while they were fetched")

    def _pages(
        self, numbers: Iterable[int], kwargs: dict[str, Any], ignore_cache: bool
    ) -> list[tuple[Any, EsiResponse]]:
        """Fetch pages ``numbers``, at most ``ESI_PAGE_CONCURRENCY`` at a time, in order.

        On the first failure no further page is sent: the pages in flight finish (their
        answers are dropped) and the failure is raised, so that an ``X-Pages`` larger than
        the real number of pages costs a handful of errors, not one per page announced.
        On a thread of the page pool itself (``results_localized``), the pages are fetched
        one after another: waiting there for the pool's other threads could wait forever.
        """
        def fetch(number: int) -> tuple[Any, EsiResponse]:
            return self._fetch(self._prepare_extra({"page": number}), **kwargs, ignore_cache=ignore_cache)

        pending = iter(numbers)
        if threading.current_thread().name.startswith(_PAGE_THREADS):
            return [fetch(number) for number in pending]
        window = budgets.page_window(
            group=self.operation.rate_limit_group,
            character_id=self._auth().character_id,
            operation=self.operation.name,
            wanted=max(1, int(app_settings.ESI_PAGE_CONCURRENCY)),
        )
        answers: dict[int, tuple[Any, EsiResponse]] = {}
        running: dict[Future[tuple[Any, EsiResponse]], int] = {}
        failure: BaseException | None = None
        while True:
            while failure is None and len(running) < window:
                number = next(pending, None)
                if number is None:
                    break
                running[_executor().submit(fetch, number)] = number
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                number = running.pop(future)
                try:
                    answers[number] = future.result()
                except BaseException as exc:  # raised below, once the pages in flight are done
                    failure = failure or exc
        if failure is not None:
            raise failure
        return [answers[number] for number in sorted(answers)]

    def _cursor_walk(self, kwargs: dict[str, Any], ignore_cache: bool) -> tuple[Any, EsiResponse]:
        """Newest page first, then ``before`` cursors until an empty page (CCP
        "Cursor-based pagination"); records are returned oldest first.

        A record that changed during the walk comes again on an older page: CCP says to
        keep the copy already held (the newer one) when walking with ``before``. Records are
        told apart by ``id`` (every cursor route's records have one), else by content."""
        pages: list[list[Any]] = []
        data, first = self._fetch(self._prepared, **kwargs, ignore_cache=ignore_cache)
        seen: set[str] = set()
        held: set[Any] = set()
        while True:
            records, cursor = _cursor_records(data)
            if not records:
                break
            page = []
            for record in records:
                key = _record_key(record)
                if key not in held:
                    held.add(key)
                    page.append(record)
            pages.append(page)
            before = (cursor or {}).get("before")
            if not before or before in seen:
                break
            seen.add(before)
            data, _ = self._fetch(self._prepare_extra({"before": before}), **kwargs, ignore_cache=ignore_cache)
        return [record for page in reversed(pages) for record in page], first

    def _from_id_walk(self, kwargs: dict[str, Any], ignore_cache: bool) -> tuple[Any, EsiResponse]:
        """Pages of records before ``from_id`` (wallet transactions style) until a page
        brings nothing new."""
        data, first = self._fetch(self._prepared, **kwargs, ignore_cache=ignore_cache)
        records = list(data or [])
        id_field = _id_field(self.operation, records)
        seen = {r.get(id_field) for r in records} if id_field else set()
        while id_field and data:
            lowest = min(r[id_field] for r in data if isinstance(r.get(id_field), int))
            data, _ = self._fetch(self._prepare_extra({"from_id": lowest}), **kwargs, ignore_cache=ignore_cache)
            new = [r for r in (data or []) if r.get(id_field) not in seen]
            if not new:
                break
            seen.update(r.get(id_field) for r in new)
            records.extend(new)
            data = new
        return records, first


def _x_pages(value: str | None) -> int:
    """The page count an ``X-Pages`` header announces: 1 when it is absent or not a
    positive whole number (``"-5"``, ``"1e3"``, ``"abc"``); a number too long to be one
    counts as more pages than any limit."""
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    return max(1, int(text)) if len(text) <= 18 else sys.maxsize


def _combine(pages: list[Any]) -> Any:
    if all(isinstance(page, list) for page in pages):
        return list(itertools.chain.from_iterable(pages))
    return pages[0] if len(pages) == 1 else pages


def _cursor_records(data: Any) -> tuple[list[Any], dict[str, Any] | None]:
    if isinstance(data, list):
        return data, None
    if not isinstance(data, dict):
        return [], None
    cursor = data.get("cursor") if isinstance(data.get("cursor"), dict) else None
    for name, value in data.items():
        if name != "cursor" and isinstance(value, list):
            return value, cursor
    return [], cursor


def _record_key(record: Any) -> Any:
    """What tells one record of a cursor walk from another: its ``id``, else its content."""
    if isinstance(record, dict):
        identifier = record.get("id")
        if isinstance(identifier, (str, int)) and not isinstance(identifier, bool):
            return ("id", identifier)
    return ("content", json.dumps(record, sort_keys=True, default=str))


def _id_field(operation: Operation, records: list[Any]) -> str | None:
    if not records or not isinstance(records[0], dict):
        return None
    segment = operation.path_name.rstrip("/").rsplit("/", 1)[-1]
    guess = segment[:-1] + "_id" if segment.endswith("s") else segment + "_id"
    if guess in records[0]:
        return guess
    return next((k for k, v in records[0].items() if k.endswith("_id") and isinstance(v, int)), None)


def _unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT without checking it: only to choose the cache owner and check
    scopes before sending; ESI verifies the token itself."""
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


#: Access token strings verified lately: SHA-256 of the token -> (character ID, or
#: ``None`` for one that did not verify, and until when that holds, epoch seconds).
#: Verifying a JWT costs a signature check, or a key set download; a token serves many calls.
_verified: OrderedDict[str, tuple[int | None, float]] = OrderedDict()
_verified_lock = threading.Lock()
_VERIFIED_KEPT = 1024
#: Seconds a token string that did not verify is not tried again (the key set may have
#: been unreachable: each try could wait for a download).
_UNVERIFIED_FOR = 60.0


def _verified_character(token: str) -> int | None:
    """The character of an access token string, once its JWT is verified against EVE
    SSO's keys (:func:`esi.sso.verify_access_token`); ``None`` for a token that does not
    verify (forged, expired, another application's) or while the key set cannot be
    fetched. Only a verified character may key private answers in the response cache."""
    import hashlib

    from . import sso
    from .errors import SSOUnavailableError, TokenVerificationError

    digest = hashlib.sha256(token.encode()).hexdigest()
    now = time.time()
    with _verified_lock:
        known = _verified.get(digest)
        if known is not None and known[1] > now:
            _verified.move_to_end(digest)
            return known[0]
    character: int | None
    try:
        claims = sso.verify_access_token(token)
        character, until = claims.character_id, claims.expires_at
    except (TokenVerificationError, SSOUnavailableError) as exc:
        logger.debug("Access token string not verified (%s): its answers are not cached", exc)
        character, until = None, now + _UNVERIFIED_FOR
    with _verified_lock:
        _verified[digest] = (character, until)
        while len(_verified) > _VERIFIED_KEPT:
            _verified.popitem(last=False)
    return character


#: Positional parameters of ``EsiClientProvider`` in django-esi 7.0.1 and in django-esi 10.0.0.
_POSITIONAL_7: tuple[str, ...] = ("datasource", "spec_file", "version", "app_info_text", "ua_appname", "ua_version", "ua_url")
_POSITIONAL_10: tuple[str, ...] = (
    "compatibility_date", "ua_appname", "ua_version", "ua_url", "spec_file", "tenant",
    "operations", "tags", "additional_spec_headers",
)
#: A tenant (``datasource``) as ESI names them: ``tranquility``, ``singularity``.
_TENANT = re.compile(r"[a-z][a-z0-9_-]{0,63}", re.ASCII)


def _positional_arguments(args: tuple[Any, ...]) -> dict[str, Any]:
    """Name the positional arguments of :class:`EsiClientProvider` by the order they were
    written for: django-esi 10's when the first is a compatibility date (a ``date`` or a
    ``YYYY-MM-DD`` string), django-esi 7's when it is ``None`` or a tenant name.

    Raises ``TypeError`` when the first argument fits neither, or there are more arguments
    than that order has.
    """
    first = args[0]
    if isinstance(first, datetime.date) or (isinstance(first, str) and _DATE.fullmatch(first)):
        order, release = _POSITIONAL_10, "django-esi 10"
    elif first is None or (isinstance(first, str) and _TENANT.fullmatch(first)):
        order, release = _POSITIONAL_7, "django-esi 7"
    else:
        raise TypeError(
            f"EsiClientProvider() cannot tell which positional order {first!r} starts: "
            "django-esi 10's (compatibility_date, ua_appname, ua_version, ...) takes a date "
            "or 'YYYY-MM-DD' first, django-esi 7's (datasource, spec_file, version, "
            "app_info_text, ...) a tenant such as 'tranquility'; pass keyword arguments"
        )
    if len(args) > len(order):
        raise TypeError(
            f"EsiClientProvider() takes at most {len(order)} positional arguments in "
            f"{release}'s order ({', '.join(order)}), {len(args)} were given"
        )
    return dict(zip(order, args))


class EsiClientProvider:
    """django-esi's entry point: a client built once, on first use, and shared by threads.

    Args:
        datasource: the tenant (``X-Tenant``; the ``datasource`` parameter on Swagger specs),
            default ``ESI_API_DATASOURCE``.
        spec_file: a local spec, OpenAPI 3.x or Swagger 2.0 (default: ``ESI_SPEC_FILE``, else
            the bundled OpenAPI 3.1 spec).
        version: legacy: a Swagger route version (``"latest"``, ``"v2"``, ...).
        app_info_text: your app's name and version for the User-Agent (``"myapp/1.2"``).
        compatibility_date: ``YYYY-MM-DD`` sent as ``X-Compatibility-Date`` (default
            ``ESI_COMPATIBILITY_DATE``, else the spec's date).
        ua_appname: your app's name for the User-Agent (django-esi 7.0.1 and 10).
        ua_version: your app's version, joined to ``ua_appname`` as ``name/version``.
        ua_url: a URL about your app, added to the User-Agent's comment.
        tenant: django-esi 10's name for ``datasource``.
        tags: django-esi 10's filter of the tags to load; accepted and not needed, as
            resources are built lazily, on first use.
        operations: django-esi 10's filter of the operations to load; as ``tags``.
        additional_spec_headers: django-esi 10's headers for downloading the spec;
            accepted and without effect, as the spec is bundled (or ``spec_file``).
        **resource_versions: legacy per-resource route versions, e.g. ``Universe="v1"``.

    Positional arguments follow django-esi 7.0.1's order (``datasource, spec_file, version,
    app_info_text, ua_appname, ua_version, ua_url``) or django-esi 10.0.0's
    (``compatibility_date, ua_appname, ua_version, ua_url, spec_file, tenant, operations,
    tags, additional_spec_headers``), told apart by the first one: a date or
    ``YYYY-MM-DD`` string starts django-esi 10's order, ``None`` or a tenant name
    (``"tranquility"``) django-esi 7's.

    ``compatibility_date`` may also be a ``datetime.date``.

    Raises:
        ValueError: a compatibility date that is not ``YYYY-MM-DD``.
        TypeError: a first positional argument that starts neither order, too many
            positional arguments, or a parameter given both by position and by keyword.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args:
            for name, value in _positional_arguments(args).items():
                if kwargs.get(name) is not None:
                    raise TypeError(f"EsiClientProvider() got multiple values for argument {name!r}")
                kwargs[name] = value
        self._init(**kwargs)

    def _init(
        self,
        datasource: str | None = None,
        spec_file: str | Path | None = None,
        version: str | None = None,
        app_info_text: str | None = None,
        compatibility_date: str | datetime.date | None = None,
        ua_appname: str | None = None,
        ua_version: str | None = None,
        ua_url: str | None = None,
        tenant: str | None = None,
        tags: Iterable[str] | None = None,
        operations: Iterable[str] | None = None,
        additional_spec_headers: dict[str, str] | None = None,
        **resource_versions: str,
    ) -> None:
        self._kwargs: dict[str, Any] = dict(
            datasource=datasource or tenant,
            spec_file=spec_file,
            version=version,
            app_info_text=app_info_text,
            compatibility_date=_compatibility_date(compatibility_date),
            ua_appname=ua_appname,
            ua_version=ua_version,
            ua_url=ua_url,
            **resource_versions,
        )
        self._client: EsiClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> EsiClient:
        """The :class:`EsiClient`, built on first access (thread-safe: once per provider)
        and shared by every thread. Raises what :func:`esi_client_factory` raises."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = esi_client_factory(**self._kwargs)
        return self._client

    def __str__(self) -> str:
        return "EsiClientProvider"


#: django-esi 10 spelling.
ESIClientProvider = EsiClientProvider

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def is_compatibility_date(text: str) -> bool:
    """Whether ``text`` is a calendar date written ``YYYY-MM-DD``, the form of
    ``X-Compatibility-Date`` (CCP "ESI API versioning")."""
    if not _DATE.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _compatibility_date(value: str | datetime.date | None) -> str | None:
    """``value`` as ``YYYY-MM-DD``; ``None`` (or ``""``) stays ``None``. Raises
    ``ValueError`` for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, str) and is_compatibility_date(value):
        return value
    raise ValueError(f"compatibility_date must be a date or 'YYYY-MM-DD', not {value!r}")


def esi_client_factory(
    token: Token | str | None = None,
    datasource: str | None = None,
    spec_file: str | Path | None = None,
    version: str | None = None,
    app_info_text: str | None = None,
    ua_appname: str | None = None,
    ua_version: str | None = None,
    ua_url: str | None = None,
    compatibility_date: str | datetime.date | None = None,
    app_url: str | None = None,
    **kwargs: str,
) -> EsiClient:
    """A client; with ``token`` every call authenticates with it (a ``Token`` is refreshed
    when needed). The arguments up to ``ua_url`` are django-esi 7.0.1's, in its order;
    they and ``compatibility_date`` mean what they mean for :class:`EsiClientProvider`.
    ``app_url`` is an older name of ``ua_url``; ``kwargs`` are per-resource route versions.

    Raises:
        SpecError: the spec cannot be loaded.
        UnknownResourceError: a resource version names no resource of the spec (an
            ``AttributeError``).
        ValueError: ``compatibility_date`` is not ``YYYY-MM-DD``.
    """
    if app_info_text is None and ua_appname:
        app_info_text = f"{ua_appname}/{ua_version}" if ua_version else ua_appname
    app_url = ua_url or app_url
    compatibility_date = _compatibility_date(compatibility_date)
    spec = load_spec(spec_file, None if spec_file else version)
    base_paths: dict[str, str] = {}
    if spec.format == "swagger20":
        # django-esi 7's default route version, for Swagger specs only.
        version = version or app_settings.ESI_API_VERSION
        if version and "/" + version.strip("/") != spec.base_path.rstrip("/"):
            base_paths = {name: version for name in spec.resource_names()}
    for resource, resource_version in kwargs.items():
        spec.resource(resource)  # raises for an unknown resource
        base_paths[spec.resource(resource).name] = resource_version
    config = _Config(
        spec=spec,
        datasource=datasource or app_settings.ESI_API_DATASOURCE,
        compatibility_date=(
            compatibility_date
            or _compatibility_date(app_settings.ESI_COMPATIBILITY_DATE)
            or spec.compatibility_date
            if spec.format == "openapi31"
            else None
        ),
        user_agent=user_agent(app_info_text, app_url),
        base_paths=base_paths,
        token=token,
    )
    return EsiClient(config)


def _after_fork() -> None:
    """The page pool's threads do not exist in a forked child: a child that submitted to
    the parent's pool would wait forever. Start the child without one, and without locks
    another thread held at fork time."""
    global _pages_executor, _executor_lock, _specs_lock, _verified_lock
    _pages_executor = None
    _executor_lock = threading.Lock()
    _specs_lock = threading.Lock()
    _verified_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)
