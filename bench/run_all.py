"""Every benchmark, one after another, each in its own process (``make bench``).

Exit status 1 when any benchmark missed a target (or failed to run); everything is printed
first.

    .venv/bin/python -m bench.run_all [interactions generation latency workers queries]
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.common import ROOT

BENCHMARKS = ("interactions", "generation", "latency", "workers", "queries")


def main() -> int:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
        return 2
    outcomes: list[tuple[str, int, float]] = []
    for name in chosen:
        print(f"\n=== bench.{name} ===", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=str(ROOT))
        outcomes.append((name, code, time.monotonic() - start))
    print()
    for name, code, seconds in outcomes:
        verdict = "PASS" if code == 0 else f"FAIL (exit {code})"
        print(f"bench.{name}: {verdict} in {seconds:.0f} s")
    failed = [name for name, code, _ in outcomes if code != 0]
    print(f"run_all: {'PASS' if not failed else 'FAIL (' + ', '.join(failed) + ')'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
