"""Diagnostic only: ``run.py --probe`` puts this directory on PYTHONPATH of the
django-esi-ng run, to see what fails *behind* the import errors that stop a suite today.

It fills in, at import time, names that django-esi 10.0.0 has and django-esi-ng lacks, and
only when they are still missing (once esi/ defines one, the shim steps aside):

- ``esi.decorators.rate_limit_retry_task``: a pass-through decorator (django-esi 10's
  retries the Celery task on ``ESIBucketLimitException`` / ``ESIErrorLimitException``);
- ``esi.decorators._check_callback``: django-esi 10's helper (allianceauth's mumble views
  import it);
- ``esi.__url__``, ``esi.__title__``;
- ``esi.tests`` (``factories_2``, ``jwt_factory``, ...): django-esi 10.0.0's wheel's
  ``esi/tests``, from ``$DS_PROBE_ESI_TESTS`` (aa-memberaudit's test data imports
  ``esi.tests.factories_2``), unless django-esi-ng has an ``esi.tests`` package itself.

The table never counts probe runs; they go to ``.downstream/<app>/ng-probe/``.
"""

import functools
import importlib.abc
import importlib.util
import os
import sys


def _rate_limit_retry_task(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


def _check_callback(request):
    from esi.models import CallbackRedirect, Token

    if not request.session.exists(request.session.session_key):
        request.session.create()
    try:
        model = CallbackRedirect.objects.get(session_key=request.session.session_key)
        token = Token.objects.get(pk=model.token.pk)
        model.delete()
        return token
    except (CallbackRedirect.DoesNotExist, Token.DoesNotExist, AttributeError):
        return None


SHIMS = {
    "esi": {"__url__": "https://gitlab.com/allianceauth/django-esi", "__title__": "Django-ESI"},
    "esi.decorators": {"rate_limit_retry_task": _rate_limit_retry_task, "_check_callback": _check_callback},
}
ESI_TESTS = os.environ.get("DS_PROBE_ESI_TESTS")
ESI_TESTS_SHIMMED = True


class _Loader(importlib.abc.Loader):
    def __init__(self, inner, names):
        self.inner, self.names = inner, names

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        for name, value in self.names.items():
            if not hasattr(module, name):
                setattr(module, name, value)
                print(f"[probe] shimmed {module.__name__}.{name}", file=sys.stderr)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if ESI_TESTS and fullname == "esi.tests" and self._real_spec(fullname, path, target) is not None:
            global ESI_TESTS_SHIMMED
            ESI_TESTS_SHIMMED = False  # django-esi-ng ships esi.tests now: step aside
        if ESI_TESTS and ESI_TESTS_SHIMMED and (fullname == "esi.tests" or fullname.startswith("esi.tests.")):
            rel = fullname.split(".")[2:]
            base = os.path.join(ESI_TESTS, *rel)
            if os.path.isdir(base):
                return importlib.util.spec_from_file_location(
                    fullname, os.path.join(base, "__init__.py"), submodule_search_locations=[base]
                )
            if os.path.exists(base + ".py"):
                return importlib.util.spec_from_file_location(fullname, base + ".py")
            return None
        if fullname not in SHIMS:
            return None
        spec = self._real_spec(fullname, path, target)
        if spec is not None:
            spec.loader = _Loader(spec.loader, SHIMS[fullname])
        return spec

    def _real_spec(self, fullname, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None


sys.meta_path.insert(0, _Finder())
