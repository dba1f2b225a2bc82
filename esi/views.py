"""EVE SSO views: start a login, receive the callback, pick a token.

The callback follows CCP's "SSO: Authorization flow" (developers.eveonline.com/docs/services/
sso/): the ``state`` must be the one issued to this session, it is usable once, and the code
is exchanged server side. Every failure answers with a page that says what went wrong and
stores nothing.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import sso
from .errors import (
    DjangoEsiException,
    SSOUnavailableError,
    TokenInvalidError,
    TokenVerificationError,
)
from .managers import CODE_VERIFIER_SESSION_KEY, process_scopes, unique_characters
from .models import CallbackRedirect, Token

logger = logging.getLogger(__name__)



def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return str(request.session.session_key)


def _is_safe_url(request: HttpRequest, url: str) -> bool:
    return url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def sso_error(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    """Render ``esi/sso_error.html`` (overridable) with ``message`` and ``status``, as an
    ``HttpResponseBadRequest`` for 400 (the class django-esi answered with)."""
    response_class = HttpResponseBadRequest if status == 400 else HttpResponse
    return response_class(render_to_string("esi/sso_error.html", {"message": message}, request), status=status)


def sso_redirect(
    request: HttpRequest, scopes: Any = None, return_to: str | None = None
) -> HttpResponse:
    """Send the browser to EVE SSO to log a character in.

    Records a :class:`~esi.models.CallbackRedirect` with an unguessable ``state`` bound to
    this session (one pending login per session; a new one replaces it).

    Args:
        scopes: ESI scopes to ask for (list or space-delimited string).
        return_to: where the callback sends the browser: a URL name, or a local path;
            default the current path.
    """
    if return_to:
        try:
            url = reverse(return_to)
        except NoReverseMatch:
            url = return_to if _is_safe_url(request, return_to) else "/"
    else:
        url = request.get_full_path()
    key = _session_key(request)
    auth = sso.authorization_url(sorted(process_scopes(scopes)), secrets.token_urlsafe(32))
    with transaction.atomic():
        CallbackRedirect.objects.filter(session_key=key).delete()
        CallbackRedirect.objects.create(session_key=key, state=auth.state, url=url)
    if auth.code_verifier:
        request.session[CODE_VERIFIER_SESSION_KEY] = auth.code_verifier
    return redirect(auth.url)


@never_cache
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """``esi:login``: start an EVE SSO login.

    Query: ``scopes`` (space-delimited, optional), ``next`` (a local path to return to,
    default ``/``). A ``next`` on another host is refused with 400.
    """
    next_url = request.GET.get("next") or "/"
    if not _is_safe_url(request, next_url):
        return sso_error(request, "The page to return to after login is not on this site.")
    return sso_redirect(request, scopes=request.GET.get("scopes", ""), return_to=next_url)


@never_cache
@require_GET
def receive_callback(request: HttpRequest) -> HttpResponse:
    """``esi:callback``: EVE SSO sends the browser here with ``code`` and ``state``
    (or ``error``). Exchanges the code, verifies the JWT, stores the token and redirects to
    the page that started the login."""
    state = request.GET.get("state")
    code = request.GET.get("code")
    # As django-esi: 400 without state or code (an error answer of EVE SSO has no code),
    # then 404 for a state this browser session has no pending login for.
    if not state:
        return sso_error(request, "The answer from EVE SSO has no state: the login cannot be trusted.")
    if not code and not request.GET.get("error"):
        return sso_error(request, "The answer from EVE SSO has no authorization code.")
    key = request.session.session_key
    pending = CallbackRedirect.objects.filter(session_key=key).first() if key else None
    if pending is None or not secrets.compare_digest(pending.state.encode(), state.encode()):
        return sso_error(
            request, "This login is unknown or belongs to another browser session. Please log in again.", status=404
        )
    if pending.token_id is not None:
        return sso_error(request, "This login was already completed. Please log in again.")
    if request.GET.get("error"):
        pending.delete()
        description = request.GET.get("error_description") or request.GET["error"]
        return sso_error(request, f"EVE SSO did not grant access: {description}", status=403)

    try:
        with sso.view_deadline():
            token = Token.objects.create_from_request(request)
    except SSOUnavailableError:
        logger.warning("EVE SSO unavailable during a callback", exc_info=True)
        pending.delete()
        return sso_error(request, "EVE SSO is not answering right now. Please try again in a few minutes.", status=503)
    except TokenVerificationError as exc:
        logger.warning("Rejected an access token from the callback: %s", exc)
        pending.delete()
        return sso_error(request, f"The token EVE SSO returned failed verification ({exc.reason}).", status=403)
    except (TokenInvalidError, DjangoEsiException) as exc:
        logger.warning("Code exchange failed: %s", exc)
        pending.delete()
        return sso_error(request, "EVE SSO refused the login. Please log in again.")
    pending.token = token
    pending.save(update_fields=["token"])
    return redirect(pending.url if _is_safe_url(request, pending.url) else "/")


def select_token(request: HttpRequest, scopes: Any = "", new: bool = False) -> HttpResponse:
    """The token selection page (``esi/select_token.html``) for ``token_required``: the
    user's valid tokens holding ``scopes``, one per character, and a button to add one."""
    with sso.view_deadline():
        valid = Token.objects.filter(user__pk=request.user.pk).require_scopes(scopes).require_valid()
    tokens = valid.order_by("character_name", "-created").prefetch_related("scopes")
    context = {"tokens": unique_characters(tokens), "scopes": sorted(process_scopes(scopes))}
    return render(request, "esi/select_token.html", context)
