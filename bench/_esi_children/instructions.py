"""One process under callgrind: django-esi-ng (from ``PYTHONPATH``) makes ``runs``
``results()`` of the paged market orders (the Django cache emptied before each, so every
page is fetched and decoded) and ``calls`` cached ``GET /status`` calls, after a warm-up of
one of each. bench/instructions.py subtracts a run with neither to count their instructions.

    python instructions.py '<cfg JSON>'   # cfg: url, runs, calls
"""

import json
import sys

import _libs

cfg = json.loads(sys.argv[1])
cfg["lib"] = "ng"
_libs.setup_django(cfg)
client = _libs.build_client(cfg)
status = _libs.status_call(cfg, client)
_libs.clear_cache()
_libs.market_orders(cfg, client)
status()
for _ in range(cfg["runs"]):
    _libs.clear_cache()
    _libs.market_orders(cfg, client)
status()
for _ in range(cfg["calls"]):
    status()
