"""Test settings for django-eveuniverse 2.2.0's own suite (``django-admin test eveuniverse``).

Where it came from: django-eveuniverse's ``testsite/settings.py``
(github.com/AllianceAuth-Apps/django-eveuniverse): apps auth, contenttypes, sessions,
eveuniverse and esi; dummy ESI SSO settings; Celery's in-memory broker; a Redis cache.
This is the same, shortened. Differences from upstream: SQLite in memory; the Redis cache
on a database of our own (``DS_REDIS_URL``); Celery eager, with celery_once locks in that
Redis database; no URLs (upstream's testsite/urls.py is empty).
"""

from ds_common import CELERY, ESI, PASSWORD_HASHERS, REDIS_CACHES, SQLITE, TEST_RUNNER  # noqa: F401

globals().update(CELERY)
globals().update(ESI)

SECRET_KEY = "downstream-eveuniverse"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "eveuniverse",
    "esi",
]
ROOT_URLCONF = "ds_eveuniverse.urls"
DATABASES = SQLITE
CACHES = REDIS_CACHES
SITE_URL = "https://www.example.com"
STATIC_URL = "/static/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
