"""Settings for django-esi 7.0.1's and 10.0.0's own test suites (``django-admin test esi.tests``).

Where it came from: django-esi's ``tests/settings.py`` and ``tests/urls.py``
(gitlab.com/allianceauth/django-esi; read from the GitHub fork gonX/django-esi): SQLite,
apps auth, contenttypes, sessions and esi, ``ESI_API_URL``, dummy SSO client id, secret and
callback URL, and ``sso/`` routed to ``esi.urls``. Added here: templates, sessions and
messages (the views' tests render pages), a Redis cache on a database of our own
(django-esi 10's rate limiting uses Redis through django-redis), Celery eager.
The same settings serve the suite against its own release and against django-esi-ng.
"""

from ds_common import CELERY, PASSWORD_HASHERS, REDIS_CACHES, SQLITE, TEST_RUNNER  # noqa: F401

globals().update(CELERY)

SECRET_KEY = "downstream-esi"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "esi",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
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
]
ROOT_URLCONF = "ds_esi.urls"
DATABASES = SQLITE
CACHES = REDIS_CACHES
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

ESI_API_URL = "https://esi.evetech.net/"
ESI_SSO_CLIENT_ID = "test-dummy"
ESI_SSO_CLIENT_SECRET = "test-dummy"
ESI_SSO_CALLBACK_URL = "http://localhost:8000"
# django-esi 7 and 10 refuse to start without it (system check esi.E003)
ESI_USER_CONTACT_EMAIL = "info@example.com"
