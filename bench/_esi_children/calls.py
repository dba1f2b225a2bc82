"""One process: ``results()`` of the paged market orders with and without server latency,
then the cached call.

    python calls.py '<cfg JSON>'

``cfg`` adds ``latency`` (seconds), ``repeats`` and ``cached_calls``. Each ``results()`` run
starts with an empty Django cache (so every page is fetched and decoded) and the first run
of each kind is a warm-up left out of the figures. A full garbage collection runs before
each timed run (not inside it). The cached call is the mean of
``cached_calls`` identical ``client.Status.<get_status>().result()`` after a first one; the
emulator's request count proves none of them reached it. Prints one JSON line.
"""

import gc
import json
import sys
import time

import _libs

cfg = json.loads(sys.argv[1])
url = cfg["url"]
_libs.setup_django(cfg)
client = _libs.build_client(cfg)
out = {}


def timed_results() -> tuple[list[float], int, int]:
    """Run times (warm-up left out), orders returned, ESI requests of the last run."""
    runs, count, requests = [], 0, 0
    for i in range(cfg["repeats"] + 1):
        _libs.clear_cache()
        before = _libs.esi_requests(url)
        # A full collection now, so that none lands inside the timed run: one takes about
        # 30 ms in these processes and otherwise falls into every third run or so, for
        # every library alike (timeit turns the collector off for the same reason).
        gc.collect()
        t0 = time.perf_counter()
        orders = _libs.market_orders(cfg, client)
        elapsed = time.perf_counter() - t0
        count, requests = len(orders), _libs.esi_requests(url) - before
        if i:
            runs.append(elapsed)
    return runs, count, requests


_libs.control(url, "/_emulator/faults", method="DELETE")
_libs.control(url, "/_emulator/faults", {"target": "esi", "latency": cfg["latency"]})
try:
    out["orders_latency"], out["orders_count"], out["orders_requests"] = timed_results()
finally:
    _libs.control(url, "/_emulator/faults", method="DELETE")
out["orders_cpu"], _, _ = timed_results()

_libs.clear_cache()
call = _libs.status_call(cfg, client)
call()
before = _libs.esi_requests(url)
n = cfg["cached_calls"]
t0 = time.perf_counter()
for _ in range(n):
    call()
out["cached"] = (time.perf_counter() - t0) / n
out["cached_requests"] = _libs.esi_requests(url) - before
if cfg["lib"] == "10":
    # The default result() stores the ETag too; the next identical call raises 304.
    _libs.clear_cache()
    default = _libs.status_call_default_10(client)
    default()
    t0 = time.perf_counter()
    for _ in range(n):
        default()
    out["cached_default_304"] = (time.perf_counter() - t0) / n
print(json.dumps(out))
