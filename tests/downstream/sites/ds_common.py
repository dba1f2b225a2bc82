"""Settings shared by the downstream test sites (see each site's header for its origin)."""

import os

# One Redis database per app and per run (baseline / django-esi-ng), chosen by run.py;
# never 0, 1 or 5, which the project's own suite and other tools use.
REDIS_URL = os.environ.get("DS_REDIS_URL", "redis://127.0.0.1:6379/7")

REDIS_CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
}

SQLITE = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

# Celery: tasks run in the calling process, as upstream's test settings say
# (CELERY_ALWAYS_EAGER). Exceptions are not propagated unless a test asks for it
# (several allianceauth tests expect a failing task not to raise).
CELERY = dict(
    BROKER_URL="memory://",
    CELERY_ALWAYS_EAGER=True,
)

ESI = dict(
    ESI_SSO_CLIENT_ID="dummy",
    ESI_SSO_CLIENT_SECRET="dummy",
    ESI_SSO_CALLBACK_URL="https://www.example.com/sso/callback",
    ESI_USER_CONTACT_EMAIL="info@example.com",
)

TEST_RUNNER = "ds_runner.Runner"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
