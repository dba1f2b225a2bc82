"""The Celery app of the downstream test sites, as an Alliance Auth project defines it
(``allianceauth/project_template/project_name/celery.py``, shipped in the allianceauth
sdist): configured from Django's settings with the old upper-case names, so the apps'
``@override_settings(CELERY_ALWAYS_EAGER=True)`` and our ``CELERY_ALWAYS_EAGER`` apply.
Each site's package imports it, as a Django project's ``__init__`` does."""

import importlib.util
import os

from celery import Celery

_ALLIANCEAUTH = importlib.util.find_spec("allianceauth") is not None

app = Celery("ds_site")
app.config_from_object("django.conf:settings")
app.conf.ONCE = {
    # allianceauth's DjangoBackend (locks in Django's cache) where allianceauth is
    # installed, as in an Alliance Auth project; celery_once's own Redis backend otherwise.
    "backend": (
        "allianceauth.services.tasks.DjangoBackend" if _ALLIANCEAUTH else "celery_once.backends.Redis"
    ),
    "settings": {"url": os.environ.get("DS_REDIS_URL", "redis://127.0.0.1:6379/7"), "default_timeout": 3600},
}
app.autodiscover_tasks()
