"""django-esi 10's client module path, for apps that import ``ESIClientProvider`` from it.

Everything here is :mod:`esi.clients`; new code imports from there.
"""

from __future__ import annotations

from .clients import ESIClientProvider, EsiClientProvider, esi_client_factory

__all__ = ["ESIClientProvider", "EsiClientProvider", "esi_client_factory"]
