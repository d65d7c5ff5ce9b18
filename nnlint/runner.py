"""Lint many files: answer from the cache, lint the misses (in a process pool when worth it), sort.

The engine (and with it libcst) is imported only when at least one file misses the cache, and a pool
is started only when enough files miss, so a warm run costs file hashing and small reads. Results
are re-sorted by (path, line, column, code), so the output never depends on ``jobs``.
"""

from __future__ import annotations

import ast
import os
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnlint.cache import ResultCache
from nnlint.config import ResolvedSettings
from nnlint.findings import FileResult, Finding

SYNTAX_ERROR_CODE = "NN001"
INTERNAL_ERROR_CODE = "NN002"
# Below this many cache misses a pool costs more (start-up, pickling) than it saves.
MIN_FILES_FOR_POOL = 8


@dataclass(frozen=True)
class LintJob:
    """One file to lint. ``source`` is given for stdin; otherwise the file at ``path`` is read."""

    path: str
    settings: ResolvedSettings
    source: bytes | None = None


@dataclass
class FixedFile:
    """A file whose fixes were computed: ``original`` and ``fixed`` are its whole content."""

    path: str
    original: bytes
    fixed: bytes
    fixed_count: int


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    fixed_files: list[FixedFile] = field(default_factory=list)
    files_linted: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    # Paths that could not be read (each also has an NN001 finding).
    unreadable: list[str] = field(default_factory=list)

    @property
    def fixed_count(self) -> int:
        return sum(f.fixed_count for f in self.fixed_files)


def read_error_finding(path: str, exc: OSError) -> Finding:
    """An NN001 diagnostic for a file that cannot be read (it never aborts the run)."""
    if isinstance(exc, IsADirectoryError):
        reason = "it is a directory"
    elif isinstance(exc, FileNotFoundError) and os.path.islink(path):
        reason = "broken symbolic link"
    else:
        reason = exc.strerror or str(exc)
    return Finding(path, 1, 1, SYNTAX_ERROR_CODE, f"Cannot read file: {reason}", 1, 1)


def internal_error_finding(path: str, exc: BaseException) -> Finding:
    detail = f"{type(exc).__name__}: {exc}".strip()
    return Finding(
        path,
        1,
        1,
        INTERNAL_ERROR_CODE,
        f"Internal error while linting this file ({detail}); please report it, "
        "with the file if you can share it",
        1,
        1,
    )


# --------------------------------------------------------------------------------------------
# Work done in the pool's processes (or in process when the pool is not worth it)

_Task = tuple[int, str, bytes, frozenset, Mapping[str, Mapping[str, Any]], bool, bool]


def _lint_task(task: _Task) -> tuple[int, FileResult]:
    index, path, source, enabled, options, fix, unsafe_fixes = task
    try:
        from nnlint.engine import LintSettings, lint_source

        settings = LintSettings(enabled=enabled, options=options)
        return index, lint_source(source, path, settings, fix=fix, unsafe_fixes=unsafe_fixes)
    except Exception as exc:  # noqa: BLE001 - one file's failure must not lose the others
        if os.environ.get("NNLINT_DEBUG"):
            traceback.print_exc()
        return index, FileResult(path=path, findings=[internal_error_finding(path, exc)])


def _lint_tasks(tasks: list[_Task], jobs: int) -> list[tuple[int, FileResult]]:
    if jobs <= 1 or len(tasks) < MIN_FILES_FOR_POOL:
        return [_lint_task(task) for task in tasks]
    # Imported here: a run answered from the cache never needs it (about 20 ms).
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(tasks))
    # Several chunks per worker so one slow file does not leave the others idle.
    chunksize = max(1, len(tasks) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_lint_task, tasks, chunksize=chunksize))


# --------------------------------------------------------------------------------------------


def run(
    jobs_to_lint: Sequence[LintJob],
    *,
    cache: ResultCache | None,
    fix: bool = False,
    unsafe_fixes: bool = False,
    jobs: int = 1,
) -> RunResult:
    """Lint ``jobs_to_lint``; with ``fix``, compute fixed sources (the caller writes them)."""
    result = RunResult(files_linted=len(jobs_to_lint))
    per_file: list[list[Finding]] = [[] for _ in jobs_to_lint]
    sources: dict[int, bytes] = {}
    keys: dict[int, str] = {}
    tasks: list[_Task] = []
    for index, job in enumerate(jobs_to_lint):
        source = job.source
        if source is None:
            try:
                with open(job.path, "rb") as fh:
                    source = fh.read()
            except OSError as exc:
                per_file[index] = [read_error_finding(job.path, exc)]
                result.unreadable.append(job.path)
                continue
        sources[index] = source
        if cache is not None:
            where = os.path.abspath(job.path) if job.source is None else job.path
            key = keys[index] = cache.key(source, job.settings.fingerprint, where)
            cached = cache.get(key, job.path)
            # In fix mode a hit with a fixable finding must be re-linted to compute the fix.
            if cached is not None and not (fix and any(f.fixable for f in cached)):
                per_file[index] = cached
                result.cache_hits += 1
                continue
        result.cache_misses += 1
        tasks.append(
            (
                index,
                job.path,
                source,
                job.settings.enabled,
                dict(job.settings.options),
                fix,
                unsafe_fixes,
            )
        )

    for index, file_result in _lint_tasks(tasks, jobs):
        per_file[index] = list(file_result.findings)
        job = jobs_to_lint[index]
        if file_result.fixed_source is not None:
            if fixed_source_is_safe(sources[index], file_result.fixed_source, job.path):
                result.fixed_files.append(
                    FixedFile(
                        job.path,
                        sources[index],
                        file_result.fixed_source,
                        file_result.fixed_count,
                    )
                )
            else:
                per_file[index].append(
                    internal_error_finding(
                        job.path, RuntimeError("an autofix produced code that does not parse")
                    )
                )
            # The entry for the original bytes would have to hold the fixed findings too.
            continue
        if cache is not None and not any(
            f.code == INTERNAL_ERROR_CODE for f in file_result.findings
        ):
            cache.put(keys[index], file_result.findings)

    for findings in per_file:
        result.findings.extend(findings)
    result.findings.sort(key=Finding.sort_key)
    result.fixed_files.sort(key=lambda f: f.path)
    return result


def fixed_source_is_safe(original: bytes, fixed: bytes, path: str) -> bool:
    """The engine promises fixed code parses; re-check with the (cheap) stdlib parser.

    Only when the original parses with this interpreter: code written for a newer Python than the
    one running nnlint cannot be checked this way and is trusted to libcst's parse.
    """
    try:
        ast.parse(fixed, filename=path)
        return True
    except (SyntaxError, ValueError):
        try:
            ast.parse(original, filename=path)
        except (SyntaxError, ValueError):
            return True
        return False


def write_atomically(path: str, content: bytes) -> None:
    """Replace the file at ``path`` with ``content``: temp file in the same folder, then rename.

    The file keeps its permission bits, and a symlink keeps pointing at the rewritten target. A
    crash leaves either the old or the new content, never half of it.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    mode = os.stat(target).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
