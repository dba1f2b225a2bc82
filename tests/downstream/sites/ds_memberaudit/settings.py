"""Test settings for aa-memberaudit 5.3.0's own suite (``django-admin test memberaudit``).

Where it came from: aa-memberaudit's ``testauth/settings_aa4/base.py`` + ``local.py``
(github.com/AllianceAuth-Apps/aa-memberaudit) are an Alliance Auth project's settings:
the project template's base settings, ``INSTALLED_APPS += ["eveuniverse", "memberaudit"]``,
dummy ESI SSO credentials, ``LOGGING = None``, ``STATICFILES_DIRS = []``,
``ANALYTICS_DISABLED = True`` and the plain static files storage. This file imports the
base settings from the installed allianceauth (``allianceauth/project_template/
project_name/settings/base.py``) and applies those same overrides. Differences from
upstream: SQLite in memory; Redis (the suite clears celery_once locks in Redis) on a
database of our own (``DS_REDIS_URL``); Celery eager.
"""

from allianceauth.project_template.project_name.settings.base import *  # noqa: F401,F403

from ds_common import CELERY, ESI, PASSWORD_HASHERS, REDIS_CACHES, SQLITE, TEST_RUNNER  # noqa: F401

globals().update(CELERY)
globals().update(ESI)

INSTALLED_APPS += ["eveuniverse", "memberaudit"]  # noqa: F405

ROOT_URLCONF = "allianceauth.urls"
SECRET_KEY = "t$@h+j#yqhmuy$x7$fkhytd&drajgfsb-6+j9pqn*vj0)gq&-2"
SITE_NAME = "testauth"
SITE_URL = "https://www.example.com"
CSRF_TRUSTED_ORIGINS = [SITE_URL]
DEBUG = False
DATABASES = SQLITE
CACHES = REDIS_CACHES
REGISTRATION_VERIFY_EMAIL = False
LOGGING = None
STATICFILES_DIRS = []
ANALYTICS_DISABLED = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
