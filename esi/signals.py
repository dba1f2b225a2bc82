"""Signals about tokens, and one about ESI requests.

Token signals give receivers ``sender=Token`` and keyword arguments; they run after the
database transaction that changed the token has committed::

    from django.dispatch import receiver
    from esi.signals import token_deleted

    @receiver(token_deleted)
    def note_deletion(sender, token, reason, **kwargs):
        ...
"""

from django.dispatch import Signal

token_refreshed = Signal()
"""A token was refreshed at EVE SSO. Arguments: ``token``."""

token_deleted = Signal()
"""A token was deleted because its grant is gone. Arguments: ``token`` (the deleted
instance, ``pk`` already ``None``), ``token_id`` (int) and ``reason``: ``invalid_grant``
or ``invalid_token`` (EVE SSO's answer), ``owner_changed`` (the character changed
account) or ``character_changed``. Tokens without a refresh token are never deleted."""

token_refresh_failed = Signal()
"""A refresh failed transiently and the token was kept. Arguments: ``token``, ``error``
(the exception) and ``failures`` (consecutive failures so far)."""

esi_request_statistics = Signal()
"""ESI answered a request (django-esi 10's signal, same arguments). Sent from the thread
that made the request, for every answer that reached the network, errors included, never
for answers served from the cache. ``sender`` is :class:`~esi.http.transport.EsiResponse`.
Arguments: ``operation`` (the operation's name), ``status_code`` (int), ``headers`` (the
response headers), ``latency`` (seconds) and ``bucket`` (the rate-limit group, ``""`` for
routes without one). With no receiver connected it costs nothing measurable."""
