"""django-esi 7.0.1's suite: the settings of ``settings.py`` with Django's default cache
(locmem), as django-esi 7's own test settings have it. Its ``NoSocketsTestCase`` forbids
sockets, so a Redis cache would fail those tests."""

from ds_esi.settings import *  # noqa: F401,F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
