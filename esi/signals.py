"""Signals about tokens.

Receivers get ``sender=Token`` and keyword arguments; they run after the database
transaction that changed the token has committed::

    from django.dispatch import receiver
    from esi.signals import token_deleted

    @receiver(token_deleted)
    def note_deletion(sender, token, reason, **kwargs):
        ...
"""

from django.dispatch import Signal

#: A token was refreshed at EVE SSO. Arguments: ``token``.
token_refreshed = Signal()

#: A token was deleted because its grant is gone. Arguments: ``token`` (the deleted
#: instance, ``pk`` already ``None``), ``token_id`` (int) and ``reason``: ``invalid_grant``
#: or ``invalid_token`` (EVE SSO's answer), ``owner_changed`` (the character changed
#: account), ``character_changed``, or ``not_refreshable``.
token_deleted = Signal()

#: A refresh failed transiently and the token was kept. Arguments: ``token``, ``error``
#: (the exception) and ``failures`` (consecutive failures so far).
token_refresh_failed = Signal()
