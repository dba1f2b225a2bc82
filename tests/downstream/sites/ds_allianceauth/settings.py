"""Test settings for allianceauth 5.5.0's own suite (``django-admin test allianceauth``).

Where it came from: allianceauth's test settings upstream (``tests/settings.py``, later
``tests/settings_all.py``, in gitlab.com/allianceauth/allianceauth and its GitHub mirror
allianceauth/allianceauth) start from the project template's base settings, add every
optional app and service module, point ``ROOT_URLCONF`` at ``tests.urls`` (allianceauth's
URLs plus the navhelper test pages), set ``CELERY_ALWAYS_EAGER``, dummy service
credentials, the MD5 password hasher and ``LOGGING = None``. This file does the same, in
fewer lines: it imports the base settings from the installed sdist
(``allianceauth/project_template/project_name/settings/base.py``) and overrides only what
a test run needs. Differences from upstream: SQLite in memory; the Redis cache on a
database of our own (``DS_REDIS_URL``), because allianceauth calls ``cache.ttl()`` and
Redis directly. The mumble authenticator's test module needs ZeroC Ice (the ``mumble``
extra, a C++ build), which is not installed: that module fails to import in every run.
"""

from allianceauth.project_template.project_name.settings.base import *  # noqa: F401,F403

from ds_common import CELERY, ESI, PASSWORD_HASHERS, REDIS_CACHES, SQLITE, TEST_RUNNER  # noqa: F401

globals().update(CELERY)
globals().update(ESI)

INSTALLED_APPS += [  # noqa: F405
    "allianceauth.eveonline.autogroups",
    "allianceauth.hrapplications",
    "allianceauth.timerboard",
    "allianceauth.srp",
    "allianceauth.optimer",
    "allianceauth.corputils",
    "allianceauth.fleetactivitytracking",
    "allianceauth.permissions_tool",
    "allianceauth.services.modules.mumble",
    "allianceauth.services.modules.discord",
    "allianceauth.services.modules.discourse",
    "allianceauth.services.modules.example",
    "allianceauth.services.modules.ips4",
    "allianceauth.services.modules.openfire",
    "allianceauth.services.modules.phpbb3",
    "allianceauth.services.modules.smf",
    "allianceauth.services.modules.teamspeak3",
    "allianceauth.services.modules.xenforo",
]

ROOT_URLCONF = "ds_allianceauth.urls"
DATABASES = SQLITE
CACHES = REDIS_CACHES
LOGGING = None
SITE_URL = "https://www.example.com"
CSRF_TRUSTED_ORIGINS = [SITE_URL]
STATICFILES_DIRS = []
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
DEBUG = False

# Dummy service settings, as in upstream's tests/settings.py
JABBER_URL = "example.com"
JABBER_PORT = 5223
JABBER_SERVER = "example.com"
OPENFIRE_ADDRESS = "http://example.com:9090"
OPENFIRE_SECRET_KEY = "somekey"
BROADCAST_USER = "broadcast@" + JABBER_URL
BROADCAST_USER_PASSWORD = "somepassword"
BROADCAST_SERVICE_NAME = "broadcast"
MUMBLE_URL = "example.com"
PHPBB3_URL = ""
SMF_URL = ""
XENFORO_ENDPOINT = "example.com/api.php"
XENFORO_DEFAULT_GROUP = 0
XENFORO_APIKEY = "yourapikey"
TEAMSPEAK3_SERVER_IP = "127.0.0.1"
TEAMSPEAK3_SERVER_PORT = 10011
TEAMSPEAK3_SERVERQUERY_USER = "serveradmin"
TEAMSPEAK3_SERVERQUERY_PASSWORD = "passwordhere"
TEAMSPEAK3_VIRTUAL_SERVER = 1
TEAMSPEAK3_PUBLIC_URL = "example.com"
DISCORD_GUILD_ID = "0118999"
DISCORD_BOT_TOKEN = "bottoken"
DISCORD_INVITE_CODE = "invitecode"
DISCORD_APP_ID = "appid"
DISCORD_APP_SECRET = "secret"
DISCORD_CALLBACK_URL = "http://example.com/discord/callback"
DISCORD_SYNC_NAMES = False
DISCOURSE_URL = "https://example.com"
DISCOURSE_API_USERNAME = ""
DISCOURSE_API_KEY = ""
DISCOURSE_SSO_SECRET = "d836444a9e4084d5b224a60c208dce14"
IPS4_URL = "http://example.com/ips4"
IPS4_API_KEY = ""
