"""Sphinx configuration for django-esi-ng.

The build runs offline (no intersphinx) and with ``-W``: a warning fails it. Autodoc
imports the package, so Django is set up with the test settings first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import esi  # noqa: E402

project = "django-esi-ng"
author = "django-esi-ng contributors"
copyright = "2026, django-esi-ng contributors"
release = esi.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

exclude_patterns = ["_build"]
root_doc = "index"
language = "en"

autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_title = f"django-esi-ng {release}"
