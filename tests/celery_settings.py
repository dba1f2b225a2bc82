"""Settings for the real Celery worker that tests/test_celery.py starts: the test database
the suite created, the Redis broker and result backend, and the emulator of the test
process."""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["ESI_TEST_DB_NAME"]  # noqa: F405
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = os.environ["CELERY_REDIS_URL"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
ESI_SSO_BASE_URL = ESI_API_URL = os.environ["EMULATOR_URL"]
