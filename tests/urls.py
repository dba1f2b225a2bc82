from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from esi.decorators import _check_callback, single_use_token, token_required, tokens_required
from esi.views import sso_redirect

NOTIFICATIONS = "esi-characters.read_notifications.v1"
MAIL = "esi-mail.read_mail.v1"


def _describe(token):
    return {
        "id": token.pk,
        "character_id": token.character_id,
        "character_name": token.character_name,
        "scopes": sorted(s.name for s in token.scopes.all()),
    }


@token_required(scopes=NOTIFICATIONS)
def one(request: HttpRequest, token) -> HttpResponse:
    return JsonResponse(_describe(token))


@token_required(scopes=[NOTIFICATIONS, MAIL], new=True)
def one_new(request: HttpRequest, token) -> HttpResponse:
    return JsonResponse(_describe(token))


@tokens_required(scopes=NOTIFICATIONS)
def many(request: HttpRequest, tokens) -> HttpResponse:
    return JsonResponse({"tokens": [_describe(t) for t in tokens.order_by("pk")]})


@single_use_token(scopes=NOTIFICATIONS)
def single(request: HttpRequest, token) -> HttpResponse:
    return JsonResponse(_describe(token))


@tokens_required(scopes=NOTIFICATIONS, new=True)
def many_new(request: HttpRequest, tokens) -> HttpResponse:
    return JsonResponse({"tokens": [_describe(t) for t in tokens.order_by("pk")]})


@single_use_token(scopes=NOTIFICATIONS, new=True)
def single_new(request: HttpRequest, token) -> HttpResponse:
    return JsonResponse(_describe(token))


def own_callback(request: HttpRequest) -> HttpResponse:
    """A view that handles the SSO return itself, as Alliance Auth's mumble links do."""
    token = _check_callback(request)
    if token is not None:
        return JsonResponse(_describe(token))
    return sso_redirect(request, scopes=["publicData"])


urlpatterns = [
    path("admin/", admin.site.urls),
    path("sso/", include("esi.urls", namespace="esi")),
    path("one/", one, name="one"),
    path("one-new/", one_new, name="one-new"),
    path("many/", many, name="many"),
    path("single/", single, name="single"),
    path("many-new/", many_new, name="many-new"),
    path("single-new/", single_new, name="single-new"),
    path("own-callback/", own_callback, name="own-callback"),
]
