"""Rate-limit pacing: N processes share one small ESI bucket; how many 429s do they draw?

    .venv/bin/python bench/pacing.py                      # 4 processes x 2 threads, 60/20s, 45 s
    .venv/bin/python bench/pacing.py --processes 8 --bucket 40/10s --seconds 30

The emulator (a process of its own) gives every rate-limit bucket the size ``--bucket``
(``Emulator(rate_limit=...)``) and keeps CCP's costs: a 2xx spends 2 tokens, which come
back one window later. ``--processes`` processes with ``--threads`` threads each call
``GET /incursions`` (public, so one per-IP bucket for all of them) as fast as they can for
``--seconds``, bypassing the response cache, on a site whose budgets live in Redis
(``--redis``, a database this script empties before each run). That is done twice:

* ``off``: ``ESI_RATE_LIMIT_PACE_BELOW = ESI_RATE_LIMIT_PACE_TOKENS = 0``, the client of
  before pacing: it reacts to a
  429 (blocks the bucket for ``Retry-After``, shared by every process) and stops when its own
  last ``Remaining`` is below the cost of a 2xx;
* ``on``: the defaults (paced at or below half of the bucket or 100 tokens, 5 % kept in
  reserve).

Printed per run: the 429s the emulator answered, the 200s, the 200s against the first run's
(what pacing costs in throughput: the reserve, and waits rounded up to the poll), the calls
that raised ``ESIBucketLimitException`` (a wait past ``ESI_RATE_LIMIT_MAX_WAIT``) and other
errors (a 429 the client's one retry did not get past). For scale, the bucket's nominal
2xx answers in that time: ``tokens / 2 x (1 + whole windows)``; the emulator admits a request
while any token is left and checks before it charges, so concurrent clients can get a few
more. The claim is the 429 column.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, control, emulator_process  # noqa: E402


def child(args: argparse.Namespace) -> None:
    """One site process: ``--threads`` threads calling until the deadline; prints JSON."""
    import django

    django.setup()
    from esi.clients import EsiClientProvider
    from esi.errors import ESIBucketLimitException, HTTPError

    client = EsiClientProvider().client
    operation = client.Incursions.GetIncursions
    counts = {"ok": 0, "bucket_limit": 0, "http_error": 0, "other": 0}
    lock = threading.Lock()
    start, stop = args.start, args.start + args.seconds

    def work() -> None:
        while time.time() < start:
            time.sleep(0.01)
        while time.time() < stop:
            try:
                operation().result(use_cache=False)
                outcome = "ok"
            except ESIBucketLimitException:
                outcome = "bucket_limit"
            except HTTPError:
                outcome = "http_error"
            except Exception:  # noqa: BLE001 - counted, the run goes on
                outcome = "other"
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(counts))


def run(args: argparse.Namespace, url: str, mode: str) -> dict[str, int]:
    import redis

    redis.Redis.from_url(args.redis).flushdb()
    control(url, "/_emulator/reset", {})
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "EMULATOR_URL": url,
        "BENCH_REDIS_URL": args.redis,
        "BENCH_PACING": mode,
    }
    start = time.time() + 8  # every child has set Django up and built its client by then
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                f"--start={start}",
                f"--seconds={args.seconds}",
                f"--threads={args.threads}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # the clients' 429 warnings; shown if a child fails
            text=True,
        )
        for _ in range(args.processes)
    ]
    totals = {"ok": 0, "bucket_limit": 0, "http_error": 0, "other": 0}
    for process in children:
        out, err = process.communicate(timeout=args.seconds + 300)
        if process.returncode:
            raise SystemExit(f"a child failed (exit {process.returncode}):\n{err}")
        for name, value in json.loads(out.strip().splitlines()[-1]).items():
            totals[name] += value
    statuses = control(url, "/_emulator/state", method="GET")["requests"]["esi_statuses"]
    return {**totals, "200": statuses.get("200", 0), "429": statuses.get("429", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bucket", default="60/20s", help="tokens/window of every bucket (emulator)")
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--redis", default=os.environ.get("BENCH_PACING_REDIS", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--modes", default="off,on")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from esi.emulator.spec import parse_rate_limit

    tokens, window, _ = parse_rate_limit(args.bucket)
    # Tokens spent at t come back at t + window: a full bucket, then one more per whole window.
    allowed = tokens // 2 * (1 + int(args.seconds // window))
    print(
        f"{args.processes} processes x {args.threads} threads, bucket {args.bucket}, {args.seconds:g} s "
        f"(nominally {allowed} 2xx answers in that time)"
    )
    print(f"{'pacing':<8}{'429s':>6}{'200s':>7}{'vs first':>10}{'raised':>8}{'errors':>8}")
    first = None
    with emulator_process(rate_limit=args.bucket) as url:
        for mode in args.modes.split(","):
            found = run(args, url, mode)
            first = first or found["200"]
            print(
                f"{mode:<8}{found['429']:>6}{found['200']:>7}{found['200'] / first:>10.2f}"
                f"{found['bucket_limit']:>8}{found['http_error'] + found['other']:>8}",
                flush=True,
            )


if __name__ == "__main__":
    main()
