from __future__ import annotations

from pathlib import Path

import pytest

from esi.emulator import Emulator

SHARED_SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
SWAGGER_SPEC = SHARED_SPECS / "swagger" / "esi_swagger20_1.3.8.json"


@pytest.fixture(scope="session")
def swagger_emulator_session():
    if not SWAGGER_SPEC.exists():
        pytest.skip(f"{SWAGGER_SPEC} is not available")
    emulator = Emulator(spec_file=SWAGGER_SPEC, client_id="test-client-id", client_secret="test-client-secret")
    with emulator:
        yield emulator


@pytest.fixture
def swagger_emulator(swagger_emulator_session):
    """An emulator serving the Swagger 2.0 spec 1.3.8 (legacy ``/latest`` routes)."""
    swagger_emulator_session.reset(sso=True)
    return swagger_emulator_session
