"""Django test runner used by ``tests/downstream/run.py``.

It is Django's own ``DiscoverRunner`` (what every one of these apps runs upstream, through
``manage.py test`` / ``runtests.py``), with a result class that also records the outcome of
every test, with its traceback, and writes them as JSON to ``$DS_RESULT_JSON`` at the end
of the run. Counts are taken from that file, not from parsing the console output. With
``--parallel`` the events of the worker processes are replayed on this result object in
the parent process (Django's ``RemoteTestResult``; tracebacks travel thanks to tblib).
"""

from __future__ import annotations

import json
import os
import time
import unittest

from django.test.runner import DiscoverRunner


def _test_id(test) -> str:
    # setUpClass / setUpModule errors arrive as unittest.suite._ErrorHolder
    description = getattr(test, "description", None)
    if description is not None and not hasattr(test, "_testMethodName"):
        return str(description)
    return test.id()


class RecordingResult(unittest.TextTestResult):
    records: dict[str, dict] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._started: dict[str, float] = {}

    def _record(self, test, outcome: str, detail: str = "") -> None:
        test_id = _test_id(test)
        entry = {"outcome": outcome}
        if detail:
            entry["detail"] = detail
        previous = RecordingResult.records.get(test_id)
        # a test that passed and then failed in tearDown / a subtest keeps the worst outcome
        if previous and previous["outcome"] not in ("success",) and outcome == "success":
            return
        if previous and previous["outcome"] in ("failure", "error") and outcome in ("failure", "error"):
            entry["detail"] = previous.get("detail", "") + "\n" + detail
        RecordingResult.records[test_id] = entry

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, "success")

    def addError(self, test, err):
        super().addError(test, err)
        self._record(test, "error", self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._record(test, "failure", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._record(test, "expected_failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected_success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._record(test, "failure" if failed else "error", self._exc_info_to_string(err, test))


class Runner(DiscoverRunner):
    def get_resultclass(self):
        return RecordingResult

    def run_suite(self, suite, **kwargs):
        # every test the suite holds, so that tests never reached (a class whose
        # setUpClass failed) are still listed
        collected = []

        def walk(s):
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    walk(t)
                else:
                    collected.append(_test_id(t))

        walk(suite)
        started = time.monotonic()
        try:
            return super().run_suite(suite, **kwargs)
        finally:
            path = os.environ.get("DS_RESULT_JSON")
            if path:
                with open(path, "w") as f:
                    json.dump(
                        {
                            "collected": collected,
                            "records": RecordingResult.records,
                            "seconds": round(time.monotonic() - started, 1),
                        },
                        f,
                        indent=1,
                    )
