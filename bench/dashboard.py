"""The dashboard's pages on a large site: 100,000 tokens holding 400,000 scopes (or more).

    .venv/bin/python bench/dashboard.py                    # SQLite (a file in the temp directory)
    BENCH_DB=postgresql .venv/bin/python bench/dashboard.py
    BENCH_DB=mariadb .venv/bin/python bench/dashboard.py --tokens 1000000 --reuse
    .venv/bin/python bench/dashboard.py --tokens 20000 --runs 3

Builds the data set with bulk inserts (20,000 users, 70,000 characters, 60 scopes with a
skewed popularity, access tokens of a real JWT's length, every expiry state, failing and
backing-off tokens, 2,000 recorded deletions; 5,000 rate-limit buckets, six hours of
error-limit history and 100 recent 420/429 answers), then requests each page as a logged-in
superuser through Django's test client (middleware, session, templates included) and prints
the median time and the number of SQL queries per page. The goal (issue 12): under 150 ms
and at most 10 queries per page at 1,000,000 tokens on PostgreSQL and MariaDB.

``BENCH_DB=postgresql`` or ``mariadb`` uses the database ``bench_esi_ng_dashboard`` (or
``BENCH_DB_NAME``) on 127.0.0.1, dropped and created unless ``--reuse`` finds it holding the
data set asked for; the default is a SQLite file (``BENCH_SQLITE`` names it). Absolute times
vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Goal of issue 12, per page, at 1,000,000 tokens.
GOAL_MS = 150
GOAL_QUERIES = 10
#: ``BENCH_DB_NAME`` names the database (or the SQLite file's stem), so that two people
#: sharing a database server do not drop each other's data set.
DATABASE = os.environ.get("BENCH_DB_NAME", "bench_esi_ng_dashboard")


def configure(fresh: bool = True) -> None:
    """Django settings: the admin with both apps, ``BENCH_DB`` choosing the database, which
    is emptied first when ``fresh``."""
    from django.conf import settings

    backend = os.environ.get("BENCH_DB", "sqlite")
    if backend == "postgresql":
        if fresh:
            for sql in (f"DROP DATABASE IF EXISTS {DATABASE}", f"CREATE DATABASE {DATABASE}"):
                subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": DATABASE, "USER": "postgres", "HOST": "127.0.0.1"}
    elif backend == "mariadb":
        if fresh:
            sql = f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4"
            subprocess.run(["mysql", "-h127.0.0.1", "-uroot", "-e", sql], check=True)
        database = {
            "ENGINE": "django.db.backends.mysql",
            "NAME": DATABASE,
            "USER": "root",
            "HOST": "127.0.0.1",
            "OPTIONS": {"charset": "utf8mb4"},
        }
    elif backend == "sqlite":
        name = os.environ.get("BENCH_SQLITE", os.path.join(tempfile.gettempdir(), f"{DATABASE}.sqlite3"))
        if fresh:
            Path(name).unlink(missing_ok=True)
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": {"timeout": 60}}
    else:
        sys.exit(f"BENCH_DB must be sqlite, postgresql or mariadb, not {backend!r}")
    settings.configure(
        SECRET_KEY="bench-only",
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django.contrib.staticfiles",
            "django_q",
            "django_tables2",
            "esi",
            "esi_dashboard",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        ROOT_URLCONF=__name__,
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        STATIC_URL="/static/",
        DATABASES={"default": database},
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        Q_CLUSTER={"name": "bench", "orm": "default", "sync": True, "timeout": 600, "retry": 1200},
        ESI_SSO_CLIENT_ID="bench-client-id",
        ESI_SSO_CLIENT_SECRET="bench-client-secret",
        ESI_SSO_CALLBACK_URL="http://127.0.0.1/sso/callback/",
        ESI_USER_CONTACT_EMAIL="bench@example.com",
        ESI_DASHBOARD_REQUIRED_SCOPES={"bench": ["esi-bench-000.read_000.v1", "esi-bench-007.read_007.v1"]},
    )


urlpatterns: list = []


def build(tokens: int, rng: random.Random) -> dict[str, int]:
    """Store the data set; returns what was stored."""
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.utils import timezone

    from esi.models import Scope, Token
    from esi_dashboard.models import TokenDeletion

    now = timezone.now()
    users = max(1, tokens // 5)
    characters = max(1, tokens * 7 // 10)
    scope_names = [f"esi-bench-{i:03}.read_{i:03}.v1" for i in range(60)]
    weights = [1 / (i + 1) for i in range(len(scope_names))]  # a few scopes are everywhere
    access = "eyJ" + "x" * 1000  # an EVE SSO JWT is about 1 kB

    with transaction.atomic():
        User.objects.bulk_create(
            [User(username=f"pilot{i}", password="!") for i in range(users)], batch_size=5000
        )
        scopes = Scope.objects.bulk_create([Scope(name=n, help_text=n) for n in scope_names])
        user_ids = list(User.objects.values_list("pk", flat=True))
        batch = []
        for i in range(tokens):
            character = 2_100_000_000 + rng.randrange(characters) if i >= characters else 2_100_000_000 + i
            roll = rng.random()
            if roll < 0.80:  # expired: refreshed last some time in the last 60 days
                expires = now - datetime.timedelta(seconds=rng.uniform(60, 60 * 86400))
            elif roll < 0.83:
                expires = now + datetime.timedelta(seconds=rng.uniform(31, 300))
            else:
                expires = now + datetime.timedelta(seconds=rng.uniform(300, 1200))
            failing = rng.random() < 0.03
            batch.append(
                Token(
                    access_token=access,
                    refresh_token=None if rng.random() < 0.01 else f"rt{i:022}",
                    user_id=rng.choice(user_ids) if rng.random() < 0.95 else None,
                    character_id=character,
                    character_name=f"Pilot {character - 2_100_000_000:06}",
                    character_owner_hash=f"owner{character}",
                    expires_at=expires,
                    last_refresh_at=expires - datetime.timedelta(minutes=20),
                    last_refresh_ok=False if failing else True,
                    last_refresh_error=rng.choice(["SSOUnavailableError: 502", "SSOUnavailableError: timeout"])
                    if failing
                    else "",
                    refresh_failures=rng.randint(1, 6) if failing else 0,
                    refresh_backoff_until=now + datetime.timedelta(minutes=30) if failing else None,
                )
            )
            if len(batch) == 5000:
                Token.objects.bulk_create(batch)
                batch = []
        Token.objects.bulk_create(batch)
        through = Token.scopes.through
        token_ids = list(Token.objects.values_list("pk", flat=True))
        links = []
        for token_id in token_ids:
            held: set[int] = set()
            while len(held) < 4:  # four distinct scopes per token, popular ones most often
                held.add(scopes[rng.choices(range(len(scopes)), weights=weights)[0]].pk)
            links.extend(through(token_id=token_id, scope_id=scope_id) for scope_id in held)
            if len(links) >= 20000:
                through.objects.bulk_create(links)
                links = []
        through.objects.bulk_create(links)
        TokenDeletion.objects.bulk_create(
            [
                TokenDeletion(
                    token_id=10_000_000 + i,
                    character_id=2_140_000_000 + i,
                    character_name=f"Gone {i}",
                    reason=rng.choice(["invalid_grant", "invalid_token", "owner_changed"]),
                    deleted_at=now - datetime.timedelta(seconds=rng.uniform(0, 7 * 86400)),
                )
                for i in range(2000)
            ],
            batch_size=2000,
        )
    return {
        "users": users,
        "tokens": Token.objects.count(),
        "links": through.objects.count(),
        "characters": Token.objects.values("character_id").distinct().count(),
    }


def seed_budgets(rng: random.Random, characters: int = 5000) -> None:
    """What the ESI client records on a busy site, through its own recorders: answers for
    ``characters`` characters over ten rate-limit groups, six hours of error-limit history
    and a hundred 420 and 429 answers."""
    from esi.http import budgets, stats

    groups = [f"char-group-{i}" for i in range(10)]
    for n in range(characters):
        character = 2_100_000_000 + n
        group = groups[n % len(groups)]
        budgets.after_response(
            status=200,
            headers={
                "X-ESI-Error-Limit-Remain": str(rng.randint(80, 100)),
                "X-ESI-Error-Limit-Reset": "30",
                "X-Ratelimit-Group": group,
                "X-Ratelimit-Limit": "150/15m",
                "X-Ratelimit-Remaining": str(rng.randint(0, 150)),
                "X-Ratelimit-Used": "2",
            },
            group=group,
            character_id=character,
            operation="get_characters_character_id_skills",
        )
        stats.record_response(status=200, operation="get_characters_character_id_skills", from_cache=n % 3 == 0, elapsed=0.05)
    now = time.time()
    for minute in range(360):
        stats.record_error_limit(rng.randint(60, 100), at=now - minute * 60)
    for n in range(100):
        stats.record_event(
            status=rng.choice([420, 429]),
            operation="get_characters_character_id_skills",
            group=rng.choice(groups),
            character_id=2_100_000_000 + n,
            retry_after=30.0,
            at=now - n * 30,
        )
    stats.flush()


def measure(client, url: str, runs: int, show: bool = False) -> tuple[float, int, int, float, float]:
    """``(median ms, queries, status, median CPU ms of this process, median ms waiting for
    the database)`` of ``runs`` GETs of ``url`` after one warm-up GET; with ``show``, print
    the last run's queries with their times. The CPU time leaves out what other processes
    on a busy machine took from this one; the database time is the wall time of the
    queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)
    times, cpu, database = [], [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            database.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    if show:
        for query in queries.captured_queries:
            print(f"    {float(query['time']) * 1000:8.1f} ms  {query['sql'][:300]}")
    return (
        statistics.median(times),
        len(queries),
        response.status_code,
        statistics.median(cpu),
        statistics.median(database),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens to store (default 100,000; 4 scopes each)")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page (default 5; the median is shown)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run if it holds --tokens tokens (building 1,000,000 takes minutes)",
    )
    parser.add_argument("--skip-export", action="store_true", help="do not time the CSV export of every token")
    parser.add_argument("--show-queries", action="store_true", help="print each page's queries with their times")
    parser.add_argument("--only", help="measure only the pages whose label contains this text")
    args = parser.parse_args()

    configure(fresh=not args.reuse)
    import django

    django.setup()
    global urlpatterns
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import path

    from esi.models import Token
    from esi_dashboard.tasks import count_scopes, count_tokens

    urlpatterns = [path("admin/", admin.site.urls)]
    call_command("migrate", verbosity=0)
    if args.reuse and Token.objects.count() == args.tokens:
        print(f"data set on {connection.vendor}: reusing {args.tokens:,} tokens")
    else:
        if Token.objects.exists():
            sys.exit("--reuse: the database holds another data set; run once without --reuse")
        started = time.perf_counter()
        built = build(args.tokens, random.Random(args.seed))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("VACUUM ANALYZE")
            elif connection.vendor == "mysql":
                for table in ("esi_token", "esi_token_scopes", "esi_scope", "auth_user"):
                    cursor.execute(f"ANALYZE TABLE {table}")
                    cursor.fetchall()
        print(
            f"data set on {connection.vendor}: {built['tokens']:,} tokens, {built['links']:,} token-scope links, "
            f"{built['characters']:,} characters, {built['users']:,} users "
            f"(built in {time.perf_counter() - started:.0f} s)"
        )

    seed_budgets(random.Random(args.seed))
    print("ESI budgets: 5,000 rate-limit buckets in 10 groups, 6 hours of error limit, 100 events")

    # The counts run as django-q2 tasks (the schedule esi_dashboard:counts), not in a page
    # view; time them on their own.
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        summary = count_scopes()
        count_ms = (time.perf_counter() - started) * 1000
    print(f"scope count task (background): {count_ms:.0f} ms, {len(queries)} queries, {summary['scopes']} scopes")
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        summary = count_tokens()
        count_ms = (time.perf_counter() - started) * 1000
    print(f"token count task (background): {count_ms:.0f} ms, {len(queries)} queries, {summary['total']:,} tokens")

    User.objects.filter(username="bench").delete()
    User.objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.login(username="bench", password="pw")
    base = "/admin/esi_dashboard/dashboard/"
    pages = [
        ("token health", base),
        ("token health, failing", base + "?state=failing"),
        ("token health, by scope, page 50", base + "?scope=esi-bench-003.read_003.v1&page=50"),
        ("token health, sorted by expiry", base + "?sort=-expires"),
        ("scope coverage", base + "scopes/"),
        ("scope coverage, missing scope", base + "scopes/?missing=esi-bench-007.read_007.v1"),
        ("ESI budgets", base + "budgets/"),
    ]
    print()
    print(
        f"{'page':<36} {'ms':>8} {'queries':>8}  goal (< {GOAL_MS} ms, <= {GOAL_QUERIES} queries)"
        f"  {'CPU ms':>7} {'SQL ms':>7}"
    )
    met_all = True
    for label, url in pages:
        if args.only and args.only not in label:
            continue
        ms, queries, status, cpu, database = measure(client, url, args.runs, args.show_queries)
        if status != 200:
            sys.exit(f"{url} answered {status}")
        met = ms < GOAL_MS and queries <= GOAL_QUERIES
        met_all &= met
        print(f"{label:<36} {ms:8.1f} {queries:8d}  {'yes' if met else 'NO':<40} {cpu:7.1f} {database:7.1f}")
    if not args.skip_export:
        ms, queries, status, _, _ = measure(client, base + "tokens.csv", 1)
        if status != 200:
            sys.exit(f"the CSV export answered {status}")
        print(f"{'CSV export of every token':<36} {ms:8.1f} {queries:8d}  (a download, not a page)")
    print()
    print(f"goal met on every page: {'yes' if met_all else 'no'} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
