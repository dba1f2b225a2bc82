"""Fresh process: build a client for the full spec and make one call (``GET /status``).

    python build.py '<cfg JSON>'

Prints one JSON line: ``seconds`` from before importing the client module to after the
first call returned, ``setup_seconds`` for ``django.setup()`` before that, ``rss_base_kb``
(peak RSS after ``django.setup()``, before the client module is imported) and
``rss_peak_kb`` (peak RSS of the process after the call), and whether ``django.setup()``
had already imported the client module (its import cost would then be missed).
"""

import json
import sys
import time

import _libs

cfg = json.loads(sys.argv[1])
started = time.perf_counter()
_libs.setup_django(cfg)
module = "esi.openapi_clients" if cfg["lib"].startswith("10") else "esi.clients"
preloaded = module in sys.modules
rss_base = _libs.max_rss_kb()
t0 = time.perf_counter()
client = _libs.build_client(cfg)
status = _libs.status_call(cfg, client)()
seconds = time.perf_counter() - t0
rss_peak = _libs.max_rss_kb()
print(json.dumps({
    "seconds": seconds,
    "setup_seconds": t0 - started,
    "rss_base_kb": rss_base,
    "rss_peak_kb": rss_peak,
    "preloaded": preloaded,
    "status": repr(status)[:200],
}))
