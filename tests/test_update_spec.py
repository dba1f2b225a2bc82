"""manage.py esi_update_spec against the emulator, which serves its spec at /meta/openapi.json."""

import json

import pytest
from django.core.management import CommandError, call_command

from esi.openapi import EsiSpec


def test_downloads_checks_and_saves_the_spec(emulator, tmp_path, capsys):
    target = tmp_path / "spec.json"
    call_command("esi_update_spec", "--date", "2026-08-04", "--output", str(target))
    assert "Saved the 2026-08-04 spec (225 operations)" in capsys.readouterr().out
    spec = EsiSpec.from_file(target)
    assert spec.compatibility_date == "2026-08-04"
    sent = [r for r in emulator.requests if r.path == "/meta/openapi.json"][-1]
    assert sent.headers["X-Compatibility-Date"] == "2026-08-04"
    assert sent.headers["User-Agent"].startswith("esi_update_spec (tests@example.com) django-esi-ng/")


def test_default_target_is_esi_spec_file(emulator, tmp_path, settings):
    settings.ESI_SPEC_FILE = str(tmp_path / "configured.json")
    call_command("esi_update_spec")
    assert json.loads((tmp_path / "configured.json").read_text())["info"]["version"] == "2026-08-04"


@pytest.mark.parametrize("date", ["tomorrow", "2026-8-4", "2026-08-04; rm -rf /", ""])
def test_bad_date(emulator, tmp_path, date):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("esi_update_spec", "--date", date, "--output", str(tmp_path / "x.json"))


def test_esi_unreachable(db, settings, tmp_path):
    settings.ESI_API_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="Could not download"):
        call_command("esi_update_spec", "--output", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()


def test_answer_that_is_not_a_spec(emulator, tmp_path):
    emulator.faults.add("/meta/openapi.json", status=200, body={"hello": "world"})
    with pytest.raises(CommandError, match="not answer with an ESI spec"):
        call_command("esi_update_spec", "--output", str(tmp_path / "x.json"))
    emulator.faults.clear()
    emulator.faults.add("/meta/openapi.json", status=503)
    with pytest.raises(CommandError, match="Could not download"):
        call_command("esi_update_spec", "--output", str(tmp_path / "x.json"))
    assert not (tmp_path / "x.json").exists()
