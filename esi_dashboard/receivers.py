"""Signal receivers, connected in :meth:`esi_dashboard.apps.EsiDashboardConfig.ready`."""

from __future__ import annotations

import logging
from typing import Any

from .models import TokenDeletion

logger = logging.getLogger(__name__)


def record_deletion(sender: Any, token: Any, token_id: int, reason: str, **kwargs: Any) -> None:
    """Receiver of :data:`esi.signals.token_deleted`: store a :class:`TokenDeletion`.

    It runs after the refresh engine's transaction committed; a failure to write the record
    is logged and swallowed, so that bookkeeping never breaks a refresh run.
    """
    try:
        TokenDeletion.record(token, token_id, reason)
    except Exception:
        logger.exception("Could not record the deletion of token %s (%s)", token_id, reason)
