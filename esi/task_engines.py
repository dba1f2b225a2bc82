"""One task body, two task engines: Celery where it is installed, django-q2 otherwise.

django-esi 7 and 10 shipped Celery tasks, and apps written for them decorate their own
Celery tasks with ``esi.decorators.rate_limit_retry_task`` and ``rate_limited_task``. This
package runs its background work on django-q2 (architecture decision 8). This module lets
the same functions serve both:

- :func:`task` makes a function of ``esi.tasks`` a Celery task (``shared_task``, named by
  its dotted path, so ``.delay()`` and beat entries such as ``"esi.tasks.cleanup_token"``
  work) when Celery is installed. The task object is still callable, so django-q2 runs it
  by the same dotted path.
- :func:`retry_later` asks the engine that runs the current task to run it again after a
  delay: Celery's ``Task.retry(countdown=...)`` for a bound Celery task, a one-off django-q2
  schedule of the same function and arguments inside a django-q2 worker, and otherwise
  (a call outside any task) nothing: the caller re-raises.

Which django-q2 task is running is recorded from django-q2's ``pre_execute`` and
``post_execute_in_worker`` signals (:func:`connect_django_q_signals`, called by
``EsiConfig.ready()`` when ``django_q`` is installed).
"""

from __future__ import annotations

import datetime
import importlib.util
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

#: The django-q2 task this thread is running (django-q2's task dict), if any.
_django_q_task: ContextVar[Mapping[str, Any] | None] = ContextVar("esi_django_q_task", default=None)


def celery_installed() -> bool:
    """Whether Celery can be imported (it is imported only then)."""
    return importlib.util.find_spec("celery") is not None


def task(func: F) -> F:
    """``func`` as a Celery task named ``<module>.<name>`` when Celery is installed (a
    ``shared_task``, so it joins whatever Celery app the site runs), else ``func`` itself.
    Either way calling it runs ``func``."""
    if not celery_installed():
        return func
    from celery import shared_task

    wrapped: F = shared_task(name=f"{func.__module__}.{func.__name__}")(func)
    return wrapped


def is_celery_task(candidate: Any) -> bool:
    """Whether ``candidate`` is a Celery ``Task`` (the ``self`` of a bound task). Never
    imports Celery: code can only hold a Celery task if Celery is imported already."""
    import sys

    celery = sys.modules.get("celery")
    task_class = getattr(celery, "Task", None) if celery is not None else None
    return task_class is not None and isinstance(candidate, task_class)


def current_django_q_task() -> Mapping[str, Any] | None:
    """The django-q2 task dict (``func``, ``args``, ``kwargs``, ``name``, ...) this thread
    is running, or ``None`` outside a django-q2 worker's task."""
    return _django_q_task.get()


def _on_pre_execute(sender: Any, func: Any = None, task: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    _django_q_task.set(task)


def _on_post_execute(sender: Any, **kwargs: Any) -> None:
    _django_q_task.set(None)


def connect_django_q_signals() -> None:
    """Record the running django-q2 task (idempotent; ``EsiConfig.ready()`` calls it)."""
    from django_q import signals

    signals.pre_execute.connect(_on_pre_execute, dispatch_uid="esi_task_engines_pre")
    post = getattr(signals, "post_execute_in_worker", None) or signals.post_execute
    post.connect(_on_post_execute, dispatch_uid="esi_task_engines_post")


def dotted_path(func: Any) -> str:
    """``module.qualname`` of a function, or django-q2's string ``func`` unchanged."""
    if isinstance(func, str):
        return func
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', getattr(func, '__name__', ''))}"


def retry_later(func: Callable[..., Any], bound: Any, countdown: float | None, *, count_attempt: bool = True) -> Any:
    """Have the current task run again in ``countdown`` seconds (``None``: the engine's
    default delay, 60 s on django-q2).

    ``func`` is the task function as its module holds it (the decorated function), and
    ``bound`` the first argument it was called with (a Celery task's ``self``).

    - Celery (``bound`` is a ``Task``): raises Celery's ``Retry`` through
      ``bound.retry(countdown=...)``; with ``count_attempt=False`` the attempt does not
      count against the task's ``max_retries`` (as django-esi 10's ``rate_limited_task``).
    - django-q2, when ``func`` is the task the worker is running: creates a one-off
      schedule of the same function and arguments ``countdown`` seconds from now and
      returns ``{"deferred": <seconds>, "schedule_id": <id>}`` as the task's result.

    Returns ``None`` when neither applies (a direct call, of the function or of the Celery
    task object, or ``func`` called inside another task): the caller then re-raises what
    stopped it.
    """
    if is_celery_task(bound):
        if getattr(bound.request, "called_directly", False) is True:
            return None  # a plain call of the task object runs now: no worker to retry it
        if not count_attempt:
            bound.request.retries -= 1
        return bound.retry(countdown=countdown)
    running = current_django_q_task()
    if running is None or dotted_path(running.get("func")) != dotted_path(func):
        return None
    from django.utils import timezone
    from django_q.models import Schedule

    seconds = 60.0 if countdown is None else max(float(countdown), 0.0)
    schedule = Schedule.objects.create(
        func=dotted_path(running.get("func")),
        args=repr(tuple(running.get("args") or ())) if running.get("args") else None,
        kwargs=repr(dict(running.get("kwargs") or {})) if running.get("kwargs") else None,
        name=f"esi-retry:{running.get('name') or running.get('id')}"[:100],
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=timezone.now() + datetime.timedelta(seconds=seconds),
    )
    logger.info("%s deferred for %.0f s (schedule %s)", schedule.func, seconds, schedule.pk)
    return {"deferred": seconds, "schedule_id": schedule.pk}
