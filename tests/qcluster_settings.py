"""Settings for the real ``qcluster`` process that tests/test_qcluster.py starts: the test
database the suite created, the Redis broker, and the emulator of the test process."""

import os

from tests.settings import *  # noqa: F403

DATABASES["default"]["NAME"] = os.environ["ESI_TEST_DB_NAME"]  # noqa: F405
Q_CLUSTER = {
    # The same name as the test process (it salts the signed task packages). No cluster_name
    # of its own: like a site's only cluster, it runs the schedules that name no cluster
    # (the esi: schedules). The Redis database, and so the queue, is this cluster's own.
    "name": "esi-ng-tests",
    "redis": os.environ["Q_REDIS_URL"],
    "workers": 1,
    "timeout": 60,
    "retry": 120,
    "poll": 0.1,
}
ESI_SSO_BASE_URL = ESI_API_URL = os.environ["EMULATOR_URL"]
