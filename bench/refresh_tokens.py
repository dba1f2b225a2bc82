"""Refreshing many expired tokens: django-esi-ng's ``cleanup_token`` against django-esi
7.0.1's ``bulk_refresh``, on the same emulator, with the same SSO latency, in one run.

    .venv/bin/python bench/refresh_tokens.py                 # 10,000 tokens, 20 ms SSO latency
    .venv/bin/python bench/refresh_tokens.py --tokens 1000 --esi7-tokens 200
    BENCH_DB=sqlite .venv/bin/python bench/refresh_tokens.py
    .venv/bin/python bench/refresh_tokens.py --esi7-tokens 0 --concurrency 4,8,16,24,32
    BENCH_REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/refresh_tokens.py \
        --esi7-tokens 0 --concurrency 16 --clusters 2 --cap 16

``--concurrency`` times ``cleanup_token`` once per ``ESI_REFRESH_CONCURRENCY`` value, each on
fresh grants, without the site-wide cap (``ESI_SSO_MAX_CONCURRENT_REFRESHES``), and prints
tokens per second and the most refreshes the emulator had in flight at once.
``--clusters N --cap C`` runs N processes at once (as N django-q2 clusters would), each
refreshing its share of the tokens at ``--concurrency``, with the cap C in a shared Redis
cache (``BENCH_REDIS_URL``), and prints the emulator's peak: never more than C.

Both libraries run on PostgreSQL (databases bench_esi_ng and bench_esi_7 on 127.0.0.1) unless
BENCH_DB=sqlite: on SQLite django-esi-ng refreshes one token at a time by design (one write
lock), so the concurrency figure is PostgreSQL's.

django-esi 7.0.1 is installed from PyPI into bench/.venvs/django-esi-7 on first use. It
refreshes one token at a time and downloads the JWKS for each one; its JWKS URL is
hard-coded to CCP's, so the harness points it at the emulator (the only change made to it).
Prints the figures and the ratios; absolute times vary with the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import control, emulator_process, grants, ratio, venv_python  # noqa: E402

SCOPES = ["esi-characters.read_notifications.v1", "esi-mail.read_mail.v1"]

ESI7_CHILD = r"""
import json, os, sys, time
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="bench", USE_TZ=True,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "esi"],
    DATABASES={"default": json.loads(sys.argv[2])},
    ESI_SSO_CLIENT_ID="bench-client-id", ESI_SSO_CLIENT_SECRET="bench-client-secret",
    ESI_SSO_CALLBACK_URL="http://127.0.0.1/cb/", ESI_USER_CONTACT_EMAIL="bench@example.com",
    ESI_SSO_BASE_URL=sys.argv[3] + "/v2/oauth",
    LOGGING_CONFIG=None,
)
django.setup()
from django.core.management import call_command
from esi import app_settings
from esi.models import Token
app_settings.ESI_TOKEN_JWK_SET_URL = sys.argv[3] + "/oauth/jwks"  # hard-coded to CCP's in 7.0.1
call_command("migrate", verbosity=0)
rows = json.load(open(sys.argv[1]))
Token.objects.bulk_create([
    Token(character_id=r["character_id"], character_name=f"Character {r['character_id']}",
          character_owner_hash=r["owner"], access_token=r["access_token"], refresh_token=r["refresh_token"])
    for r in rows
])
Token.objects.update(created="2000-01-01T00:00:00Z")
started = time.perf_counter()
refreshed = Token.objects.all().bulk_refresh().count()
print(json.dumps({"seconds": time.perf_counter() - started, "refreshed": refreshed,
                  "remaining": Token.objects.count()}))
"""


def ours(url: str, rows: list[dict], probe: list[dict]) -> dict:
    os.environ["EMULATOR_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    if os.environ.get("BENCH_DB") == "postgresql":
        name = os.environ.get("BENCH_DB_NAME", "bench_esi_ng")
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created

    from esi import sso, tasks
    from esi.models import Token

    from esi.refresh import refresh_many

    if connection.vendor == "sqlite":
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)
    # A Redis cache outlives the run: an earlier emulator's key set must not be reused.
    from django.core.cache import cache

    cache.clear()
    call_command("migrate", verbosity=0)

    def store(batch: list[dict]) -> None:
        for row in batch:
            Token.objects.create_from_answer(row, sso.verify_access_token(row["access_token"]))
        Token.objects.update(expires_at="2000-01-01T00:00:00Z")

    # SQL statements per token, in every thread of the run (the run's threads open their own
    # connections), on two sizes: the difference is per token. An executemany counts once
    # per row it updates; BEGIN and COMMIT are not statements here.
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += len(params) if many else 1
        return execute(sql, params, many, context)

    def install(sender, connection, **kwargs):
        connection.execute_wrappers.append(count)

    connection_created.connect(install)
    connection.execute_wrappers.append(count)
    counts = []
    try:
        # Each size gets unspent grants: a refreshed grant's refresh token is rotated away.
        for batch in (probe[:200], probe[200:600]):
            Token.objects.all().delete()
            store(batch)
            ids = list(Token.objects.values_list("pk", flat=True))
            statements[0] = 0
            refresh_many(ids)
            counts.append((len(batch), statements[0]))
    finally:
        connection_created.disconnect(install)
        connection.execute_wrappers.remove(count)
    (n1, q1), (n2, q2) = counts
    per_token = (q2 - q1) / (n2 - n1)

    Token.objects.all().delete()
    store(rows)
    started = time.perf_counter()
    summary = tasks.cleanup_token()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "summary": summary, "queries_per_token": per_token, "database": connection.vendor}


def sweep(url: str, concurrencies: list[int], tokens: int, latency: float) -> list[tuple[int, float, int]]:
    """``(concurrency, tokens per second, peak refreshes in flight)`` of ``cleanup_token`` on
    ``tokens`` fresh grants for each ``ESI_REFRESH_CONCURRENCY``, without the site-wide cap.
    Django is set up already (:func:`ours`)."""
    from django.conf import settings

    from esi import sso, tasks
    from esi.models import Token

    results = []
    for run, concurrency in enumerate(concurrencies):
        rows = grants(url, tokens, SCOPES, first_character=80_000_000 + run * 100_000)
        Token.objects.all().delete()
        for row in rows:
            Token.objects.create_from_answer(row, sso.verify_access_token(row["access_token"]))
        Token.objects.update(expires_at="2000-01-01T00:00:00Z")
        control(url, "/_emulator/reset", {})
        control(url, "/_emulator/faults", {"target": "sso:token", "latency": latency})
        settings.ESI_REFRESH_CONCURRENCY = concurrency
        settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = None
        started = time.perf_counter()
        summary = tasks.cleanup_token()
        seconds = time.perf_counter() - started
        peak = control(url, "/_emulator/state", method="GET")["sso"]["stats"]["token_peak"]
        if summary["refreshed"] != tokens:
            sys.exit(f"concurrency {concurrency}: {summary}")
        results.append((concurrency, tokens / seconds, peak))
        print(f"  concurrency {concurrency:3d}: {tokens} tokens in {seconds:5.1f} s, {tokens / seconds:5.0f} tokens/s, "
              f"peak {peak} refreshes in flight", flush=True)
    return results


CLUSTER_CHILD = r"""
import json, os, sys, time
import django
django.setup()
from django.conf import settings
from esi.refresh import refresh_many
settings.ESI_REFRESH_CONCURRENCY = int(sys.argv[2])
settings.ESI_SSO_MAX_CONCURRENT_REFRESHES = int(sys.argv[3]) or None
ids = json.loads(open(sys.argv[1]).read())
started = time.perf_counter()
summary = refresh_many(ids)
print(json.dumps({"seconds": time.perf_counter() - started, "refreshed": summary.counts["refreshed"]}))
"""


def clusters(url: str, count: int, concurrency: int, cap: int, tokens: int, latency: float) -> None:
    """``count`` processes refreshing their share of ``tokens`` at once, each with
    ``concurrency`` threads, under the site-wide ``cap`` in the shared cache."""
    from esi import sso
    from esi.models import Token

    rows = grants(url, tokens, SCOPES, first_character=70_000_000)
    Token.objects.all().delete()
    for row in rows:
        Token.objects.create_from_answer(row, sso.verify_access_token(row["access_token"]))
    Token.objects.update(expires_at="2000-01-01T00:00:00Z")
    ids = list(Token.objects.order_by("pk").values_list("pk", flat=True))
    control(url, "/_emulator/reset", {})
    control(url, "/_emulator/faults", {"target": "sso:token", "latency": latency})
    env = {**os.environ, "EMULATOR_URL": url, "DJANGO_SETTINGS_MODULE": "bench.settings",
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with tempfile.TemporaryDirectory() as tmp:
        children = []
        for n in range(count):
            share = Path(tmp) / f"ids-{n}.json"
            share.write_text(json.dumps(ids[n::count]))
            children.append(subprocess.Popen(
                [sys.executable, "-c", CLUSTER_CHILD, str(share), str(concurrency), str(cap)],
                env=env, stdout=subprocess.PIPE, text=True,
            ))
        started = time.perf_counter()
        outcomes = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
        seconds = time.perf_counter() - started
    peak = control(url, "/_emulator/state", method="GET")["sso"]["stats"]["token_peak"]
    refreshed = sum(o["refreshed"] for o in outcomes)
    print(
        f"{count} processes x {concurrency} threads under a cap of {cap or 'none'}: {refreshed} of {tokens} tokens "
        f"refreshed in {seconds:.1f} s ({refreshed / seconds:.0f} tokens/s); peak {peak} refreshes in flight at EVE SSO"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=10_000, help="tokens for django-esi-ng (default 10,000)")
    parser.add_argument("--esi7-tokens", type=int, default=10_000, help="tokens for django-esi 7.0.1 (0 skips it)")
    parser.add_argument("--latency", type=float, default=0.020, help="SSO token endpoint latency, seconds")
    parser.add_argument(
        "--concurrency", help="comma-separated ESI_REFRESH_CONCURRENCY values to time cleanup_token with (a sweep)"
    )
    parser.add_argument("--clusters", type=int, default=0, help="processes refreshing at once (with --cap)")
    parser.add_argument("--cap", type=int, default=16, help="ESI_SSO_MAX_CONCURRENT_REFRESHES for --clusters")
    args = parser.parse_args()
    os.environ.setdefault("BENCH_DB", "postgresql")
    if args.clusters and not os.environ.get("BENCH_REDIS_URL"):
        sys.exit("--clusters needs BENCH_REDIS_URL: the cap lives in a cache the processes share")

    with emulator_process() as url:
        control(url, "/_emulator/faults", {"target": "sso:token", "latency": args.latency})
        print(f"minting {args.tokens + args.esi7_tokens + 600} grants at {url} ...", flush=True)
        rows = grants(url, args.tokens, SCOPES)
        probe = grants(url, 600, SCOPES, first_character=96000000)
        mine = ours(url, rows, probe)
        summary = mine["summary"]
        if args.concurrency:
            print(f"cleanup_token by ESI_REFRESH_CONCURRENCY, {args.tokens} tokens each, {args.latency * 1000:.0f} ms SSO latency:")
            sweep(url, [int(c) for c in args.concurrency.split(",")], args.tokens, args.latency)
        if args.clusters:
            clusters(url, args.clusters, int((args.concurrency or "16").split(",")[-1]), args.cap, args.tokens, args.latency)
        print(
            f"django-esi-ng cleanup_token: {args.tokens} tokens in {mine['seconds']:.1f} s "
            f"({args.tokens / mine['seconds']:.0f} tokens/s) on {mine['database']}, "
            f"{summary['refreshed']} refreshed, {summary['deleted']} deleted, {summary['kept']} kept; "
            f"{mine['queries_per_token']:.2f} SQL statements per token (200 and 400 tokens)"
        )
        projected = mine["seconds"] * 10_000 / args.tokens
        print(
            f"goal: 10,000 tokens in under 60 s: {projected:.1f} s"
            f"{'' if args.tokens == 10_000 else ' (projected from this run)'}, "
            f"{'met' if projected < 60 else 'NOT met'}"
        )
        if args.esi7_tokens:
            postgresql = mine["database"] == "postgresql"
            if postgresql:
                # The same database engine as django-esi-ng's run, in a database of its own.
                python = venv_python(
                    "django-esi-7-pg", ["django-esi==7.0.1", "Django>=5.2,<6", "psycopg[binary]>=3.1"]
                )
                for sql in ("DROP DATABASE IF EXISTS bench_esi_7", "CREATE DATABASE bench_esi_7"):
                    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
            else:
                python = venv_python("django-esi-7", ["django-esi==7.0.1", "Django>=5.2,<6"])
            theirs_rows = grants(url, args.esi7_tokens, SCOPES, first_character=97000000)
            with tempfile.TemporaryDirectory() as tmp:
                data = Path(tmp) / "grants.json"
                data.write_text(json.dumps([{**r, "owner": _owner(r)} for r in theirs_rows]))
                database = (
                    {"ENGINE": "django.db.backends.postgresql", "NAME": "bench_esi_7", "USER": "postgres", "HOST": "127.0.0.1"}
                    if postgresql
                    else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(Path(tmp) / "db.sqlite3")}
                )
                env = {**os.environ, "OAUTHLIB_INSECURE_TRANSPORT": "1", "PYTHONWARNINGS": "ignore"}
                env.pop("DJANGO_SETTINGS_MODULE", None)
                out = subprocess.run(
                    [str(python), "-c", ESI7_CHILD, str(data), json.dumps(database), url],
                    env=env, capture_output=True, text=True, cwd=tmp,
                )
                if out.returncode:
                    sys.exit(f"django-esi 7.0.1 run failed:\n{out.stderr[-3000:]}")
                theirs = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"django-esi 7.0.1 bulk_refresh: {args.esi7_tokens} tokens in {theirs['seconds']:.1f} s "
                f"({args.esi7_tokens / theirs['seconds']:.0f} tokens/s) on {mine['database']}, "
                f"{theirs['refreshed']} refreshed"
            )
            per_ours = mine["seconds"] / args.tokens
            per_theirs = theirs["seconds"] / args.esi7_tokens
            print(f"ratio (time per token, django-esi 7.0.1 / django-esi-ng): {ratio(per_theirs, per_ours)}")


def _owner(row: dict) -> str:
    import jwt

    return str(jwt.decode(row["access_token"], options={"verify_signature": False})["owner"])


if __name__ == "__main__":
    main()
