"""How each compared library is set up and called, for the child scripts of bench/client.py.

Imported by scripts that run inside three different virtualenvs (django-esi-ng's own, and
bench/.venvs/django-esi-7 and bench/.venvs/django-esi-10), so it uses the standard library
only at import time and never puts the repository on ``sys.path`` for django-esi 7 / 10
(their ``esi`` package would be shadowed by ours).

``cfg`` is the JSON the driver passes: ``lib`` (``ng``, ``7``, ``10`` or ``10f``), ``url``
(the emulator this library talks to) and ``spec_file`` (7 and 10 only: a copy of the spec
whose server is the emulator).
"""

from __future__ import annotations

import json
import resource
import urllib.request
from typing import Any, Callable

REGION_ID = 10000002  # The Forge
LIBS = ("ng", "7", "10", "10f")
#: django-esi 10.0.0's filtered variant: the tags a Market/Status app would declare.
FILTERED_TAGS = ["Market", "Status"]


def max_rss_kb() -> int:
    """Peak resident set size of this process so far (KB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def setup_django(cfg: dict[str, Any], without_esi: bool = False) -> None:
    """Configure and set up Django as a site using this library would (``without_esi``:
    the same site without the library's app, for the memory floor)."""
    import django

    lib = cfg["lib"]
    if lib == "ng":
        # bench/settings.py (DJANGO_SETTINGS_MODULE and EMULATOR_URL set by the driver).
        django.setup()
        return
    from django.conf import settings

    common: dict[str, Any] = dict(
        SECRET_KEY="bench",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "esi",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        ESI_SSO_CLIENT_ID="bench-client-id",
        ESI_SSO_CLIENT_SECRET="bench-client-secret",
        ESI_SSO_CALLBACK_URL="http://127.0.0.1/sso/callback/",
        ESI_USER_CONTACT_EMAIL="bench@example.com",
        ESI_SSO_BASE_URL=cfg["url"] + "/v2/oauth",
        # Only used by 10.0.0 to download its spec (we pass spec_file) and by 7.0.1's
        # authenticator (unused: no token, no datasource); requests follow the spec's server.
        ESI_API_URL=cfg["url"] + "/",
    )
    if lib.startswith("10"):
        # 10.0.0 calls django-redis methods on the cache: same locmem, with those added.
        common["CACHES"] = {"default": {"BACKEND": "_locmem_plus.LocMemPlusCache"}}
    if lib == "10":
        # 10.0.0 raises AttributeError for a client without tags/operations filter unless
        # DEBUG is on (esi/aiopenapi3/plugins.py MinifySpec); the figure is unfiltered.
        common["DEBUG"] = True
    if without_esi:
        common["INSTALLED_APPS"] = [app for app in common["INSTALLED_APPS"] if app != "esi"]
    settings.configure(**common)
    django.setup()


def build_client(cfg: dict[str, Any]) -> Any:
    """Import the client module and build a client for the full spec (10f: filtered)."""
    lib = cfg["lib"]
    if lib == "ng":
        from esi.clients import EsiClientProvider

        return EsiClientProvider(app_info_text="bench").client
    if lib == "7":
        from esi.clients import EsiClientProvider

        return EsiClientProvider(spec_file=cfg["spec_file"], app_info_text="bench").client
    from esi.openapi_clients import ESIClientProvider

    tags = FILTERED_TAGS if lib == "10f" else None
    return ESIClientProvider(
        compatibility_date=cfg["compatibility_date"],
        ua_appname="bench",
        ua_version="1.0.0",
        spec_file=cfg["spec_file"],
        tags=tags,
    ).client


def status_call(cfg: dict[str, Any], client: Any) -> Callable[[], Any]:
    """A function making the ``GET /status`` call the way an app would, cache included."""
    if cfg["lib"] in ("ng", "7"):
        return lambda: client.Status.get_status().result()
    return lambda: client.Status.GetStatus().result(use_etag=False)


def status_call_default_10(client: Any) -> Callable[[], Any]:
    """django-esi 10.0.0's default ``result()`` (``use_etag=True``): on a cache hit whose
    ETag is stored too, it raises ``HTTPNotModified`` instead of returning the data."""
    from esi.exceptions import HTTPNotModified

    def call() -> Any:
        try:
            return client.Status.GetStatus().result()
        except HTTPNotModified:
            return None

    return call


def market_orders(cfg: dict[str, Any], client: Any) -> list[Any]:
    """All pages of the region's market orders."""
    if cfg["lib"] in ("ng", "7"):
        op = client.Market.get_markets_region_id_orders(region_id=REGION_ID, order_type="all")
    else:
        op = client.Market.GetMarketsRegionIdOrders(region_id=REGION_ID, order_type="all")
    return op.results()


def clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()


def control(url: str, path: str, payload: dict[str, Any] | None = None, method: str = "POST") -> Any:
    """The emulator's control API, with the standard library only."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(
        url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else {}


def esi_requests(url: str) -> int:
    """ESI requests the emulator has received (its request log holds them all here)."""
    return int(control(url, "/_emulator/state", method="GET")["requests"]["esi"])
