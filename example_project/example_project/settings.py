"""Settings of the demo site.

Embedded defaults: SQLite, the locmem cache, django-q2's ORM broker and, in demo mode
(``ESI_DEMO=1``, the default), the bundled ESI + SSO emulator on ``127.0.0.1:8001`` for both
EVE SSO and ESI. With ``ESI_DEMO=0`` the site talks to CCP's servers with the application
registered through the ``ESI_SSO_CLIENT_ID`` / ``ESI_SSO_CLIENT_SECRET`` /
``ESI_SSO_CALLBACK_URL`` environment variables.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

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
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
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
WSGI_APPLICATION = "example_project.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The dashboard's refreshes and scope counts are django-q2 tasks. The demo runs them at once,
# inside the request, unless a cluster runs beside it: `manage.py qcluster` in a second
# terminal, with DEMO_QCLUSTER=1 for both.
Q_CLUSTER = {
    "name": "esi-ng-demo",
    "orm": "default",
    "timeout": 60,
    "retry": 120,
    "sync": os.environ.get("DEMO_QCLUSTER") != "1",
}

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "demo:login"
LOGIN_REDIRECT_URL = "demo:home"

# Ports of `make demo` (DEMO_PORT=8100 DEMO_EMULATOR_PORT=8101 make demo); rundemo checks them
# and says so when one is malformed or taken.
DEMO_PORT = os.environ.get("DEMO_PORT", "8000")
EMULATOR_PORT = os.environ.get("DEMO_EMULATOR_PORT", "8001")
# The emulator keeps the refresh tokens it issued here, so that the stored tokens still
# refresh after a restart of the demo.
DEMO_EMULATOR_STATE = os.environ.get(
    "DEMO_EMULATOR_STATE", str(Path(DATABASES["default"]["NAME"]).with_name("emulator-state.json"))
)
# The password of the demo's superuser "admin", set when rundemo first creates it.
DEMO_ADMIN_PASSWORD = os.environ.get("DEMO_ADMIN_PASSWORD", "admin")
ESI_DEMO = os.environ.get("ESI_DEMO", "1") == "1"

ESI_USER_CONTACT_EMAIL = os.environ.get("ESI_USER_CONTACT_EMAIL", "demo@example.com")
# Scopes the dashboard's scope coverage page lists beside those the demo's views ask for:
# here, a mail digest a background task would send.
ESI_DASHBOARD_REQUIRED_SCOPES = {"demo: nightly mail digest": ["esi-mail.read_mail.v1"]}
if ESI_DEMO:
    ESI_SSO_BASE_URL = f"http://127.0.0.1:{EMULATOR_PORT}"
    ESI_API_URL = f"http://127.0.0.1:{EMULATOR_PORT}"
    ESI_SSO_CLIENT_ID = "demo-client-id"
    ESI_SSO_CLIENT_SECRET = "demo-client-secret"
    ESI_SSO_CALLBACK_URL = f"http://127.0.0.1:{DEMO_PORT}/sso/callback/"
else:
    ESI_SSO_CLIENT_ID = os.environ.get("ESI_SSO_CLIENT_ID")
    ESI_SSO_CLIENT_SECRET = os.environ.get("ESI_SSO_CLIENT_SECRET")
    ESI_SSO_CALLBACK_URL = os.environ.get("ESI_SSO_CALLBACK_URL")
