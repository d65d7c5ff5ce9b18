"""Precision review: lint real corpora and print every nnlint finding with its source line.

Exits 1 when the run shows an engine problem (an internal error, or a syntax-error diagnostic
on a file that Python itself parses), so it doubles as a check on real code.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CorpusError, corpus_stats, ensure_corpus  # noqa: E402

# The engine's own diagnostics: the file does not parse, and a rule crashed on a file.
SYNTAX_ERROR_CODE = "NN001"
INTERNAL_ERROR_CODE = "NN002"


@dataclass
class ReviewedFinding:
    path: Path
    row: int
    column: int
    code: str
    message: str
    source: list[str]
    # For NN001 only: None when Python agrees the file is broken, else why the diagnostic is wrong.
    verdict: str | None = None


def nnlint_json(corpus: Path, select: str, jobs: int | None) -> list[dict]:
    """Run the nnlint CLI as a user would and return its ruff-shaped JSON findings."""
    script = Path(sys.executable).parent / "nnlint"
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "nnlint"]
    cmd = [*base, "check", str(corpus), "--no-cache", "--exit-zero", "--output-format", "json"]
    cmd += ["--select", select]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CorpusError(
            f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{proc.stderr.strip()}"
        )
    try:
        findings = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise CorpusError(f"nnlint did not print JSON ({exc}):\n{proc.stdout[:500]}") from exc
    if not isinstance(findings, list):
        raise CorpusError("nnlint JSON output is not a list of findings")
    return findings


def python_parse_verdict(path: Path) -> str | None:
    """None if this Python also rejects ``path`` (the NN001 is right), else why NN001 is wrong."""
    try:
        source = path.read_bytes()
    except OSError:
        return None
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences in old code warn; they do not make the file unparsable.
            warnings.simplefilter("ignore")
            ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        return None
    return f"parses under Python {sys.version_info.major}.{sys.version_info.minor}"


def source_context(path: Path, row: int, context: int) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    lo, hi = max(row - 1 - context, 0), min(row + context, len(lines))
    return [f"{n + 1:>6} | {lines[n]}" for n in range(lo, hi)]


def review(raw: Sequence[dict], context: int) -> list[ReviewedFinding]:
    out = []
    for item in raw:
        path = Path(item["filename"])
        row, column = item["location"]["row"], item["location"]["column"]
        finding = ReviewedFinding(
            path=path,
            row=row,
            column=column,
            code=item["code"],
            message=item["message"],
            source=source_context(path, row, context),
        )
        if finding.code == SYNTAX_ERROR_CODE:
            finding.verdict = python_parse_verdict(path)
        out.append(finding)
    out.sort(key=lambda f: (str(f.path), f.row, f.column, f.code))
    return out


def render(corpus_name: str, corpus: Path, findings: Sequence[ReviewedFinding]) -> str:
    lines = []
    for f in findings:
        try:
            shown = f.path.relative_to(corpus)
        except ValueError:
            shown = f.path
        flag = f"  <-- SUSPECT: {f.verdict}" if f.verdict else ""
        lines.append(f"{shown}:{f.row}:{f.column}: {f.code} {f.message}{flag}")
        lines.extend(f.source)
    files, n_lines = corpus_stats(corpus)
    counts = Counter(f.code for f in findings)
    lines.append("")
    lines.append(
        f"== {corpus_name}: {len(findings)} findings in "
        f"{len({f.path for f in findings})} of {files} files ({n_lines} lines)"
    )
    for code, n in sorted(counts.items()):
        lines.append(f"   {code}: {n}")
    lines.append(
        f"   {INTERNAL_ERROR_CODE} (internal errors): {counts.get(INTERNAL_ERROR_CODE, 0)}"
    )
    suspect = [f for f in findings if f.verdict]
    lines.append(
        f"   {SYNTAX_ERROR_CODE} (does not parse): {counts.get(SYNTAX_ERROR_CODE, 0)}, "
        f"of which {len(suspect)} on files Python {sys.version_info.major}."
        f"{sys.version_info.minor} parses"
    )
    return "\n".join(lines)


def has_engine_problem(findings: Sequence[ReviewedFinding]) -> bool:
    return any(f.code == INTERNAL_ERROR_CODE or f.verdict for f in findings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "corpora",
        nargs="*",
        default=["timm", "transformers"],
        help="timm, transformers, NAME==VERSION, or directories (default: %(default)s)",
    )
    parser.add_argument("--select", default="ALL", help="rules to run (default: ALL)")
    parser.add_argument("--context", type=int, default=0, help="source lines around each finding")
    parser.add_argument("--jobs", type=int, default=None, help="passed to nnlint as --jobs")
    args = parser.parse_args(argv)
    problem = False
    try:
        for spec in args.corpora:
            corpus = ensure_corpus(spec)
            findings = review(nnlint_json(corpus, args.select, args.jobs), args.context)
            print(render(spec, corpus, findings), flush=True)
            problem |= has_engine_problem(findings)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
