"""View decorators that hand a view the tokens it needs, with django-esi's semantics, and
django-esi 10's decorators for tasks that call ESI.

- :func:`token_required`: one token the user picks (selection page), or a new one via SSO.
- :func:`tokens_required`: all of the logged-in user's valid tokens holding the scopes.
- :func:`single_use_token`: a fresh token from an SSO login, no site login needed.
- :func:`rate_limit_retry_task`, :func:`rate_limited_task`, :func:`esi_rate_limiter_bucketed`,
  :func:`wait_for_esi_errorlimit_reset`: for task functions, on Celery (when installed) or
  django-q2 (see :mod:`esi.task_engines`).

``scopes`` is a list of scope names or a space-delimited string. ``new=True`` always goes
through EVE SSO. A user can only ever be handed their own tokens (or the token their own
SSO login just produced): posting another user's token id, or an ownerless token's, fails.
Each decorator registers its scopes with :mod:`esi.required_scopes` when it decorates a view.

Expired tokens are refreshed before they are offered, with EVE SSO given
``ESI_SSO_VIEW_TIMEOUT`` seconds in all and tokens backing off after a failed refresh left
alone (:meth:`~esi.managers.TokenQueryset.require_valid`), so a hanging EVE SSO costs a page
a few seconds once, not a read timeout per token on every page.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from . import required_scopes, sso, task_engines
from .errors import ESIBucketLimitException, ESIErrorLimitException
from .exceptions import TaskBucketLimitException
from .models import CallbackRedirect, Token

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def _token_from_callback(request: HttpRequest, scopes: Any) -> Token | None:
    """The token a just-finished SSO login of this session produced, if it holds ``scopes``
    (``None``: whatever it holds).

    The pending login is consumed either way, so a token is handed over once.
    """
    key = request.session.session_key
    if not key:
        return None
    pending = (
        CallbackRedirect.objects.filter(session_key=key, token__isnull=False)
        .select_related("token")
        .first()
    )
    if pending is None:
        return None
    token = pending.token
    pending.delete()
    if token is None or (
        scopes is not None and not Token.objects.filter(pk=token.pk).require_scopes(scopes).exists()
    ):
        logger.info("The token from the SSO login lacks the scopes %r", scopes)
        return None
    return token


def _check_callback(request: HttpRequest) -> Token | None:
    """django-esi's helper for views that handle the SSO return themselves: the token this
    session's just-finished EVE SSO login produced (once), or ``None``. Creates the session
    if the request has none, as django-esi did."""
    if not request.session.session_key:
        request.session.create()
    return _token_from_callback(request, None)


def _selected_token(request: HttpRequest, scopes: Any) -> Token | None:
    """The token posted as ``_token`` if it is the user's own, valid and holds ``scopes``."""
    if not request.user.is_authenticated:
        return None
    raw = request.POST.get("_token", "")
    if not raw.isdigit():
        return None
    with sso.view_deadline():
        valid = Token.objects.filter(pk=int(raw), user__pk=request.user.pk).require_scopes(scopes).require_valid()
    return valid.first()


def _register(scopes: Any, view_func: View) -> None:
    """Record the view's scopes for the dashboard (see :mod:`esi.required_scopes`)."""
    source = f"{view_func.__module__}.{getattr(view_func, '__qualname__', repr(view_func))}"
    required_scopes.register(scopes, source)


def _sso(request: HttpRequest, scopes: Any) -> HttpResponse:
    from .views import sso_redirect

    return sso_redirect(request, scopes=scopes)


def tokens_required(scopes: Any = "", new: bool = False) -> Callable[[View], View]:
    """Call the view as ``view(request, tokens, ...)`` with a ``TokenQueryset`` of the
    logged-in user's valid tokens holding ``scopes``.

    Anonymous users are sent to the login page unless ``new``. Without matching tokens (or
    with ``new=True``) the user goes through EVE SSO and comes back with one token.
    """

    def decorator(view_func: View) -> View:
        _register(scopes, view_func)

        @wraps(view_func)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            token = _token_from_callback(request, scopes)
            if token is not None:
                return view_func(request, Token.objects.filter(pk=token.pk), *args, **kwargs)
            if not new:
                if not request.user.is_authenticated:
                    return redirect_to_login(request.get_full_path())
                with sso.view_deadline():
                    tokens = Token.objects.filter(user__pk=request.user.pk).require_scopes(scopes).require_valid()
                if tokens.exists():
                    return view_func(request, tokens, *args, **kwargs)
            return _sso(request, scopes)

        return wrapped

    return decorator


def token_required(scopes: Any = "", new: bool = False) -> Callable[[View], View]:
    """Call the view as ``view(request, token, ...)`` with one token holding ``scopes``.

    A logged-in user with matching tokens picks one on the selection page
    (``esi/select_token.html``), which posts ``_token`` (the token id) or ``_add`` (log in
    another character). Anonymous users, users without a matching token, and ``new=True``
    go through EVE SSO.
    """

    def decorator(view_func: View) -> View:
        _register(scopes, view_func)

        @wraps(view_func)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            token = _token_from_callback(request, scopes)
            if token is not None:
                return view_func(request, token, *args, **kwargs)
            if request.method == "POST":
                if request.POST.get("_add"):
                    return _sso(request, scopes)
                token = _selected_token(request, scopes)
                if token is not None:
                    return view_func(request, token, *args, **kwargs)
            if not new and request.user.is_authenticated:
                with sso.view_deadline():
                    valid = Token.objects.filter(user__pk=request.user.pk).require_scopes(scopes).require_valid()
                if valid.exists():
                    from .views import select_token

                    return select_token(request, scopes=scopes, new=new)
            return _sso(request, scopes)

        return wrapped

    return decorator


def single_use_token(scopes: Any = "", new: bool = False) -> Callable[[View], View]:
    """Call the view as ``view(request, token, ...)`` with a token from an EVE SSO login
    made for this request, whether or not the user is logged in to the site.
    ``new`` is accepted for django-esi compatibility: every call goes through SSO."""

    def decorator(view_func: View) -> View:
        _register(scopes, view_func)

        @wraps(view_func)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            token = _token_from_callback(request, scopes)
            if token is not None:
                return view_func(request, token, *args, **kwargs)
            return _sso(request, scopes)

        return wrapped

    return decorator


# --------------------------------------------------------------------------- task decorators

#: django-esi 10's name of the cache key its client set while the error limit was spent.
ERROR_LIMIT_CACHE_KEY = "esi_error_limit_reset"


def wait_for_esi_errorlimit_reset(
    cache_key: str = ERROR_LIMIT_CACHE_KEY, poll_interval: float = 1
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make the decorated function wait, before it runs, while ESI's error limit is spent
    (a 420 in the current window, or ``remain`` at or below ``ESI_ERROR_LIMIT_THRESHOLD``, as
    every process of the site has seen it: :func:`esi.http.budgets.error_limit_wait`) or
    while ``cache_key`` is set in the default cache (django-esi 10's flag).

    It checks every ``poll_interval`` seconds (never sleeping past the window's end).
    Waiting holds a worker; prefer :func:`rate_limit_retry_task`, which frees it.
    CCP: "ESI best practices: error limit".
    """

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from django.core.cache import cache

            from .http import budgets

            while True:
                left = budgets.error_limit_wait()
                flagged = cache.get(cache_key) is not None
                if left <= 0 and not flagged:
                    return func(*args, **kwargs)
                pause = min(float(poll_interval), left) if left > 0 else float(poll_interval)
                logger.warning("ESI error limit spent: %s waits %.1f s", func.__qualname__, pause)
                time.sleep(max(pause, 0.01))

        return wrapper

    return decorator


def esi_rate_limiter_bucketed(bucket: Any, raise_on_limit: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Spend one call of ``bucket`` (an :class:`esi.rate_limiting.ESIRateLimitBucket`,
    e.g. ``ESIRateLimitBucket.MARKET_DATA_HISTORY``) each time the decorated function runs.

    When the bucket is empty: raise :class:`~esi.errors.ESIBucketLimitException` (``reset``
    is the seconds to wait), or with ``raise_on_limit=False`` sleep until the bucket's
    window resets. Combine with :func:`rate_limit_retry_task` to retry a task later instead.
    """
    from .rate_limiting import ESIRateLimits, _bucket

    checked = _bucket(bucket)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ESIRateLimits.check_decr_bucket(checked, raise_on_limit)
            return func(*args, **kwargs)

        return wrapper

    return decorator


def rate_limit_retry_task(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run the task again later when ESI's error limit or a rate-limit bucket stops it
    (:class:`~esi.errors.ESIErrorLimitException`, :class:`~esi.errors.ESIBucketLimitException`
    with ``ESI_ERROR_LIMIT_BEHAVIOUR`` / ``ESI_RATE_LIMIT_BEHAVIOUR`` ``"raise"``), after the
    exception's ``reset`` seconds:

    - a bound Celery task (``@shared_task(bind=True)`` above this decorator) calls
      ``self.retry(countdown=reset)``, as in django-esi 10;
    - a django-q2 task (the function the worker runs) is scheduled once more ``reset``
      seconds from now, with the same arguments, and this run returns
      ``{"deferred": seconds, "schedule_id": id}``.

    Called outside a task, the exception propagates.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ESIBucketLimitException, ESIErrorLimitException) as exc:
            deferred = task_engines.retry_later(wrapper, args[0] if args else None, exc.reset)
            if deferred is None:
                raise
            return deferred

    return wrapper


def rate_limited_task(rate: str, keys: list[str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the decorated task at most at ``rate`` (``"100/15m"``, ``"10/s"``: evenly spaced,
    one run per window / count), across every worker of the site; ``keys`` names
    arguments that get a rate of their own per value (``keys=["character_id"]``).

    A run that comes too early is put off until its turn without counting as a retry: a
    bound Celery task through ``self.retry(countdown=...)``, a django-q2 task through a
    one-off schedule (returning ``{"deferred": ...}``); called outside a task it raises
    :class:`~esi.exceptions.TaskBucketLimitException`.

    Raises ``ValueError`` at once for a malformed ``rate``, ``TypeError`` for ``keys``
    naming no argument of the function.
    """
    from .rate_limiting import TaskRateLimitBucket, TaskRateLimits, _parse_rate, task_bucket_slug_key

    _parse_rate(rate)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        unknown = [key for key in keys or () if key not in signature.parameters]
        if unknown:
            raise TypeError(f"rate_limited_task(keys=...) names no argument of {func.__qualname__}: {unknown}")
        bound_first = next(iter(signature.parameters), None) == "self"

        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs)
            arguments.apply_defaults()
            task = arguments.arguments.get("self") if bound_first else None
            name = getattr(task, "name", None) or task_engines.dotted_path(wrapper)
            values = {k: v for k, v in arguments.arguments.items() if k != "self"}
            bucket = TaskRateLimitBucket.from_rate(task_bucket_slug_key(name, values, restrict_to=keys), rate)
            try:
                TaskRateLimits.check_bucket(bucket)
            except TaskBucketLimitException as exc:
                deferred = task_engines.retry_later(wrapper, task, exc.reset, count_attempt=False)
                if deferred is None:
                    raise
                return deferred
            return func(*args, **kwargs)

        return wrapper

    return decorator
