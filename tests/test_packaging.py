"""The project's promises about itself: every setting and every system check documented,
a changelog with an Unreleased section, a version pip accepts, and the bundled spec
declared as package data.

The archives themselves are checked by ``make build`` (``.ci/check-dist``).
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from packaging.version import Version

import esi
from esi import app_settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# A section title that is a setting name in literal markup, underlined:
#   ``ESI_SSO_CLIENT_ID``
#   ~~~~~~~~~~~~~~~~~~~~~
TITLE = re.compile(r"^``(ESI_[A-Z0-9_]+)``\n([~\-=^\"])\2+$", re.MULTILINE)
CHECK_TITLE = re.compile(r"^``(esi\.[EW]\d{3})``\n([~\-=^\"])\2+$", re.MULTILINE)


def _sections(text: str, title: re.Pattern[str]) -> dict[str, str]:
    """Map each matching section title to the text up to the next title."""
    matches = list(title.finditer(text))
    return {
        m.group(1): text[m.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        for i, m in enumerate(matches)
    }


def test_every_setting_has_exactly_one_section() -> None:
    text = (DOCS / "settings.rst").read_text(encoding="utf-8")
    titles = [m.group(1) for m in TITLE.finditer(text)]
    duplicates = sorted({name for name in titles if titles.count(name) > 1})
    assert not duplicates, f"settings documented twice: {duplicates}"
    assert set(titles) == set(app_settings.DEFAULTS), (
        f"undocumented: {sorted(set(app_settings.DEFAULTS) - set(titles))}; "
        f"documented but not in DEFAULTS: {sorted(set(titles) - set(app_settings.DEFAULTS))}"
    )


@pytest.mark.parametrize("name", sorted(app_settings.DEFAULTS))
def test_documented_default_matches_defaults_table(name: str) -> None:
    section = _sections((DOCS / "settings.rst").read_text(encoding="utf-8"), TITLE)[name]
    found = re.search(r"\*\*Default:\*\* ``(.+?)``", section)
    assert found, f"{name}: no '**Default:** ``...``' line"
    assert found.group(1) == repr(app_settings.DEFAULTS[name])
    prose = section[found.end() :].strip()
    assert len(prose.split()) >= 15, f"{name}: say what it does and when to change it"


def test_every_system_check_is_documented() -> None:
    source = (ROOT / "esi" / "checks.py").read_text(encoding="utf-8")
    # Every quoted check id: passed as id=..., or returned by a setting rule.
    ids = set(re.findall(r"""["'](esi\.[EW]\d{3})["']""", source))
    assert ids, "no check ids found in esi/checks.py"
    documented = set(_sections((DOCS / "checks.rst").read_text(encoding="utf-8"), CHECK_TITLE))
    assert documented == ids, (
        f"undocumented: {sorted(ids - documented)}; stale: {sorted(documented - ids)}"
    )


def test_version_is_pep440_and_single_sourced() -> None:
    Version(esi.__version__)
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    assert config["metadata"]["version"].strip() == "attr: esi.__version__"


def test_changelog_opens_with_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, re.MULTILINE)
    assert versions and versions[0] == "Unreleased"


def test_bundled_spec_is_package_data() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    patterns = config["options.package_data"]["esi"].split()
    specs = sorted((ROOT / "esi" / "specs").glob("*.json"))
    assert specs, "no bundled spec in esi/specs/"
    for spec in specs:
        relative = spec.relative_to(ROOT / "esi")
        assert any(relative.match(p) for p in patterns), f"{relative} not in package_data"
