"""Instructions, not seconds: django-esi-ng's ESI client at several source revisions, counted
by valgrind's callgrind, which repeats to the instruction whatever else the machine does.

    .venv/bin/python bench/instructions.py --rev 9d4193b          # that revision vs the work tree
    .venv/bin/python bench/instructions.py --rev main~3 --rev main

Counts, per revision (checked out under bench/.worktrees/, git-ignored; ``.`` is the work
tree), against one emulator process:

* one ``results()`` of 10 pages x 1000 market orders (bench/client.py's orders, the Django
  cache emptied first, so every page is fetched, parsed and decoded);
* one cached ``client.Status.get_status().result()``.

Each figure is the difference between a process making ``--runs`` / ``--calls`` of them
and one making none, divided by that number, so start-up and warm-up drop out. The work
tree's bench/_esi_children/ drives every revision; each revision's own ``esi`` and
bench/settings.py are imported. Needs valgrind. Use it for before/after claims about the
client's own cost on a loaded machine; bench/client.py gives the seconds and the comparison
with django-esi 7.0.1 and 10.0.0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import ROOT, control, emulator_process  # noqa: E402
from bench.client import market_pages  # noqa: E402

CHILD = ROOT / "bench" / "_esi_children" / "instructions.py"
WORKTREES = ROOT / "bench" / ".worktrees"


def tree(rev: str) -> Path:
    """The source tree of ``rev`` (``.``: the work tree), checked out once."""
    if rev == ".":
        return ROOT
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    path = WORKTREES / sha[:12]
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=ROOT, check=True, capture_output=True)
    return path


def instructions(source: Path, url: str, runs: int, calls: int) -> int:
    """Instructions callgrind counts for one child process."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "EMULATOR_URL": url,
            "BENCH_SQLITE": str(Path(tmp) / "bench.sqlite3"),
            "PYTHONHASHSEED": "0",
        }
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/callgrind.out",
             sys.executable, str(CHILD), json.dumps({"url": url, "runs": runs, "calls": calls})],
            env=env, capture_output=True, text=True,
        )
        if out.returncode:
            sys.exit(f"the child failed at {source}:\n{out.stderr[-3000:]}")
        found = re.search(r"Collected : (\d+)", out.stderr)
        if found is None:
            sys.exit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", action="append", default=[], help="a git revision (repeatable); '.' is the work tree")
    parser.add_argument("--runs", type=int, default=3, help="results() per process (default 3)")
    parser.add_argument("--calls", type=int, default=1000, help="cached calls per process (default 1000)")
    args = parser.parse_args()
    if args.runs < 1 or args.calls < 1:
        parser.error("--runs and --calls must be at least 1")
    revs = args.rev or ["HEAD"]
    if "." not in revs:
        revs.append(".")
    rows = []
    with emulator_process() as url:
        control(url, "/_emulator/responses", {"operation": "GetMarketsRegionIdOrders", "pages": market_pages()})
        for rev in revs:
            source = tree(rev)
            base = instructions(source, url, 0, 0)
            orders = (instructions(source, url, args.runs, 0) - base) / args.runs
            cached = (instructions(source, url, 0, args.calls) - base) / args.calls
            rows.append((rev, orders, cached))
            print(f"{rev:>14}: results() 10x1000 orders {orders / 1e6:8.2f} M instructions, cached call {cached / 1e3:7.1f} k", flush=True)
    first = rows[0]
    print("\nrelative to", first[0])
    for rev, orders, cached in rows:
        print(f"{rev:>14}: results() x{orders / first[1]:.3f}, cached call x{cached / first[2]:.3f}")


if __name__ == "__main__":
    main()
