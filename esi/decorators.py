"""View decorators that hand a view the tokens it needs, with django-esi's semantics.

- :func:`token_required`: one token the user picks (selection page), or a new one via SSO.
- :func:`tokens_required`: all of the logged-in user's valid tokens holding the scopes.
- :func:`single_use_token`: a fresh token from an SSO login, no site login needed.

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

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

from . import required_scopes, sso
from .models import CallbackRedirect, Token

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def _token_from_callback(request: HttpRequest, scopes: Any) -> Token | None:
    """The token a just-finished SSO login of this session produced, if it holds ``scopes``.

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
    if token is None or not Token.objects.filter(pk=token.pk).require_scopes(scopes).exists():
        logger.info("The token from the SSO login lacks the scopes %r", scopes)
        return None
    return token


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
