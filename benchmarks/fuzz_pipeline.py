"""Long fuzz run of nnlint's parse/lint/fix pipeline on generated files.

The files come from ``tests/linter/fuzz_sources.py`` (real-looking model code, Python 2
leftovers, broken code, deep chains; LF/CRLF/CR, UTF-8/latin-1/BOM, stray bytes) and each is
checked against the same invariants as the bounded test in the suite: no exception, no NN002,
NN001 exactly when Python refuses the file, fixes that compile, are idempotent and keep every
other byte. Prints what it saw; exit 1 if any invariant broke.

    python benchmarks/fuzz_pipeline.py --examples 3000 --seed 1
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "linter"))

from fuzz_sources import (  # noqa: E402
    DEFAULT,
    invariant_violations,
    python_accepts,
    source_files,
)
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from nnlint.engine import lint_source  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    codes: collections.Counter[str] = collections.Counter()
    times: list[float] = []
    failures: list[tuple[bytes, list[str]]] = []
    tally = collections.Counter()

    @seed(args.seed)
    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(source_files())
    def run_one(source: bytes) -> None:
        start = time.perf_counter()
        problems = invariant_violations(source)
        times.append(time.perf_counter() - start)
        findings = lint_source(source, "fuzz.py", DEFAULT).findings
        codes.update(f.code for f in findings)
        tally["files"] += 1
        tally["bytes"] += len(source)
        tally["rejected by Python"] += not python_accepts(source)
        tally["fixed"] += lint_source(source, "fuzz.py", DEFAULT, fix=True).fixed_source is not None
        if problems:
            failures.append((source, problems))

    started = time.perf_counter()
    run_one()
    wall = time.perf_counter() - started
    print(f"seed {args.seed}: {tally['files']} files, {tally['bytes']:,} bytes, {wall:.1f} s")
    print(
        f"rejected by Python: {tally['rejected by Python']}; fixed: {tally['fixed']}; "
        f"findings: {dict(sorted(codes.items()))}"
    )
    if times:
        print(
            f"invariant check per file: median {statistics.median(times) * 1000:.1f} ms, "
            f"max {max(times) * 1000:.0f} ms"
        )
    print(f"invariant violations: {len(failures)}")
    for source, problems in failures[:5]:
        print(f"  {problems[0][:200]}\n    file: {source[:300]!r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
