"""Which of django-esi's own tests patch django-esi's internals.

``classify(tests_dir, esi_dir)`` reads every test module of a django-esi release (its
``esi/tests``) with ``ast`` and, for every test method, collects the targets of the
``mock.patch`` family it runs under: decorators on the method, on its class and on the
class's bases in the same module, calls in the method's body, in ``setUp`` /
``setUpClass`` / ``setUpTestData`` (and those of its bases), and in ``setUpModule``.
String targets are resolved through the module's string constants (``MODULE_PATH +
".sso.refresh_token"``, f-strings), ``patch.object(X, "attr")`` through the module's
imports (``from .. import openapi_clients as oc`` -> ``esi.openapi_clients``).

The rule. A test *patches django-esi's internals* when one of its targets lies inside
the ``esi`` package of that release (``esi.<module>.<name>[.<attr>...]``) and any of:

1. the module is not part of django-esi's public API. Public modules: ``app_settings``,
   ``clients``, ``decorators``, ``errors``, ``exceptions``, ``managers``, ``models``,
   ``openapi_clients``, ``tasks``, ``urls``, ``views``, plus ``rate_limiting`` (django-esi
   10's public decorators take its bucket classes) and ``templatetags.scope_tags``
   (loaded by templates). Everything else (``sso``, ``helpers``, ``signals``,
   ``aiopenapi3.*``, ``stubs``, ``checks``, ...) is an implementation detail;
2. ``<name>`` is bound in that module by an ``import`` (``esi.managers.OAuth2Session``,
   ``esi.models.app_settings``, ``esi.clients.HttpFuture``, ``esi.views.reverse``): the
   patch relies on how the module is written, not on what it offers;
3. ``<name>`` or any further attribute is private (leading underscore:
   ``esi.managers.TokenManager._decode_jwt``).

The same rule applied to the names a test *module imports* (``from ..managers import
_process_scopes``, ``from esi.aiopenapi3.client import SpecCachingClient``) is reported
separately (``module_imports_internals``): when such a name is missing, every test of the
module fails to import, whatever it patches.

Everything else inside ``esi`` is public: a class, function or setting a public module
defines (``esi.models.Token.refresh``, ``esi.views.sso_redirect``,
``esi.app_settings.ESI_SSO_CLIENT_ID``, ``esi.tasks.refresh_or_delete_token.apply_async``).
Targets outside ``esi`` (``django.utils.timezone.now``, ``httpx2.Client.send``,
``requests_oauthlib.OAuth2Session.refresh_token``) are not django-esi internals; those on
the HTTP library django-esi itself uses (httpx2, bravado) are listed as *transport* patches
for information, since django-esi-ng sends with requests and such patches never see its
traffic.
"""

from __future__ import annotations

import ast
from pathlib import Path

PUBLIC_MODULES = {
    "app_settings", "clients", "decorators", "errors", "exceptions", "managers", "models",
    "openapi_clients", "rate_limiting", "tasks", "templatetags.scope_tags", "urls", "views",
}
TRANSPORT_PREFIXES = ("httpx2", "httpx", "bravado", "aiopenapi3")
PATCH_FUNCS = {"patch", "object", "dict", "multiple"}
SETUP_NAMES = {"setUp", "setUpClass", "setUpTestData", "tearDown", "tearDownClass", "asyncSetUp"}


def module_bindings(path: Path) -> tuple[set[str], set[str]]:
    """(names defined, names imported) at the top level of a module (also inside
    module-level if / try blocks)."""
    tree = ast.parse(path.read_text())
    defined: set[str] = set()
    imported: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    imported.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            defined.add(n.id)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(tree.body)
    return defined, imported - defined


class EsiPackage:
    def __init__(self, esi_dir: Path):
        self.dir = esi_dir
        self._cache: dict[str, tuple[set[str], set[str]] | None] = {}

    def module_file(self, dotted: str) -> Path | None:
        if dotted == "esi":
            return self.dir / "__init__.py"
        if not dotted.startswith("esi."):
            return None
        rel = Path(*dotted.split(".")[1:])
        for cand in (self.dir / rel.with_suffix(".py"), self.dir / rel / "__init__.py"):
            if cand.exists():
                return cand
        return None

    def bindings(self, dotted: str):
        if dotted not in self._cache:
            f = self.module_file(dotted)
            self._cache[dotted] = module_bindings(f) if f else None
        return self._cache[dotted]

    def judge_import(self, target: str) -> tuple[str, str]:
        """The same rule for a name a test module imports (``from esi.managers import
        _process_scopes``, ``from esi.aiopenapi3.client import SpecCachingClient``);
        importing a public module itself is fine."""
        if self.module_file(target):
            short = target[len("esi."):] if target != "esi" else ""
            if target.startswith("esi.tests") or not short or short in PUBLIC_MODULES:
                return "public", f"public module {target}"
            return "internal", f"module {target} is not public API"
        return self.judge(target)

    def judge(self, target: str) -> tuple[str, str]:
        """('internal' | 'public' | 'transport' | 'other', reason)"""
        parts = target.split(".")
        if parts[0] in TRANSPORT_PREFIXES:
            return "transport", f"patches {parts[0]}, the HTTP stack django-esi uses"
        if parts[0] != "esi":
            return "other", "outside esi"
        # longest prefix that is a module of the package
        module, rest = "esi", parts[1:]
        for i in range(len(parts), 1, -1):
            if self.module_file(".".join(parts[:i])):
                module, rest = ".".join(parts[:i]), parts[i:]
                break
        if module.startswith("esi.tests"):
            return "other", "django-esi's test helpers"
        short = module[len("esi."):] if module != "esi" else ""
        if short and short not in PUBLIC_MODULES:
            return "internal", f"module {module} is not public API"
        if not rest:
            return "internal", f"replaces the module {module} itself"
        if any(p.startswith("_") and not p.startswith("__") for p in rest):
            return "internal", f"private name {'.'.join(rest)}"
        b = self.bindings(module)
        if b is not None:
            defined, imported = b
            if rest[0] in imported:
                return "internal", f"{rest[0]} is imported into {module}, not defined there"
        return "public", f"{module}.{rest[0]} is defined by a public module"



def _imported_module(package: str, node: ast.ImportFrom) -> str:
    """The dotted module a ``from ... import`` in ``package`` names, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))

class TestModule:
    def __init__(self, path: Path, dotted: str):
        self.path = path
        self.dotted = dotted  # e.g. esi.tests.test_models
        self.tree = ast.parse(path.read_text())
        self.strings: dict[str, str] = {}
        self.imports: dict[str, str] = {}
        package = dotted.rsplit(".", 1)[0]  # esi.tests
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                v = self.string(node.value)
                if v is not None:
                    self.strings[node.targets[0].id] = v
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.imports[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            if isinstance(node, ast.ImportFrom):
                mod = _imported_module(package, node)
                for a in node.names:
                    self.imports[a.asname or a.name] = f"{mod}.{a.name}"

    def string(self, node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in getattr(self, "strings", {}):
            return self.strings[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.string(node.left), self.string(node.right)
            if left is not None and right is not None:
                return left + right
        if isinstance(node, ast.JoinedStr):
            out = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    out.append(str(v.value))
                elif isinstance(v, ast.FormattedValue):
                    s = self.string(v.value)
                    out.append(s if s is not None else "*")
            return "".join(out)
        return None

    def esi_imports(self) -> list[str]:
        """Every ``esi`` name the module imports, anywhere in it (dotted)."""
        package = self.dotted.rsplit(".", 1)[0]
        found = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom):
                mod = _imported_module(package, node)
                if mod == "esi" or mod.startswith("esi."):
                    found += [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                found += [a.name for a in node.names if a.name == "esi" or a.name.startswith("esi.")]
        return found

    def dotted_expr(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.imports.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted_expr(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def patch_targets(self, node) -> list[str]:
        """Targets of every patch(...) call within ``node``."""
        found = []
        for n in ast.walk(node):
            if not isinstance(n, ast.Call):
                continue
            func = n.func
            name = func.attr if isinstance(func, ast.Attribute) else (func.id if isinstance(func, ast.Name) else None)
            if name not in PATCH_FUNCS:
                continue
            # patch / mock.patch / patch.object / mock.patch.object / patch.dict / patch.multiple
            chain = self.dotted_expr(func) or ""
            if name != "patch" and not chain.endswith(f"patch.{name}"):
                continue
            if name == "patch" and not (chain.endswith("patch") or chain == "patch"):
                continue
            if not n.args:
                continue
            if name == "object":
                obj = self.dotted_expr(n.args[0])
                attr = self.string(n.args[1]) if len(n.args) > 1 else None
                if obj:
                    found.append(f"{obj}.{attr}" if attr else obj)
            elif name == "multiple":
                mod = self.string(n.args[0]) or self.dotted_expr(n.args[0])
                if mod:
                    found.extend(f"{mod}.{kw.arg}" for kw in n.keywords if kw.arg)
            else:
                t = self.string(n.args[0])
                if t is None and name == "dict":
                    t = self.dotted_expr(n.args[0])
                if t:
                    found.append(t)
        return found


def classify(tests_dir: Path, esi_dir: Path) -> dict:
    pkg = EsiPackage(esi_dir)
    tests: dict[str, dict] = {}
    for path in sorted(tests_dir.glob("test*.py")):
        mod = TestModule(path, f"esi.tests.{path.stem}")
        # names of django-esi's internals the module imports: if one is missing, the
        # whole module fails to import (reported, not part of the patch rule)
        internal_imports = [
            f"{t}  ({why})" for t in dict.fromkeys(mod.esi_imports()) for kind, why in [pkg.judge_import(t)]
            if kind == "internal"
        ]
        classes = {n.name: n for n in mod.tree.body if isinstance(n, ast.ClassDef)}
        module_level = []
        for n in mod.tree.body:
            if isinstance(n, ast.FunctionDef) and n.name in ("setUpModule",):
                module_level += mod.patch_targets(n)

        def class_chain(cls: ast.ClassDef, seen=None) -> list[ast.ClassDef]:
            seen = seen or set()
            out = [cls]
            for b in cls.bases:
                if isinstance(b, ast.Name) and b.id in classes and b.id not in seen:
                    seen.add(b.id)
                    out += class_chain(classes[b.id], seen)
            return out

        for cls in classes.values():
            chain = class_chain(cls)
            class_targets = list(module_level)
            methods: dict[str, ast.FunctionDef] = {}
            for c in reversed(chain):
                for d in c.decorator_list:
                    class_targets += mod.patch_targets(d)
                for item in c.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        if item.name in SETUP_NAMES:
                            class_targets += mod.patch_targets(item)
                        elif item.name.startswith("test"):
                            methods[item.name] = item
            for name, fn in methods.items():
                targets = class_targets + mod.patch_targets(fn)
                judged = [(t, *pkg.judge(t)) for t in dict.fromkeys(targets)]
                internal = [(t, why) for t, kind, why in judged if kind == "internal"]
                tests[f"{mod.dotted}.{cls.name}.{name}"] = {
                    "internal": bool(internal),
                    "internal_patches": [f"{t}  ({why})" for t, why in internal],
                    "transport_patches": [t for t, kind, _ in judged if kind == "transport"],
                    "public_patches": [t for t, kind, _ in judged if kind == "public"],
                    "module_imports_internals": internal_imports,
                }
    return {
        "rule": __doc__.split("The rule.", 1)[1].strip(),
        "tests": tests,
        "internal_count": sum(1 for t in tests.values() if t["internal"]),
        "transport_only_count": sum(1 for t in tests.values() if not t["internal"] and t["transport_patches"]),
        "import_internal_count": sum(
            1 for t in tests.values() if not t["internal"] and t["module_imports_internals"]
        ),
    }


if __name__ == "__main__":  # python3 esi_patches.py <wheel-unpack>/esi
    import collections
    import sys

    esi_dir = Path(sys.argv[1])
    result = classify(esi_dir / "tests", esi_dir)
    print(f"{len(result['tests'])} test methods, {result['internal_count']} patch internals, "
          f"{result['transport_only_count']} more patch only the transport, "
          f"{result['import_internal_count']} more are in modules importing internals")
    mods = collections.Counter(
        (t.rsplit(".", 2)[0], i) for t, c in result["tests"].items() if not c["internal"]
        for i in c["module_imports_internals"]
    )
    for (m, i), n in mods.most_common():
        print(f"{n:4d}  {m} imports {i}")
    counter = collections.Counter(p for t in result["tests"].values() for p in t["internal_patches"])
    for p, n in counter.most_common(40):
        print(f"{n:4d}  {p}")
