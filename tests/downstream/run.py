"""Downstream harness: real apps' own test suites against django-esi-ng (``make downstream``).

For each app (allianceauth 5.5.0, aa-memberaudit 5.3.0, django-eveuniverse 2.2.0) this
script

1. downloads the app's **sdist** of the pinned version from PyPI
   (``pip download --no-binary :all: --no-deps``) into ``.downstream/sdists/``;
2. builds two virtualenvs under ``.downstream/<app>/``: ``esi10/`` gets the app with its
   ``[test]`` extras, django-esi 10.0.0 and tblib; ``ng/`` is built the same way and then
   swapped as a user would do it: ``pip uninstall django-esi`` and ``pip install -e
   <this checkout>``. The install is **editable** so a fix in ``esi/`` shows on the next
   run without reinstalling anything; what django-esi 10.0.0 pulled in (aiopenapi3,
   httpx2, python-jose, ...) stays installed, as it would for a user who swaps.
   A stamp file records the inputs (sdist hash, requirements, this script's recipe
   version, the checkout's packaging metadata for ``ng/``); a venv is rebuilt only when
   they change. Django is held below 6 in both, since django-esi-ng supports 5.2 only;
3. runs the app's suite with Django's test runner (``django-admin test <package>``), as
   the apps do upstream, with the settings in ``tests/downstream/sites/ds_<app>/`` and a
   result class (``sites/ds_runner.py``) that records every test's outcome in JSON;
4. prints the table and writes per-test failures with tracebacks to
   ``.downstream/<app>/<run>/failures.log`` (and ``results.json``, ``output.log``).

The baseline's results are kept, and the baseline is not run again while its venv and
the settings are unchanged (``--rerun-baseline`` forces it; ``--no-baseline`` skips it).

``--esi-suites`` (``make downstream-esi``) runs django-esi 7.0.1's and 10.0.0's own test
suites, shipped in their wheels under ``esi/tests/``, against django-esi-ng: in a venv of
their own, django-esi-ng is installed **non-editable** from a snapshot of the working tree
(``esi``, ``esi_dashboard`` and the packaging files), and the wheel's ``esi/tests``
directory is copied into that venv's installed ``esi`` package, so ``esi.tests`` imports as
it does under django-esi, and the checkout is never touched. It is reinstalled on every
run (a few seconds). Each suite also runs against its own release, to show what the
settings allow. Tests that patch django-esi's internals are classified by
``esi_patches.py`` (the rule is written there) and left out of the second count.

All virtualenvs are built first; then every suite run goes through one pool of at most
two test processes (``--jobs``, default 2), each run on a Redis database of its own.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / ".downstream"
SITES = HERE / "sites"
PYTHON = os.environ.get("DS_PYTHON", "python3")

# Bump when the way venvs are built changes, so every stamp goes stale.
RECIPE = 3
BASELINE_ESI = "django-esi==10.0.0"
# django-esi-ng requires Django>=5.2,<6; the baseline gets the same Django so that the
# two runs differ by django-esi only.
CONSTRAINTS = ["django>=5.2,<6"]
# Django's parallel runner needs tblib to send tracebacks from its workers.
COMMON_EXTRAS = ["tblib"]


@dataclass
class App:
    key: str
    dist: str
    version: str
    package: str  # the test label: the app's top-level package
    extras: list[str]
    redis_db: int  # baseline; the django-esi-ng run uses redis_db + 3
    extra_requirements: list[str] = field(default_factory=list)
    issue_counts: tuple[int, int, int] | None = None  # tests, pass 10.0.0, pass ng (issue 10)

    @property
    def spec(self) -> str:
        return f"{self.dist}=={self.version}"


APPS = {
    app.key: app
    for app in [
        App(
            "allianceauth", "allianceauth", "5.5.0", "allianceauth", ["test"], 7,
            # openfire-restapi 1.0.0 renamed its module (ofrestapi -> openfire_restapi);
            # allianceauth 5.5.0 imports ofrestapi, so none of its URLs load with 1.0.0
            extra_requirements=["openfire-restapi<1"],
            issue_counts=(1241, 1235, 0),
        ),
        App("memberaudit", "aa-memberaudit", "5.3.0", "memberaudit", ["test"], 8, issue_counts=(818, 818, 0)),
        App("eveuniverse", "django-eveuniverse", "2.2.0", "eveuniverse", ["test"], 9, issue_counts=(288, 286, 190)),
    ]
}

# What each suite imports besides esi and Django (its [test] extras plus the libraries its
# test modules import directly), installed next to either package.
ESI_SUITES = {
    "7.0.1": {
        "settings": "ds_esi.settings_7",
        "requirements": ["factory_boy", "requests-mock", "tblib", "bravado", "python-jose", "celery", "pytz", "django-redis"],
        "issue": (14, 177),
    },
    "10.0.0": {
        "settings": "ds_esi.settings",
        "requirements": ["factory_boy", "requests-mock", "tblib", "httpx2", "python-jose", "celery", "redis", "django-redis"],
        "issue": (16, 283),
    },
}
# Redis has databases 0-15 here; 0, 1 and 5 belong to others. The apps use 7-12 (baseline
# 7-9, django-esi-ng 10-12), django-esi's suites 13-15 (7.0.1's settings use locmem: its
# two runs only flush 13).
ESI_SUITE_REDIS_DB = {("7.0.1", "own"): 13, ("7.0.1", "ng"): 13, ("10.0.0", "own"): 14, ("10.0.0", "ng"): 15}


# -- helpers ---------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[downstream {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: list[str], logfile: Path | None = None, **kw) -> None:
    """Run a command; on failure show the tail of its output and stop."""
    if logfile:
        with open(logfile, "a") as f:
            f.write(f"\n$ {' '.join(map(str, cmd))}\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
    else:
        proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = logfile.read_text()[-3000:] if logfile else (proc.stdout or "") + (proc.stderr or "")
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{tail}")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hash(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for base in paths:
        files = sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if base.is_dir() else [base]
        for p in files:
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def checkout_packaging_hash() -> str:
    return tree_hash([ROOT / "setup.cfg", ROOT / "setup.py", ROOT / "pyproject.toml"])


_download_lock = threading.Lock()


def download(spec: str, binary: bool = False) -> Path:
    """The sdist (or wheel) of ``spec`` in .downstream/sdists, downloaded once."""
    with _download_lock:
        return _download(spec, binary)


def _download(spec: str, binary: bool) -> Path:
    dest = OUT / ("wheels" if binary else "sdists")
    dest.mkdir(parents=True, exist_ok=True)
    name, version = spec.split("==")
    norm = re.sub(r"[-_.]+", "_", name).lower()
    pattern = f"{norm}-{version}-*.whl" if binary else f"{norm}-{version}.tar.gz"
    found = [p for p in dest.glob(pattern)] + [p for p in dest.glob(pattern.replace(norm, name))]
    if found:
        return found[0]
    flags = ["--only-binary", ":all:"] if binary else ["--no-binary", ":all:"]
    log(f"downloading {spec} ({'wheel' if binary else 'sdist'}) from PyPI")
    run([PYTHON, "-m", "pip", "download", "--no-deps", *flags, spec, "-d", str(dest)])
    found = [p for p in dest.glob(pattern)] + [p for p in dest.glob(pattern.replace(norm, name))]
    if not found:
        raise SystemExit(f"pip download {spec} left no {pattern} in {dest}")
    return found[0]


class Venv:
    def __init__(self, path: Path):
        self.path = path
        self.python = path / "bin" / "python"
        self.stamp = path / ".ds-stamp"

    def fresh(self, stamp: dict) -> bool:
        return self.python.exists() and self.stamp.exists() and json.loads(self.stamp.read_text()) == stamp

    def create(self, logfile: Path) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)
        run([PYTHON, "-m", "venv", str(self.path)], logfile)
        self.pip(["install", "--upgrade", "pip"], logfile)

    def pip(self, args: list[str], logfile: Path) -> None:
        run([str(self.python), "-m", "pip", "--disable-pip-version-check", *args], logfile)

    def constraints_file(self) -> Path:
        path = self.path / "ds-constraints.txt"
        path.write_text("\n".join(CONSTRAINTS) + "\n")
        return path

    def site_packages(self) -> Path:
        out = subprocess.run(
            [str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        )
        return Path(out.stdout.strip())


# -- apps ------------------------------------------------------------------------------


def build_app_venv(app: App, mode: str) -> Venv:
    """``mode`` is ``esi10`` (baseline) or ``ng`` (django-esi swapped for the checkout)."""
    sdist = download(app.spec)
    venv = Venv(OUT / app.key / mode / "venv")
    stamp = {
        "recipe": RECIPE,
        "python": subprocess.run([PYTHON, "--version"], capture_output=True, text=True).stdout.strip(),
        "sdist": sdist.name,
        "sdist_sha256": sha256(sdist),
        "extras": app.extras,
        "requirements": [BASELINE_ESI, *COMMON_EXTRAS, *app.extra_requirements],
        "constraints": CONSTRAINTS,
    }
    if mode == "ng":
        stamp["checkout_packaging"] = checkout_packaging_hash()
    if venv.fresh(stamp):
        return venv
    logfile = OUT / app.key / mode / "build.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.write_text("")
    log(f"{app.key}/{mode}: building the virtualenv (log: {logfile.relative_to(ROOT)})")
    venv.create(logfile)
    constraints = venv.constraints_file()
    extras = f"[{','.join(app.extras)}]" if app.extras else ""
    venv.pip(
        ["install", "-c", str(constraints), f"{app.dist}{extras} @ file://{sdist}", BASELINE_ESI,
         *COMMON_EXTRAS, *app.extra_requirements],
        logfile,
    )
    if mode == "ng":
        venv.pip(["uninstall", "-y", "django-esi"], logfile)
        venv.pip(["install", "-c", str(constraints), "-e", str(ROOT)], logfile)
    venv.pip(["freeze"], logfile)
    venv.stamp.write_text(json.dumps(stamp))
    return venv


def flush_redis(venv: Venv, db: int) -> None:
    code = f"import redis; redis.Redis(host='127.0.0.1', port=6379, db={db}).flushdb()"
    subprocess.run([str(venv.python), "-c", code], check=True, capture_output=True)


def run_django_suite(
    venv: Venv, workdir: Path, settings: str, labels: list[str], redis_db: int, parallel: int, timeout: int,
    extra_env: dict | None = None,
) -> dict:
    """Run Django's test runner in ``venv``; returns the recorded outcomes."""
    workdir.mkdir(parents=True, exist_ok=True)
    result_json = workdir / "results.json"
    output = workdir / "output.log"
    result_json.unlink(missing_ok=True)
    flush_redis(venv, redis_db)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DS_", "PYTHON"))},
        "DJANGO_SETTINGS_MODULE": settings,
        "PYTHONPATH": str(SITES),
        "DS_RESULT_JSON": str(result_json),
        "DS_REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("REDIS_URL", None)
    env.update(extra_env or {})
    cmd = [str(venv.python), "-m", "django", "test", *labels, "--noinput", "-v", "2"]
    if parallel > 1:
        cmd += ["--parallel", str(parallel)]
    started = time.monotonic()
    with open(output, "w") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        try:
            proc = subprocess.run(cmd, cwd=workdir, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
            returncode = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = "timeout"
    seconds = round(time.monotonic() - started, 1)
    if result_json.exists():
        data = json.loads(result_json.read_text())
    else:
        # the runner never got to run tests: the settings or an import failed before
        data = {"collected": [], "records": {}, "startup_failure": output.read_text()[-6000:]}
    data["returncode"] = returncode
    data["wall_seconds"] = seconds
    result_json.write_text(json.dumps(data, indent=1))
    write_failures(data, workdir / "failures.log")
    return data


PASSING = ("success", "expected_failure")


def summarize(data: dict) -> dict:
    records = data.get("records", {})
    collected = set(data.get("collected", [])) | set(records)
    # a test whose class failed in setUpClass has no record of its own: it did not pass
    passed = sum(1 for r in records.values() if r["outcome"] in PASSING)
    counts: dict[str, int] = {}
    for r in records.values():
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return {"tests": len(collected), "passed": passed, "counts": counts, "started": bool(collected)}


def write_failures(data: dict, path: Path) -> None:
    lines = []
    if "startup_failure" in data:
        lines.append("THE SUITE DID NOT START. Tail of output.log:\n")
        lines.append(data["startup_failure"])
    records = data.get("records", {})
    bad = {k: v for k, v in records.items() if v["outcome"] not in PASSING + ("skipped",)}
    lines.append(f"{len(bad)} tests failed or errored (of {len(records)} recorded)\n")
    for test_id in sorted(bad):
        r = bad[test_id]
        lines.append("=" * 78)
        lines.append(f"{r['outcome'].upper()}: {test_id}")
        lines.append("-" * 78)
        lines.append(r.get("detail", ""))
    path.write_text("\n".join(lines))


def prepare_app(app: App, baseline: str, parallel: int, timeout: int) -> tuple[dict, list]:
    """Build the app's venvs; return its results dict (filled in by the returned tasks)
    and the suite runs still to do. baseline: 'run', 'cached' (reuse stored results if
    still valid) or 'skip'."""
    results: dict = {}
    tasks: list = []
    settings_hash = tree_hash([SITES])
    modes = ["esi10", "ng"] if baseline != "skip" else ["ng"]
    stored = OUT / app.key / "esi10" / "results.json"
    if baseline == "skip" and stored.exists():
        # show the last baseline measured, marked as such
        results["esi10"] = json.loads(stored.read_text())
        results["esi10"]["cached"] = True
    for mode in modes:
        venv = build_app_venv(app, mode)
        db = app.redis_db + (3 if mode == "ng" else 0)
        key = json.dumps({"stamp": venv.stamp.read_text(), "sites": settings_hash})
        if mode == "esi10" and baseline == "cached":
            cached = OUT / app.key / mode / "results.json"
            key_file = OUT / app.key / mode / "results.key"
            if cached.exists() and key_file.exists() and key_file.read_text() == key:
                results[mode] = json.loads(cached.read_text())
                results[mode]["cached"] = True
                continue

        def task(mode=mode, venv=venv, db=db, key=key):
            log(f"{app.key}/{mode}: running the suite")
            data = run_django_suite(
                venv, OUT / app.key / mode, f"ds_{app.key}.settings", [app.package], db, parallel, timeout
            )
            s = summarize(data)
            log(f"{app.key}/{mode}: {s['passed']}/{s['tests']} passed in {data['wall_seconds']} s {s['counts']}")
            if mode == "esi10":
                (OUT / app.key / mode / "results.key").write_text(key)
            results[mode] = data

        tasks.append(task)
    return results, tasks


def snapshot_checkout(dest: Path) -> Path:
    """A copy of the working tree's package sources, so a non-editable install never
    builds inside the checkout (where the lead may be working)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in ["setup.cfg", "setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE"]:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ["esi", "esi_dashboard"]:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=ignore)
    return dest


def build_esi_suite_venv(version: str, target: str) -> Venv:
    """target 'own': django-esi <version> itself (its wheel ships its tests); 'ng':
    django-esi-ng with that wheel's esi/tests copied into the installed esi package."""
    wheel = download(f"django-esi=={version}", binary=True)
    conf = ESI_SUITES[version]
    venv = Venv(OUT / "esi-suites" / version / target / "venv")
    logfile = OUT / "esi-suites" / version / target / "build.log"
    stamp = {
        "recipe": RECIPE,
        "wheel_sha256": sha256(wheel),
        "requirements": conf["requirements"],
        "constraints": CONSTRAINTS,
    }
    if target == "ng":
        stamp["checkout_packaging"] = checkout_packaging_hash()
    if not venv.fresh(stamp):
        logfile.parent.mkdir(parents=True, exist_ok=True)
        logfile.write_text("")
        log(f"esi-suites {version}/{target}: building the virtualenv")
        venv.create(logfile)
        constraints = venv.constraints_file()
        if target == "own":
            venv.pip(["install", "-c", str(constraints), str(wheel), *conf["requirements"]], logfile)
        else:
            snap = snapshot_checkout(OUT / "esi-suites" / "checkout-snapshot")
            venv.pip(["install", "-c", str(constraints), str(snap), *conf["requirements"]], logfile)
        venv.stamp.write_text(json.dumps(stamp))
    if target == "ng":
        # always the working tree as it is now; no dependency changes (the stamp covers those)
        snap = snapshot_checkout(OUT / "esi-suites" / "checkout-snapshot")
        venv.pip(["install", "--no-deps", "--force-reinstall", str(snap)], logfile)
        esi_dir = venv.site_packages() / "esi"
        tests_dir = esi_dir / "tests"
        if tests_dir.exists():
            shutil.rmtree(tests_dir)
        unpack = OUT / "esi-suites" / version / "wheel"
        if not (unpack / "esi" / "tests").exists():
            import zipfile

            with zipfile.ZipFile(wheel) as z:
                z.extractall(unpack)
        shutil.copytree(unpack / "esi" / "tests", tests_dir)
    return venv


def prepare_esi_suites(versions: list[str], timeout: int, rerun_own: bool = False) -> tuple[dict, list, object]:
    """Build the venvs of django-esi's own suites; return the results dict, the suite runs
    to do and a function to call after them (it adds the patch classification)."""
    sys.path.insert(0, str(HERE))
    import esi_patches  # noqa: E402

    out: dict = {version: {} for version in versions}
    tasks: list = []
    settings_hash = tree_hash([SITES])
    for version in versions:
        for target in ["own", "ng"]:
            venv = build_esi_suite_venv(version, target)
            key = json.dumps({"stamp": venv.stamp.read_text(), "sites": settings_hash})
            if target == "own" and not rerun_own:
                # the suite on its own release only changes with its venv or the settings
                cached = OUT / "esi-suites" / version / target / "results.json"
                key_file = cached.with_name("results.key")
                if cached.exists() and key_file.exists() and key_file.read_text() == key:
                    out[version][target] = {**json.loads(cached.read_text()), "cached": True}
                    continue

            def task(version=version, target=target, venv=venv, key=key):
                log(f"esi-suites {version}/{target}: running the suite")
                data = run_django_suite(
                    venv, OUT / "esi-suites" / version / target, ESI_SUITES[version]["settings"], ["esi.tests"],
                    ESI_SUITE_REDIS_DB[(version, target)], 1, timeout,
                )
                s = summarize(data)
                log(f"esi-suites {version}/{target}: {s['passed']}/{s['tests']} passed {s['counts']}")
                if target == "own":
                    (OUT / "esi-suites" / version / target / "results.key").write_text(key)
                out[version][target] = data

            tasks.append(task)

    def finish():
        for version in versions:
            unpack = OUT / "esi-suites" / version / "wheel"
            classification = esi_patches.classify(unpack / "esi" / "tests", unpack / "esi")
            path = OUT / "esi-suites" / version / "patch-classification.json"
            path.write_text(json.dumps(classification, indent=1))
            out[version]["classification"] = classification

    return out, tasks, finish


# -- the table -------------------------------------------------------------------------


def fmt_count(data: dict | None, total: int | None = None) -> str:
    if data is None:
        return "-"
    s = summarize(data)
    if not s["started"]:
        return "0 (does not start)"
    return f"{s['passed']}" + (f" (of {s['tests']})" if total is not None and s["tests"] != total else "")


def print_table(app_results: dict, esi_results: dict) -> str:
    lines = []
    if app_results:
        lines.append("| app | tests | pass with django-esi 10.0.0 | pass with django-esi-ng |")
        lines.append("|---|---:|---:|---:|")
        for key, res in app_results.items():
            app = APPS[key]
            base = res.get("esi10")
            ng = res.get("ng")
            total = summarize(base)["tests"] if base else (summarize(ng)["tests"] if ng else 0)
            lines.append(
                f"| {app.dist} {app.version} | {total} | {fmt_count(base)}"
                f"{' (cached)' if base and base.get('cached') else ''} | {fmt_count(ng, total)} |"
            )
    if esi_results:
        if lines:
            lines.append("")
        lines.append(
            "| django-esi suite | tests | pass on its own release | pass with django-esi-ng |"
            " tests not patching esi internals | of those, pass with django-esi-ng |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|")
        for version, res in esi_results.items():
            own, ng, cls = res.get("own"), res.get("ng"), res["classification"]
            internal = {t for t, c in cls["tests"].items() if c["internal"]}
            own_s = summarize(own)
            ng_records = ng.get("records", {})
            # test ids from the run that are not in the internal set
            all_ids = set(own.get("collected", [])) | set(own.get("records", {}))
            kept = [t for t in all_ids if t not in internal]
            kept_pass = sum(1 for t in kept if ng_records.get(t, {}).get("outcome") in PASSING)
            lines.append(
                f"| {version} (esi/tests) | {own_s['tests']} | {own_s['passed']}"
                f"{' (cached)' if own.get('cached') else ''} | {fmt_count(ng, own_s['tests'])}"
                f" | {len(kept)} | {kept_pass} |"
            )
    for version, res in esi_results.items():
        cls, ng = res["classification"], res.get("ng") or {}
        own = res.get("own") or {}
        ids = set(own.get("collected", [])) | set(own.get("records", {}))
        clean = [t for t in ids if t in cls["tests"] and not cls["tests"][t]["internal"]
                 and not cls["tests"][t]["module_imports_internals"]]
        clean_pass = sum(1 for t in clean if ng.get("records", {}).get(t, {}).get("outcome") in PASSING)
        lines.append(
            f"{version}: {cls['import_internal_count']} of the tests not patching internals sit in modules that import"
            f" internals; neither patching nor importing internals: {len(clean)}, pass with django-esi-ng: {clean_pass}"
        )
    table = "\n".join(lines)
    print(table)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app", action="append", default=[], help=f"one of {', '.join(APPS)} (repeatable, or comma separated)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the django-esi 10.0.0 runs")
    parser.add_argument("--rerun-baseline", action="store_true", help="run the baseline even if its stored results are valid")
    parser.add_argument(
        "--esi-suites", action="store_true",
        help="also run django-esi 7.0.1's and 10.0.0's own suites (the default when no --app is given)",
    )
    parser.add_argument("--no-esi-suites", action="store_true", help="do not run django-esi's own suites")
    parser.add_argument("--only-esi-suites", action="store_true", help="run only django-esi's own suites")
    parser.add_argument("--esi-version", action="append", default=[], help="7.0.1 or 10.0.0 (default both)")
    parser.add_argument("--jobs", type=int, default=2, help="test processes at a time (default 2)")
    parser.add_argument("--parallel", type=int, default=1, help="Django --parallel inside each run (default 1)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per suite run")
    args = parser.parse_args(argv)

    keys = [k for a in args.app for k in a.split(",") if k] or ([] if args.only_esi_suites else list(APPS))
    for k in keys:
        if k not in APPS:
            parser.error(f"unknown app {k!r}; choose from {', '.join(APPS)}")
    if args.jobs * args.parallel > 2:
        log(f"note: up to {args.jobs * args.parallel} test processes at a time")
    OUT.mkdir(exist_ok=True)
    started = time.monotonic()
    baseline = "skip" if args.no_baseline else ("run" if args.rerun_baseline else "cached")
    # every venv first, then all suite runs through one pool of --jobs processes; each run
    # has a Redis database of its own, so any two may run side by side
    tasks: list = []
    app_results = {}
    for k in keys:
        app_results[k], app_tasks = prepare_app(APPS[k], baseline, args.parallel, args.timeout)
        tasks += app_tasks
    esi_results: dict = {}
    finish = None
    if (args.esi_suites or args.only_esi_suites or not args.app) and not args.no_esi_suites:
        versions = args.esi_version or list(ESI_SUITES)
        esi_results, esi_tasks, finish = prepare_esi_suites(versions, args.timeout, rerun_own=args.rerun_baseline)
        tasks += esi_tasks
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for future in [pool.submit(t) for t in tasks]:
            future.result()
    if finish:
        finish()
    print()
    table = print_table(app_results, esi_results)
    (OUT / "table.md").write_text(table + "\n")
    print()
    print(f"details: {OUT.relative_to(ROOT)}/<app>/<esi10|ng>/failures.log; table in {OUT.relative_to(ROOT)}/table.md")
    print(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
