"""The demo site's pages: log in with EVE Online, then look at the token a decorated view got."""

from django.contrib.auth import get_user_model, login, logout
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from esi.decorators import token_required

#: What the token page asks for: a scope that shows the selection page and SSO at work.
DEMO_SCOPES = ["esi-characters.read_notifications.v1", "esi-mail.read_mail.v1"]


def home(request):
    tokens = []
    if request.user.is_authenticated:
        tokens = request.user.token_set.prefetch_related("scopes").order_by("character_name")
    return render(request, "demo/home.html", {"tokens": tokens, "demo_scopes": DEMO_SCOPES})


@token_required(new=True, scopes="publicData")
def sso_login(request, token):
    """Log the site user in as the character, as community sites do with EVE SSO."""
    user, _ = get_user_model().objects.get_or_create(username=f"character-{token.character_id}")
    if user.first_name != token.character_name:
        user.first_name = token.character_name
        user.save(update_fields=["first_name"])
    if token.user_id is None:
        token.user = user
        token.save(update_fields=["user"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("demo:home")


@require_POST
def logout_view(request):
    logout(request)
    return redirect("demo:home")


@token_required(scopes=DEMO_SCOPES)
def show_token(request, token):
    if request.user.is_authenticated and token.user_id is None:
        token.user = request.user
        token.save(update_fields=["user"])
    return render(
        request,
        "demo/token.html",
        {"token": token, "scopes": sorted(s.name for s in token.scopes.all())},
    )
