"""A loopback HTTP server that plays EVE SSO v2 and ESI, for tests and offline demos.

::

    from esi.emulator import Emulator

    with Emulator() as emulator:
        settings.ESI_SSO_BASE_URL = settings.ESI_API_URL = emulator.url
        ...

See ``docs/emulator.rst``. It is a test tool: never expose it beyond loopback.
"""

from __future__ import annotations

from .faults import Fault, Faults
from .records import Character, RecordedRequest
from .server import Emulator

__all__ = ["Character", "Emulator", "Fault", "Faults", "RecordedRequest"]
