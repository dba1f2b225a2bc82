"""The ESI client: django-esi-ng against django-esi 7.0.1 (bravado) and 10.0.0 (aiopenapi3),
on the same emulator, on the same machine, in one run.

    .venv/bin/python bench/client.py                 # everything, a few minutes at most
    .venv/bin/python bench/client.py --quick         # one repeat each, fewer cached calls
    .venv/bin/python bench/client.py --only 7        # one library (ng, 7 or 10)

Figures (the issue's performance table):

* build: a fresh process builds a client for the full spec and makes one call
  (``GET /status``); the time runs from before importing the client module to after the
  call returned (``django.setup()`` is done before and not counted).
  A cold-start row adds the ``django.setup()`` before it: django-esi 7.0.1's ``esi.models``
  imports its client module (bravado), so that import lands in ``django.setup()``.
* peak memory: ``ru_maxrss`` of that same fresh process after the call. Below it, the
  floor: the peak of a fresh process with the same Django site minus ``esi``, plus the HTTP
  library the client sends with (requests; httpx2 for 10.0.0), and the difference, which is
  the library's own cost. The issue's 45 MB goal sits below the floor of a Django site
  with the ORM and requests on this machine, so the library's own cost is the figure that
  can be compared and improved.
* orders: ``results()`` of 10 pages x 1000 market orders (The Forge), every page fetched and
  decoded (the Django cache is cleared before each run, a warm-up run is left out), with
  20 ms of server latency per answer, and again with none (the CPU cost).
* cached call: the mean of many identical ``.result()`` calls after the first one; the
  emulator's request count shows none of them reached it.

Slow figures are medians: of 3 fresh processes for the build, of 5 runs for the orders
(one each with ``--quick``). Each library runs in child processes
(``bench/_esi_children/``) under its own interpreter: django-esi-ng under this one,
django-esi 7.0.1 and 10.0.0 in virtualenvs under bench/.venvs/ with the releases from PyPI
(made on first use). Absolute times depend on the machine's load; the ratios are the claim.

What the harness changes in the compared libraries: nothing in their code, only settings
and where their spec comes from.

* django-esi 7.0.1 gets ``spec_file=``: the Swagger 2.0 spec it ships for its tests
  (``esi/tests/test_swagger_full.json``, ESI 1.3.8, 206 operations) with ``host`` /
  ``schemes`` rewritten to a second emulator that serves that Swagger spec (without
  ``spec_file`` it would download ``ESI_API_URL/latest/swagger.json``; loading a local file
  keeps the network out of the build figure, as for the other two).
* django-esi 10.0.0 gets ``spec_file=``: the OpenAPI 3.1 spec the emulator serves (the one
  bundled with django-esi-ng, 2026-08-04), with ``servers`` rewritten to the emulator
  (without it, it downloads ``ESI_API_URL/meta/openapi.json``; it caches that in the Django
  cache only for CCP's URL). It refuses a client without a ``tags`` / ``operations`` filter
  unless ``DEBUG`` is on, so its unfiltered (headline) run sets ``DEBUG = True``; a filtered
  build (``tags=["Market", "Status"]``) is printed for information. Its default
  ``result()`` raises ``HTTPNotModified`` on a cache hit whose ETag it also stored, so its
  cached call uses ``result(use_etag=False)``, the form that returns the data; the default
  form is printed too.
* django-esi-ng uses bench/settings.py (locmem cache) and its bundled spec. Its package is
  compiled to bytecode first (``compileall``), as installing a wheel does; the other two
  were installed by pip, which compiles them. Its Django has
  ``django_q`` installed on top of the apps the other two get (auth, contenttypes,
  sessions, esi), which counts against it in the memory figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, control, emulator_process, venv_python  # noqa: E402

CHILDREN = ROOT / "bench" / "_esi_children"
OPENAPI_SPEC = ROOT / "esi" / "specs" / "esi_openapi31_2026-08-04.json"
ESI7 = ("django-esi-7", ["django-esi==7.0.1", "Django>=5.2,<6"])
ESI10 = ("django-esi-10", ["django-esi==10.0.0", "Django>=5.2,<6"])
PAGES, ORDERS_PER_PAGE = 10, 1000
NAMES = {"ng": "django-esi-ng", "7": "django-esi 7.0.1", "10": "django-esi 10.0.0"}
GOALS = {"build": 0.050, "rss": 45 * 1024, "orders_latency": 0.120, "orders_cpu": 0.050, "cached": 0.00008}


def market_pages(first_order_id: int = 6_000_000_000) -> list[list[dict[str, Any]]]:
    """10 pages x 1000 orders shaped like The Forge's: every field of the schema, both sides."""
    import random

    rng = random.Random(20260804)
    ranges = ["station", "region", "solarsystem", "1", "2", "3", "4", "5", "10", "20", "30", "40"]
    systems = [30000142, 30000144, 30000139, 30002187, 30002659, 30002510]
    pages, order_id = [], first_order_id
    for _ in range(PAGES):
        page = []
        for _ in range(ORDERS_PER_PAGE):
            order_id += rng.randint(1, 5000)
            total = rng.choice([1, 5, 10, 100, 1000, 10_000, 250_000])
            page.append({
                "duration": rng.choice([1, 3, 7, 14, 30, 90]),
                "is_buy_order": rng.random() < 0.4,
                "issued": f"2026-0{rng.randint(1, 7)}-{rng.randint(10, 28)}T"
                          f"{rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}Z",
                "location_id": rng.choice([60003760, 60008494, 1035466617946, 60004588]),
                "min_volume": 1,
                "order_id": order_id,
                "price": round(rng.uniform(0.01, 5_000_000_000.0), 2),
                "range": rng.choice(ranges),
                "system_id": rng.choice(systems),
                "type_id": rng.randint(18, 60000),
                "volume_remain": rng.randint(1, total),
                "volume_total": total,
            })
        pages.append(page)
    return pages


def patched_spec(source: Path, url: str, target: Path) -> Path:
    """A copy of a spec whose server is the emulator at ``url``."""
    document = json.loads(source.read_text(encoding="utf-8"))
    if "swagger" in document:
        document["host"] = url.split("://", 1)[1]
        document["schemes"] = ["http"]
    else:
        document["servers"] = [{"url": url}]
    target.write_text(json.dumps(document), encoding="utf-8")
    return target


def swagger_source(python: Path) -> Path:
    """django-esi 7.0.1's own full Swagger spec (ESI 1.3.8), from its installed package."""
    found = sorted((python.parent.parent / "lib").glob("python*/site-packages/esi/tests/test_swagger_full.json"))
    if not found:
        sys.exit("django-esi 7.0.1's esi/tests/test_swagger_full.json is missing from its virtualenv")
    return found[0]


class Runner:
    """Runs the child scripts of one library under its interpreter."""

    def __init__(self, lib: str, python: Path, cfg: dict[str, Any]) -> None:
        self.lib, self.python, self.cfg = lib, python, cfg
        env = {**os.environ, "PYTHONWARNINGS": "ignore", "OAUTHLIB_INSECURE_TRANSPORT": "1"}
        for name in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "EMULATOR_URL"):
            env.pop(name, None)
        if lib == "ng":
            env.update(PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="bench.settings", EMULATOR_URL=cfg["url"])
        self.env = env

    def run(self, script: str, **extra: Any) -> dict[str, Any]:
        cfg = {**self.cfg, **extra}
        started = time.perf_counter()
        out = subprocess.run(
            [str(self.python), str(CHILDREN / script), json.dumps(cfg)],
            env=self.env, cwd=str(CHILDREN), capture_output=True, text=True,
        )
        wall = time.perf_counter() - started
        if out.returncode:
            raise ChildFailed(f"{script} for {cfg['lib']} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["wall"] = wall
        return result


class ChildFailed(RuntimeError):
    pass


def measure(runner: Runner, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure for one library (its filtered variant too for django-esi 10)."""
    figures: dict[str, Any] = {}
    builds = [runner.run("build.py") for _ in range(args.build_repeats)]
    figures["build"] = statistics.median(b["seconds"] for b in builds)
    figures["rss"] = statistics.median(b["rss_peak_kb"] for b in builds)
    figures["rss_base"] = statistics.median(b["rss_base_kb"] for b in builds)
    figures["setup"] = statistics.median(b["setup_seconds"] for b in builds)
    figures["cold"] = statistics.median(b["setup_seconds"] + b["seconds"] for b in builds)
    figures["preloaded"] = any(b["preloaded"] for b in builds)
    figures["status"] = builds[0]["status"]
    floors = [runner.run("floor.py") for _ in range(args.build_repeats)]
    figures["rss_floor"] = statistics.median(f["rss_peak_kb"] for f in floors)
    figures["rss_own"] = figures["rss"] - figures["rss_floor"]
    print(
        f"  build + first call {figures['build'] * 1000:.0f} ms (runs: "
        f"{_ms([b['seconds'] for b in builds])}), peak RSS "
        f"{figures['rss'] / 1024:.0f} MB (after django.setup(): {figures['rss_base'] / 1024:.0f} MB), "
        f"django.setup() {figures['setup'] * 1000:.0f} ms",
        flush=True,
    )
    print(
        f"  memory floor (the same Django site without esi, plus its HTTP library): "
        f"{figures['rss_floor'] / 1024:.0f} MB, so the client's own cost is "
        f"{figures['rss_own'] / 1024:.0f} MB",
        flush=True,
    )
    if figures["preloaded"]:
        print("  note: django.setup() imports the client module (esi.models does), so its import "
              "counts in django.setup(), not in the build; the cold-start row has both")
    if runner.lib == "10":
        filtered = Runner("10f", runner.python, {**runner.cfg, "lib": "10f"})
        runs = [filtered.run("build.py") for _ in range(args.build_repeats)]
        figures["build_filtered"] = statistics.median(b["seconds"] for b in runs)
        figures["rss_filtered"] = statistics.median(b["rss_peak_kb"] for b in runs)
        print(
            f"  filtered (tags={['Market', 'Status']}): build + first call "
            f"{figures['build_filtered'] * 1000:.0f} ms, peak RSS {figures['rss_filtered'] / 1024:.0f} MB",
            flush=True,
        )
    calls = runner.run(
        "calls.py", latency=args.latency, repeats=args.repeats, cached_calls=args.cached_calls
    )
    expected = PAGES * ORDERS_PER_PAGE
    if calls["orders_count"] != expected:
        raise ChildFailed(f"{runner.lib}: results() returned {calls['orders_count']} orders, not {expected}")
    figures["orders_latency"] = statistics.median(calls["orders_latency"])
    figures["orders_cpu"] = statistics.median(calls["orders_cpu"])
    figures["cached"] = calls["cached"]
    print(
        f"  results() {expected} orders: {figures['orders_latency'] * 1000:.0f} ms at "
        f"{args.latency * 1000:.0f} ms latency (runs: {_ms(calls['orders_latency'])}), "
        f"{figures['orders_cpu'] * 1000:.0f} ms at 0 ms (runs: {_ms(calls['orders_cpu'])}); "
        f"{calls['orders_requests']} ESI requests per results()",
        flush=True,
    )
    print(
        f"  cached call {figures['cached'] * 1000:.4f} ms (mean of {args.cached_calls}; "
        f"requests reaching the emulator: {calls['cached_requests']})",
        flush=True,
    )
    if calls["cached_requests"]:
        print("  warning: the cached calls reached the emulator: this is not a cache hit")
    if "cached_default_304" in calls:
        figures["cached_default_304"] = calls["cached_default_304"]
        print(
            f"  cached call, default result() (raises HTTPNotModified, no data): "
            f"{calls['cached_default_304'] * 1000:.4f} ms",
            flush=True,
        )
    return figures


def _ms(values: list[float]) -> str:
    return ", ".join(f"{v * 1000:.0f}" for v in values)


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    rows = [
        ("build", "build full client + one call", _time),
        ("cold", "cold start: django.setup() + the above", _time),
        ("rss", "peak memory, full client", lambda kb: f"{kb / 1024:.0f} MB"),
        ("rss_floor", "  of which the floor (Django + HTTP library)", lambda kb: f"{kb / 1024:.0f} MB"),
        ("rss_own", "  of which the library's own", lambda kb: f"{kb / 1024:.1f} MB"),
        ("orders_latency", f"results() 10x1000 orders, {args.latency * 1000:.0f} ms latency", _time),
        ("orders_cpu", "results() 10x1000 orders, 0 ms latency", _time),
        ("cached", "cached call", _time),
    ]
    libs = [lib for lib in ("7", "10", "ng") if lib in results]
    header = ["figure", *(NAMES[lib] for lib in libs)]
    if "ng" in results:
        header += [f"{NAMES[lib]} / ng" for lib in libs if lib != "ng"] + ["goal", "ng meets goal"]
    lines = [header]
    for key, label, fmt in rows:
        line = [label, *(fmt(results[lib][key]) for lib in libs)]
        if "ng" in results:
            ours = results["ng"][key]
            line += [_ratio(results[lib][key], ours) for lib in libs if lib != "ng"]
            if key in GOALS:
                line += [f"<= {fmt(GOALS[key])}", "yes" if ours <= GOALS[key] else "NO"]
            else:
                line += ["-", "-"]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    print()
    for i, row in enumerate(lines):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))
    print("\nratios: their figure / django-esi-ng's (above 1: django-esi-ng is faster or smaller); "
          "absolute times vary with the machine's load")


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.3f} ms"


def _ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}x" if ours > 0 else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat of each slow figure, 300 cached calls")
    parser.add_argument("--only", choices=["ng", "7", "10"], action="append",
                        help="measure this library only (repeatable)")
    parser.add_argument("--latency", type=float, default=0.020, help="server latency for the orders, seconds")
    args = parser.parse_args()
    args.build_repeats = 1 if args.quick else 3
    args.repeats = 1 if args.quick else 5
    args.cached_calls = 300 if args.quick else 2000
    libs = args.only or ["7", "10", "ng"]

    pages = market_pages()
    pythons = {"ng": Path(sys.executable)}
    if "ng" in libs:
        # pip compiles django-esi 7 and 10 to bytecode when it installs them; a checkout is
        # not (and PYTHONDONTWRITEBYTECODE may keep Python from doing it), so compile it
        # as installing a wheel would.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "esi")], check=True)
    if "7" in libs:
        pythons["7"] = venv_python(*ESI7)
    if "10" in libs:
        pythons["10"] = venv_python(*ESI10)

    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp, emulator_process() as openapi_url:
        control(openapi_url, "/_emulator/responses", {"operation": "GetMarketsRegionIdOrders", "pages": pages})
        compatibility_date = control(openapi_url, "/_emulator/state", method="GET")["spec"]["version"]
        swagger_url = None
        with _maybe_swagger_emulator("7" in libs, pythons.get("7")) as swagger_url:
            if swagger_url:
                control(swagger_url, "/_emulator/responses",
                        {"operation": "get_markets_region_id_orders", "pages": pages})
            for lib in libs:
                if lib == "7":
                    cfg = {"lib": lib, "url": swagger_url,
                           "spec_file": str(patched_spec(swagger_source(pythons["7"]), swagger_url,
                                                         Path(tmp) / "swagger.json"))}
                elif lib == "10":
                    cfg = {"lib": lib, "url": openapi_url, "compatibility_date": compatibility_date,
                           "spec_file": str(patched_spec(OPENAPI_SPEC, openapi_url, Path(tmp) / "openapi.json"))}
                else:
                    cfg = {"lib": lib, "url": openapi_url}
                print(f"{NAMES[lib]} ({cfg['url']}):", flush=True)
                try:
                    results[lib] = measure(Runner(lib, pythons[lib], cfg), args)
                except ChildFailed as exc:
                    failures[lib] = str(exc)
                    print(f"  FAILED: {str(exc).splitlines()[-1]}", flush=True)
    if results:
        table(results, args)
    for lib, text in failures.items():
        print(f"\n{NAMES[lib]} could not be measured:\n{text}")
    if failures:
        sys.exit(1)


@contextmanager
def _maybe_swagger_emulator(wanted: bool, python: Path | None) -> Iterator[str | None]:
    if not wanted or python is None:
        yield None
        return
    with emulator_process(swagger_source(python)) as url:
        yield url


if __name__ == "__main__":
    main()
