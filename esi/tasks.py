"""Background tasks: functions that django-q2 runs (``async_task("esi.tasks.cleanup_token")``)
and, where Celery is installed, Celery tasks of the same names (``cleanup_token.delay()``,
beat entries ``"task": "esi.tasks.cleanup_token"``), as django-esi 7 and 10 shipped them.
One body serves both engines (:func:`esi.task_engines.task`); calling a task runs it now.

Each returns a summary dict (JSON-able), which django-q2 or Celery's result backend
stores as the task's result. django-q2 scheduling is in :mod:`esi.schedules`.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.db.models.functions import Coalesce
from django.utils import timezone

from . import app_settings
from .task_engines import task
from .models import CallbackRedirect, Token
from .refresh import refresh_many


@task
def cleanup_callbackredirect(max_age: int = 300) -> dict[str, int]:
    """Delete pending EVE SSO logins older than ``max_age`` seconds, in one query.

    Returns:
        ``{"deleted": n}``

    Raises:
        ValueError: ``max_age`` is not a non-negative integer.
    """
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
        raise ValueError(f"max_age must be a non-negative number of seconds, not {max_age!r}")
    cutoff = timezone.now() - datetime.timedelta(seconds=max_age)
    deleted, _ = CallbackRedirect.objects.filter(created__lte=cutoff).delete()
    return {"deleted": deleted}


def _refreshable_expired() -> Any:
    return Token.objects.get_expired().refreshable().exclude(refresh_backoff_until__gt=timezone.now())


@task
def cleanup_token() -> dict[str, Any]:
    """Refresh every expired, refreshable token that is not backing off.

    Tokens are deleted only when EVE SSO says the grant is gone (or the owner changed);
    transient failures keep them and back them off. Tokens without a refresh token are
    left alone: only SSO decides a grant is gone.

    Returns:
        The run summary (see :class:`esi.refresh.RunSummary`).
    """
    ids = list(_refreshable_expired().values_list("pk", flat=True))
    return refresh_many(ids).as_dict()


@task
def cleanup_token_subset(fraction: int | None = None) -> dict[str, Any]:
    """:func:`cleanup_token` for ``1/fraction`` of the expired tokens per run (default
    ``ESI_CLEANUP_SUBSET_FRACTION``, 48: run hourly, every token is seen every two days).

    The subset is the tokens whose last refresh attempt (or creation) is oldest, so
    successive runs walk through all tokens whether their refreshes succeed or fail.

    Raises:
        ValueError: ``fraction`` is not a positive integer.
    """
    fraction = app_settings.ESI_CLEANUP_SUBSET_FRACTION if fraction is None else fraction
    if isinstance(fraction, bool) or not isinstance(fraction, int) or fraction < 1:
        raise ValueError(f"fraction must be a positive integer, not {fraction!r}")
    candidates = _refreshable_expired()
    size = math.ceil(candidates.count() / fraction)
    ids = list(
        candidates.order_by(Coalesce("last_refresh_at", "created"), "pk").values_list("pk", flat=True)[:size]
    )
    return refresh_many(ids).as_dict()


@task
def refresh_or_delete_token(token_pk: int) -> dict[str, Any]:
    """django-esi's task of that name: refresh one token now. As everywhere here, the token
    is deleted only when EVE SSO says its grant is gone; transient failures keep it.

    Returns the run summary of :func:`refresh_tokens` (``missing`` is 1 when no token has
    this id). Raises ``ValueError`` for an id that is not an integer.
    """
    if not isinstance(token_pk, int) or isinstance(token_pk, bool):
        raise ValueError(f"token_pk must be an integer, not {token_pk!r}")
    return refresh_tokens([token_pk])


@task
def refresh_tokens(token_ids: list[int]) -> dict[str, Any]:
    """Refresh these tokens now, expired or not, ignoring back-off (what the admin
    enqueues). Ids that do not exist count as ``missing``.

    Raises:
        ValueError: ``token_ids`` is not a list of integers.
    """
    if not isinstance(token_ids, (list, tuple)) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in token_ids
    ):
        raise ValueError(f"token_ids must be a list of integers, not {token_ids!r}")
    return refresh_many(list(dict.fromkeys(token_ids)), force=True).as_dict()
