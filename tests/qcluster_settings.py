"""Settings for the real ``qcluster`` process that tests/test_qcluster.py starts: the test
database the suite created, a Redis queue of the test's own, the test run's cache (the
same ``KEY_PREFIX``, inherited through ``ESI_TEST_RUN``) and the emulator of the test
process."""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["ESI_TEST_DB_NAME"]  # noqa: F405
Q_CLUSTER = {
    # The name the test gives it (it names the queue and salts the signed task packages), one
    # per test. No cluster_name of its own: like a site's only cluster, it runs the schedules
    # that name no cluster (the esi: schedules).
    "name": os.environ["Q_CLUSTER_NAME_FOR_TESTS"],
    "redis": os.environ["REDIS_URL"],
    "workers": 1,
    "timeout": 60,
    "retry": 120,
    "poll": 0.1,
}
ESI_SSO_BASE_URL = ESI_API_URL = os.environ["EMULATOR_URL"]
