"""Group the failures of a downstream run by root cause.

    python3 tests/downstream/triage.py .downstream/eveuniverse/ng [--examples 2] [--context 25]

Reads ``results.json`` in that directory and groups failing tests by the last exception
line of their traceback (numbers, addresses and quoted values normalised), most tests
first, with example tests and the tail of one traceback each.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

PASSING = ("success", "expected_failure", "skipped")


def cause(detail: str) -> str:
    lines = [l for l in detail.strip().splitlines() if l.strip()]
    # the last line that looks like "SomeError: message" (or a bare exception name)
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|NoMatches|Failed|Warning)\b", line) or re.match(
            r"^[A-Za-z_][\w.]*: ", line
        ):
            return line.strip()
    return lines[-1].strip() if lines else "(no traceback)"


def normalise(line: str) -> str:
    line = re.sub(r"0x[0-9a-f]+", "0x…", line)
    line = re.sub(r"\b\d+(\.\d+)?\b", "N", line)
    line = re.sub(r"'[^']{40,}'", "'…'", line)
    return line[:300]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rundir", type=Path)
    parser.add_argument("--examples", type=int, default=2)
    parser.add_argument("--context", type=int, default=20, help="traceback lines shown per group")
    args = parser.parse_args()
    data = json.loads((args.rundir / "results.json").read_text())
    if "startup_failure" in data:
        print("DID NOT START:\n" + data["startup_failure"][-4000:])
    groups: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    for test_id, rec in data.get("records", {}).items():
        if rec["outcome"] in PASSING:
            continue
        groups[normalise(cause(rec.get("detail", "")))].append((test_id, rec))
    total = sum(len(v) for v in groups.values())
    print(f"{total} failing tests in {len(groups)} groups\n")
    for key, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print("#" * 78)
        print(f"{len(items)} x {key}")
        modules = sorted({t.rsplit('.', 2)[0] for t, _ in items})
        print(f"   in {len(modules)} modules: {', '.join(modules[:6])}{' …' if len(modules) > 6 else ''}")
        for test_id, _ in items[: args.examples]:
            print(f"   e.g. {test_id}")
        detail = items[0][1].get("detail", "")
        print("\n".join("   | " + l for l in detail.strip().splitlines()[-args.context:]))
        print()


if __name__ == "__main__":
    main()
