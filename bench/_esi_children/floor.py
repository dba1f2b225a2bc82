"""Fresh process: the memory floor under a library's figure, without the library.

    python floor.py '<cfg JSON>'

Sets Django up exactly as build.py does for ``cfg["lib"]`` but with ``esi`` left out of
``INSTALLED_APPS``, then imports the HTTP library that library's client sends with
(requests for django-esi-ng and 7.0.1, httpx2 for 10.0.0) and nothing else. Its peak RSS is
what any ESI client on that stack pays before its own first byte; build.py's peak RSS minus
this is the client's own cost. Prints one JSON line: ``rss_peak_kb`` and ``modules``.
"""

import json
import os
import sys

import _libs

cfg = json.loads(sys.argv[1])
if cfg["lib"] == "ng":
    # bench/settings.py without esi (django_q stays: the ng figure has it too).
    import importlib

    from django.conf import settings

    module = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    names = {name: getattr(module, name) for name in dir(module) if name.isupper()}
    names["INSTALLED_APPS"] = [app for app in names["INSTALLED_APPS"] if app != "esi"]
    del os.environ["DJANGO_SETTINGS_MODULE"]
    settings.configure(**names)
    import django

    django.setup()
else:
    _libs.setup_django(cfg, without_esi=True)
if cfg["lib"].startswith("10"):
    import httpx2  # noqa: F401  (the httpx fork 10.0.0 sends with)
else:
    import requests  # noqa: F401
print(json.dumps({"rss_peak_kb": _libs.max_rss_kb(), "modules": len(sys.modules)}))
