"""Task functions written the way apps write them for django-esi 10, for the tests of
esi.decorators' task decorators: each exists as a django-q2 task (a plain function) and as a
bound Celery task. Attempts are counted in the cache, which the test process, django-q2's
sync runs and a Celery worker share."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

from esi.decorators import rate_limit_retry_task, rate_limited_task
from esi.errors import ESIBucketLimitException, ESIErrorLimitException


def attempt(key: str) -> int:
    """Count one attempt of ``key``; returns its number (1 for the first)."""
    cache.add(f"attempts:{key}", 0, timeout=600)
    return int(cache.incr(f"attempts:{key}"))


def _first_attempt_stopped(key: str, reset: float, error_limit: bool = False) -> int:
    number = attempt(key)
    if number == 1:
        if error_limit:
            raise ESIErrorLimitException(reset)
        raise ESIBucketLimitException("market:public", reset)
    return number


@rate_limit_retry_task
def q_stopped_once(key: str, reset: float = 30, error_limit: bool = False) -> int:
    return _first_attempt_stopped(key, reset, error_limit)


@shared_task(bind=True, name="tests.task_functions.celery_stopped_once")
@rate_limit_retry_task
def celery_stopped_once(self, key: str, reset: float = 1, error_limit: bool = False) -> int:
    return _first_attempt_stopped(key, reset, error_limit)


@rate_limited_task("1/2s", keys=["character_id"])
def q_limited(character_id: int) -> float:
    return time.time()


@shared_task(bind=True, name="tests.task_functions.celery_limited")
@rate_limited_task("1/2s")
def celery_limited(self, label: str) -> float:
    return time.time()
