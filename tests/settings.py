"""Settings for the test suite.

``DB_BACKEND`` chooses the database (``sqlite`` default, ``postgresql``, ``mariadb``);
``REDIS_URL`` switches the cache from locmem to django-redis, with a key prefix of the test
run's own (``ESI_TEST_RUN``): the tests delete only their own keys, so runs can share a
Redis database, though one of its own is best (``.ci/test-matrix`` uses 14 unless
``REDIS_URL_FOR_TESTS`` says otherwise). ``TEST_DB_NAME`` names the
test database on PostgreSQL and MariaDB (default ``test_django_esi_ng``), so two runs can
share a server.
"""

import os
import uuid

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
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
    # Its migration depends on django-esi's migration 0012 by name (tests/test_migrations.py).
    "tests.esi_dependent",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"

_backend = os.environ.get("DB_BACKEND", "sqlite")
if _backend == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PGDATABASE", "test"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "TEST": {"NAME": os.environ.get("TEST_DB_NAME", "test_django_esi_ng")},
        }
    }
elif _backend == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("MYSQL_DATABASE", "test"),
            "USER": os.environ.get("MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": os.environ.get("TEST_DB_NAME", "test_django_esi_ng"), "CHARSET": "utf8mb4"},
        }
    }
elif _backend == "sqlite":
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
else:
    raise RuntimeError(f"DB_BACKEND must be sqlite, postgresql or mariadb, not {_backend!r}")

if os.environ.get("REDIS_URL"):
    # A key prefix per test run, inherited by the processes the run starts (the qcluster of
    # tests/test_qcluster.py): runs that share a Redis database neither see nor delete each
    # other's keys (tests/conftest.py empties this prefix only).
    TEST_RUN = os.environ.setdefault("ESI_TEST_RUN", uuid.uuid4().hex[:12])
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"esi-ng-tests-{TEST_RUN}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # One test process on locmem: the per-process cap on EVE SSO refreshes is what it wants.
    SILENCED_SYSTEM_CHECKS = ["esi.W012"]

Q_CLUSTER = {"name": "esi-ng-tests", "orm": "default", "sync": True, "timeout": 60, "retry": 120}

ESI_SSO_CLIENT_ID = "test-client-id"
ESI_SSO_CLIENT_SECRET = "test-client-secret"
ESI_SSO_CALLBACK_URL = "http://testserver/sso/callback/"
ESI_USER_CONTACT_EMAIL = "tests@example.com"
