"""The Celery app of the tests: the shape a Celery site (Alliance Auth) gives its own, with
its configuration read from Django settings under ``CELERY_`` and the installed apps'
``tasks`` modules (``esi.tasks`` among them) discovered, plus the tests' own task functions.
``tests/test_celery.py`` starts a real worker on it (``celery -A tests.celery_app worker``)."""

from celery import Celery

app = Celery("esi_ng_tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["tests"], related_name="task_functions")
