"""``kill -9`` in the middle of a refresh run: how many live tokens are lost, and why.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/kill_refresh.py
    ... --kills 5 --tokens 400 --latency 0.1 --after 120 --variant intent

Each round stores ``--tokens`` expired tokens (grants minted by the emulator, which rotates
refresh tokens and rejects a spent one with ``invalid_grant``, as EVE SSO may), starts a
child process that refreshes them with ``refresh_many`` (``ESI_REFRESH_CONCURRENCY`` 8,
MariaDB unless ``BENCH_DB`` says otherwise, the refresh journal in Redis), kills it with
SIGKILL once EVE SSO has answered ``--after`` refreshes, lets the refreshes still at EVE SSO
finish there, and refreshes every token again in this process. It prints, per round:

- ``at_sso``: refreshes EVE SSO carried out after the kill (their answers went nowhere);
- ``recovered``: tokens whose rotated refresh token the next run took from the journal;
- ``lost``: tokens the next run deleted on ``invalid_grant``: live grants whose refresh
  token only the killed process ever saw.

``--variant intent`` also writes a record of the refresh token about to be spent before
each request to EVE SSO (a two-phase journal) and counts the lost tokens it identifies.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import control, emulator_process, grants  # noqa: E402

SCOPES = ["esi-characters.read_notifications.v1"]

CHILD = r"""
import hashlib, os, sys
import django
django.setup()
from django.core.cache import cache
from esi import refresh, sso
from esi.models import Token

if os.environ["KILL_VARIANT"] == "intent":
    spend = refresh._spend

    def spend_with_intent(token, attempts):
        # Phase one: the refresh token about to be spent, before EVE SSO sees it.
        digest = hashlib.sha256((token.refresh_token or "").encode()).hexdigest()
        cache.set(f"esi:refresh-intent:{token.pk}", digest, 3600)
        return spend(token, attempts)

    refresh._spend = spend_with_intent

refresh.refresh_many(list(Token.objects.values_list("pk", flat=True)), concurrency=8)
print("finished before the kill", flush=True)
"""


def setup_database() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    name = connection.settings_dict["NAME"]
    if connection.vendor == "mysql":
        subprocess.run(["mysql", "-h127.0.0.1", "-uroot", "-e", f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"], check=True)
    elif connection.vendor == "postgresql":
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    connection.close()
    call_command("migrate", verbosity=0)
    from django.core.cache import cache

    cache.delete_pattern("*")  # this script's keys (KEY_PREFIX): another emulator's key set


def sso_stats(url: str) -> dict:
    return control(url, "/_emulator/state", method="GET")["sso"]["stats"]


def one_round(url: str, rows: list[dict], after: int, variant: str) -> dict:
    from django.core.cache import cache

    from esi import sso
    from esi.models import Token
    from esi.refresh import refresh_many

    Token.objects.all().delete()
    for row in rows:
        Token.objects.create_from_answer(row, sso.verify_access_token(row["access_token"]))
    Token.objects.update(expires_at="2000-01-01T00:00:00Z")
    cache.delete_pattern("esi:refresh-*")
    held = dict(Token.objects.values_list("pk", "refresh_token"))

    start = sso_stats(url)["refreshes"]
    env = {**os.environ, "KILL_VARIANT": variant}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True)
    while sso_stats(url)["refreshes"] - start < after and child.poll() is None:
        time.sleep(0.002)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    at_kill = sso_stats(url)["refreshes"]
    time.sleep(1)  # the refreshes still at EVE SSO are carried out there
    at_sso = sso_stats(url)["refreshes"] - at_kill

    journal = logging.getLogger("esi.refresh")
    recovered: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "using the journal's" in record.getMessage():
                recovered.append(record.getMessage())

    handler = Count()
    journal.addHandler(handler)
    try:
        summary = refresh_many(list(held), concurrency=8)
    finally:
        journal.removeHandler(handler)
    lost = summary.deleted_by_reason.get("invalid_grant", 0)
    result = {
        "refreshed_before_kill": at_kill - start,
        "at_sso": at_sso,
        "recovered": len(recovered),
        "lost": lost,
        "kept": summary.counts.get("kept", 0),
    }
    if variant == "intent":
        gone = set(held) - set(Token.objects.values_list("pk", flat=True))
        result["lost_identified_by_intent"] = sum(
            1
            for pk in gone
            if cache.get(f"esi:refresh-intent:{pk}") == hashlib.sha256(held[pk].encode()).hexdigest()
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=3, help="rounds, one kill each (default 3)")
    parser.add_argument("--tokens", type=int, default=400, help="tokens per round (default 400)")
    parser.add_argument("--after", type=int, default=120, help="kill once EVE SSO answered this many (default 120)")
    parser.add_argument("--latency", type=float, default=0.1, help="EVE SSO token endpoint latency, seconds")
    parser.add_argument("--variant", choices=["current", "intent"], default="current")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DB", "mariadb")
    os.environ.setdefault("BENCH_DB_NAME", "bench_esi_ng_kill")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if not os.environ.get("BENCH_REDIS_URL"):
        sys.exit("set BENCH_REDIS_URL: the journal must outlive the killed process")
    with emulator_process() as url:
        os.environ["EMULATOR_URL"] = url
        setup_database()
        control(url, "/_emulator/faults", {"target": "sso:token", "latency": args.latency})
        totals: dict[str, int] = {}
        for n in range(args.kills):
            rows = grants(url, args.tokens, SCOPES, first_character=95000000 + n * args.tokens)
            result = one_round(url, rows, args.after, args.variant)
            print(f"round {n + 1}: {result}", flush=True)
            for key, value in result.items():
                totals[key] = totals.get(key, 0) + value
        print(f"{args.kills} kills, {args.variant}: {totals}")


if __name__ == "__main__":
    main()
