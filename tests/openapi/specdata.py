"""CCP's real specs for the spec engine tests, as paths and session fixtures.

The bundled spec comes from the package; the others from the shared specs folder
(``../shared/specs`` next to the repository), and tests needing them skip if it is absent.
The fixtures live here rather than in a conftest.py, and test modules import them, so the
tests also run with ``--noconftest`` (they need no database and no Django test setup).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from esi.openapi import EsiSpec, bundled_spec_path

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SHARED_SPECS = SHARED / "specs"
FIXTURES = SHARED / "fixtures"
SWAGGER_138 = SHARED_SPECS / "swagger" / "esi_swagger20_1.3.8.json"
SWAGGER_136 = SHARED_SPECS / "swagger" / "esi_swagger20_v1.36.json"
OPENAPI_SHARED = {
    "2025-12-16": SHARED_SPECS / "openapi" / "esi_openapi31_2025-12-16.json",
    "2020-01-01": SHARED_SPECS / "openapi" / "esi_openapi31_2020-01-01.json",
    "trimmed": SHARED_SPECS / "openapi" / "esi_openapi31_2025-08-26_trimmed.json",
}


def shared_path(path: Path) -> Path:
    """``path`` if it exists, else skip the test."""
    if not path.is_file():
        pytest.skip(f"shared spec data not available: {path}")
    return path


def load_json(path: Path) -> Any:
    return json.loads(shared_path(path).read_bytes())


@pytest.fixture(scope="session")
def bundled_dict() -> dict[str, Any]:
    """The bundled OpenAPI 3.1 spec as parsed JSON (do not modify)."""
    return json.loads(bundled_spec_path().read_bytes())


@pytest.fixture(scope="session")
def bundled() -> EsiSpec:
    """The process-wide bundled spec (resources get built as tests go)."""
    return EsiSpec.bundled()


@pytest.fixture
def fresh_bundled(bundled_dict: dict[str, Any]) -> EsiSpec:
    """A new, unbuilt EsiSpec of the bundled spec."""
    return EsiSpec.from_dict(bundled_dict)


@pytest.fixture(scope="session")
def swagger138() -> EsiSpec:
    """Swagger 2.0 1.3.8 (ESI's ``/latest/swagger.json`` as django-esi 7 shipped it)."""
    return EsiSpec.from_file(shared_path(SWAGGER_138))
