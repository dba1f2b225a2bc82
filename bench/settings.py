"""Django settings for the benchmarks: ``BENCH_DB`` = ``sqlite`` (a file, default),
``postgresql`` or ``mariadb`` (database ``BENCH_DB_NAME``, default ``bench_esi_ng``, on
127.0.0.1), the emulator at ``EMULATOR_URL``, and with ``BENCH_REDIS_URL`` a django-redis
cache (shared by the processes of a run) instead of locmem; ``BENCH_PACING=off`` turns rate-limit
pacing off (bench/pacing.py)."""

import os
import tempfile

SECRET_KEY = "bench-only"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_q",
    "esi",
]
if os.environ.get("BENCH_DB", "sqlite") == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("BENCH_DB_NAME", "bench_esi_ng"),
            "USER": "postgres",
            "HOST": "127.0.0.1",
        }
    }
elif os.environ.get("BENCH_DB") == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("BENCH_DB_NAME", "bench_esi_ng"),
            "USER": "root",
            "HOST": "127.0.0.1",
            "OPTIONS": {"charset": "utf8mb4"},
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", os.path.join(tempfile.gettempdir(), "bench_esi_ng.sqlite3")),
            "OPTIONS": {"timeout": 60},
        }
    }
if os.environ.get("BENCH_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["BENCH_REDIS_URL"],
            "KEY_PREFIX": "esi-ng-bench",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
Q_CLUSTER = {"name": "bench", "orm": "default", "sync": True, "timeout": 600, "retry": 1200}
ESI_SSO_CLIENT_ID = "bench-client-id"
ESI_SSO_CLIENT_SECRET = "bench-client-secret"
ESI_SSO_CALLBACK_URL = "http://127.0.0.1/sso/callback/"
ESI_USER_CONTACT_EMAIL = "bench@example.com"
ESI_SSO_BASE_URL = ESI_API_URL = os.environ.get("EMULATOR_URL", "http://127.0.0.1:8001")
if os.environ.get("BENCH_PACING") == "off":
    ESI_RATE_LIMIT_PACE_BELOW = 0
    ESI_RATE_LIMIT_PACE_TOKENS = 0
