"""What a process pays for at start-up: django.setup() and building the client import neither
the SSO stack (PyJWT, cryptography, oauthlib) nor the spec engine (bravado-core,
jsonschema), which load only when a login, a token check or a slow-path call needs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "esi"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
)
django.setup()
after_setup = sorted(m for m in HEAVY if m in sys.modules)
from esi.clients import EsiClientProvider
client = EsiClientProvider(app_info_text="probe").client
client.Status.get_status  # resolving an operation builds nothing
dir(client.Universe)
after_client = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps({"after_setup": after_setup, "after_client": after_client}))
"""
HEAVY = ["jwt", "cryptography", "oauthlib", "requests_oauthlib", "bravado_core", "jsonschema"]


def test_setup_and_client_build_import_no_sso_stack_and_no_spec_engine():
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert imported == {"after_setup": [], "after_client": []}
