"""Lint many files: answer from the cache, lint the misses (in a process pool when worth it), sort.

The engine (and with it libcst) is imported only when at least one file misses the cache, and a pool
is started only when enough files miss, so a warm run costs file hashing and small reads. Results
are re-sorted by (path, line, column, code), so the output never depends on ``jobs``.
"""

from __future__ import annotations

import ast
import gc
import os
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnlint.cache import ResultCache
from nnlint.config import ResolvedSettings
from nnlint.files import DEFAULT_MAX_FILE_SIZE, FileTooLarge, NotARegularFile, read_regular_file
from nnlint.findings import FileResult, Finding

SYNTAX_ERROR_CODE = "NN001"
INTERNAL_ERROR_CODE = "NN002"
NOT_LINTED_CODE = "NN004"
# Below this many cache misses a pool costs more (start-up, pickling) than it saves.
MIN_FILES_FOR_POOL = 8


@dataclass(frozen=True)
class LintJob:
    """One file to lint. ``source`` is given for stdin; otherwise the file at ``path`` is read
    (if it is a regular file of at most ``max_bytes``)."""

    path: str
    settings: ResolvedSettings
    source: bytes | None = None
    max_bytes: int = DEFAULT_MAX_FILE_SIZE


@dataclass
class FixedFile:
    """A file whose fixes were computed: ``original`` and ``fixed`` are its whole content, and
    ``unfixed_findings`` what to report if the fixes cannot be written."""

    path: str
    original: bytes
    fixed: bytes
    fixed_count: int
    unfixed_findings: list[Finding] = field(default_factory=list)


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    fixed_files: list[FixedFile] = field(default_factory=list)
    files_linted: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    # Paths that could not be read (each also has an NN001 finding).
    unreadable: list[str] = field(default_factory=list)
    # What the user should know that is not a finding (a FIFO skipped, a worker restarted).
    notes: list[str] = field(default_factory=list)

    @property
    def fixed_count(self) -> int:
        return sum(f.fixed_count for f in self.fixed_files)

    def keep_unfixed(self, fixed: FixedFile, findings: Sequence[Finding]) -> None:
        """The fixes of ``fixed`` were not written: report ``findings`` (its findings as it
        stands) instead of those left after fixing."""
        self.fixed_files.remove(fixed)
        self.findings = [f for f in self.findings if f.path != fixed.path]
        self.findings.extend(findings)
        self.findings.sort(key=Finding.sort_key)


def read_error_finding(path: str, exc: OSError) -> Finding:
    """An NN001 diagnostic for a file that cannot be read (it never aborts the run)."""
    if isinstance(exc, IsADirectoryError):
        reason = "it is a directory"
    elif isinstance(exc, FileNotFoundError) and os.path.islink(path):
        reason = "broken symbolic link"
    else:
        reason = exc.strerror or str(exc)
    return Finding(path, 1, 1, SYNTAX_ERROR_CODE, f"Cannot read file: {reason}", 1, 1)


def too_large_finding(path: str, exc: FileTooLarge) -> Finding:
    return Finding(
        path,
        1,
        1,
        NOT_LINTED_CODE,
        f"not linted: the file is {exc.size:,} bytes, over the {exc.limit:,}-byte limit "
        "(`max-file-size` under [tool.nnlint] raises it)",
        1,
        1,
    )


def crashed_finding(path: str, processes: list[Any]) -> Finding:
    how = _exit_codes(processes)
    return Finding(
        path,
        1,
        1,
        NOT_LINTED_CODE,
        f"not linted: linting this file ended its worker process ({how}; out of memory or a "
        "crash in the native parser); please report it, with the file if you can share it",
        1,
        1,
    )


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


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


# In a pool worker: where to say which task it starts (see ``_lint_tasks``).
_STARTED: Any = None


def _mark_started(index: int) -> None:
    """In a worker: note that task ``index`` is being linted, so that if this process dies the
    parent knows which file did it."""
    if _STARTED is not None:
        _STARTED.put((os.getpid(), index))


def _init_worker(started: Any) -> None:
    global _STARTED
    _STARTED = started


def _tracked_chunk(chunk: list[_Task]) -> list[tuple[int, FileResult]]:
    results = []
    for task in chunk:
        _mark_started(task[0])
        results.append(_lint_task(task))
    return results


def _lint_tasks(tasks: list[_Task], jobs: int, notes: list[str]) -> list[tuple[int, FileResult]]:
    jobs = min(jobs, available_cpus())
    if jobs <= 1 or len(tasks) < MIN_FILES_FOR_POOL:
        return [_lint_task(task) for task in tasks]
    results: list[tuple[int, FileResult]] = []
    pending = tasks
    while pending:
        done, crashed, suspects, pending = _pool_round(pending, jobs)
        results.extend(done)
        if crashed is None:
            break
        notes.append(
            f"a worker process died ({crashed}); the files it was linting were linted again one "
            "by one, and the others in a new pool"
        )
        # Each file that was being linted when the pool broke runs alone, so the one that kills
        # its process is found and reported, and no other finding is lost.
        for task in suspects:
            results.append(_lint_alone(task))
    return results


def _pool_round(
    tasks: list[_Task], jobs: int
) -> tuple[list[tuple[int, FileResult]], str | None, list[_Task], list[_Task]]:
    """Run ``tasks`` in a pool: (results, how a worker died or None, the tasks that were being
    linted when it died, the other tasks without a result)."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context()
    frozen = _share_engine_with_workers(context)
    started = context.SimpleQueue()
    # Drain the starts as they come: a queue nobody reads until the end fills its pipe on a
    # large run (transformers: 2,860 files) and blocks the workers for ever.
    last_by_process: dict[int, int] = {}

    def drain() -> None:
        while (item := started.get()) is not None:
            pid, index = item
            last_by_process[pid] = index

    # Started once the workers exist: forking a process that has threads can deadlock the
    # child (Python 3.12+ warns about it).
    drainer = threading.Thread(target=drain, name="nnlint-started", daemon=True)
    workers = min(jobs, len(tasks))
    # Several chunks per worker so one slow file does not leave the others idle; chunks, not
    # single files, because each submission costs a round trip.
    size = max(1, len(tasks) // (workers * 4))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    done: list[tuple[int, FileResult]] = []
    broken = False
    processes: list[Any] = []
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(started,)
    )
    try:
        futures = [pool.submit(_tracked_chunk, chunk) for chunk in chunks]
        drainer.start()
        # The executor forgets its processes once broken: keep them to tell how one died.
        processes = list(getattr(pool, "_processes", {}).values())
        for future in futures:
            try:
                done.extend(future.result())
            except BrokenProcessPool:
                broken = True
                break
    finally:
        if drainer.ident is None:  # a submission failed: workers may still be writing starts
            drainer.start()
        pool.shutdown(wait=True, cancel_futures=True)
        started.put(None)
        drainer.join()
        if frozen:
            gc.unfreeze()
    if not broken:
        return done, None, [], []
    # Only now, with the executor shut down: its own thread reaps the dead worker, and a read of
    # the exit code racing with that (two waitpid calls) can come back empty.
    how = _exit_codes(processes)
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            done.extend(future.result())
    finished = {index for index, _ in done}
    done = list({index: (index, result) for index, result in done}.values())
    # A worker runs its chunk in order: the last file each process started is the one it was
    # on when the pool broke; the files it started before finished, but their chunk's results
    # were lost with it, so they simply run again.
    in_flight = set(last_by_process.values())
    left = [t for t in tasks if t[0] not in finished]
    suspects = [t for t in left if t[0] in in_flight]
    return done, how, suspects, [t for t in left if t[0] not in in_flight]


def _share_engine_with_workers(context: Any) -> bool:
    """Load the engine once, in this process, for the workers about to start.

    Forked workers inherit what the parent has imported: warming the engine here (libcst, the
    rules, the extractors, their caches) costs it once instead of once per worker (about 0.45
    CPU-s each). ``gc.freeze()`` then keeps the inherited objects out of the workers' collections
    (which would otherwise scan, and by touching copy, every page of them). Returns whether the
    collector was frozen (the caller unfreezes it once the pool is gone). A forkserver gets the
    engine as a preload instead; spawned workers import it themselves.
    """
    method = context.get_start_method()
    if method == "forkserver":
        context.set_forkserver_preload(["nnlint.engine"])
        return False
    if method != "fork":
        return False
    from nnlint.engine import preload

    preload()
    gc.collect()
    gc.freeze()
    return True


def _exit_codes(processes: list[Any]) -> str:
    for process in processes:
        process.join(timeout=5)
    # SIGTERM is the executor stopping the survivors, not the cause.
    codes = sorted({p.exitcode for p in processes if p.exitcode and p.exitcode != -15}, key=abs)
    return ", ".join(_how(code) for code in codes) or "killed"


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {-exitcode}"
    return f"exit {exitcode}"


def _lint_alone(task: _Task) -> tuple[int, FileResult]:
    """Lint one task in a fresh process of its own; a crash is reported for that file only."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=1)
    processes: list[Any] = []
    try:
        future = pool.submit(_lint_task, task)
        processes = list(getattr(pool, "_processes", {}).values())
        return future.result()
    except BrokenProcessPool:
        # The exit code once the executor has reaped the process (see ``_pool_round``).
        pool.shutdown(wait=True)
        path = task[1]
        return task[0], FileResult(path=path, findings=[crashed_finding(path, processes)])
    finally:
        pool.shutdown(wait=True)


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
                source = read_regular_file(job.path, job.max_bytes)
            except NotARegularFile as exc:
                if exc.kind != "a directory":
                    # A FIFO or a device would block or never end: skipped, with a note.
                    result.notes.append(f"skipped {job.path}: it is {exc.kind}, not a file")
                    continue
                per_file[index] = [read_error_finding(job.path, IsADirectoryError(job.path))]
                result.unreadable.append(job.path)
                continue
            except FileTooLarge as exc:
                if NOT_LINTED_CODE in job.settings.enabled:
                    per_file[index] = [too_large_finding(job.path, exc)]
                continue
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

    for index, file_result in _lint_tasks(tasks, jobs, result.notes):
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
                        list(file_result.unfixed_findings),
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
        # Not cached: a bug (NN002) may be fixed by the next version, and a file that was not
        # linted (NN004: a worker crash, a limit) deserves another try.
        if cache is not None and not any(
            f.code in (INTERNAL_ERROR_CODE, NOT_LINTED_CODE) for f in file_result.findings
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
