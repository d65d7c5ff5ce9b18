"""What Python's syntax judge costs next to the libcst parse it guards, phase by phase.

    python benchmarks/syntax_judge_cost.py [CORPUS]   # default: the timm corpus of corpus.py

Each phase runs over the same files, best of 3, CPU seconds of this process.
"""

from __future__ import annotations

import ast
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import libcst  # noqa: E402
from corpus import ensure_corpus  # noqa: E402

from nnlint.engine import LintSettings, could_have_findings  # noqa: E402
from nnlint.syntax import check, compile_problem, decode  # noqa: E402


def best_of_3(work: Callable[[bytes], object], files: Sequence[bytes]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for source in files:
            work(source)
        best = min(best, time.process_time() - start)
    return best


def judge_only(source: bytes) -> object:
    return compile_problem(decode(source).text, "f")


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else ensure_corpus("timm")
    sources = [p.read_bytes() for p in sorted(root.rglob("*.py")) if p.is_file()]
    settings = LintSettings.default()
    parsed = [s for s in sources if could_have_findings(s, settings)]
    skipped = [s for s in sources if not could_have_findings(s, settings)]
    gc.disable()  # as in the engine, which pauses the GC for each file
    rows = [
        ("libcst.parse_module", parsed, libcst.parse_module),
        ("decode + compile with the depth bound", parsed, lambda s: check(decode(s).text, "f")),
        ("decode + compile", parsed, judge_only),
        ("compile(bytes)", parsed, lambda s: compile(s, "f", "exec", dont_inherit=True)),
        (
            "prefiltered out: decode + compile",
            skipped,
            lambda s: compile_problem(decode(s).text, "f"),
        ),
        (
            "prefiltered out: ast.parse",
            skipped,
            lambda s: compile(s, "f", "exec", ast.PyCF_ONLY_AST, dont_inherit=True),
        ),
    ]
    print(f"{root}: {len(parsed)} files reach libcst, {len(skipped)} are prefiltered out")
    print("| phase | files | CPU s |\n|---|---:|---:|")
    for label, files, work in rows:
        print(f"| {label} | {len(files)} | {best_of_3(work, files):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
