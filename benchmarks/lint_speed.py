"""Speed benchmark: nnlint vs the libcst parse floor, TorchFix, Fixit and ruff on a real corpus.

Every measurement is its own child process; CPU time and peak RSS come from the kernel (``wait4``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CorpusError, corpus_stats, ensure_corpus  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_VENV_ROOT = REPO_ROOT / "benchmarks" / ".venv-tools"
CONSTRAINTS = REPO_ROOT / "constraints.txt"

# One side venv per baseline: TorchFix pins libcst<1.6 and Fixit pins click<8.2, and neither
# should slow down or break the other (or the project venv).
BASELINE_PACKAGES: dict[str, list[str]] = {
    "torchfix": ["torchfix==0.7.0"],
    "fixit": ["fixit==2.2.1"],
    "ruff": ["ruff==0.17.6"],
}

FLOOR = "floor"
NNLINT_COLD = "nnlint-cold"
NNLINT_WARM = "nnlint-warm"
TORCHFIX = "torchfix"
FIXIT = "fixit"
RUFF_COLD = "ruff-cold"
RUFF_WARM = "ruff-warm"
ALL_TOOLS = [FLOOR, NNLINT_COLD, NNLINT_WARM, TORCHFIX, FIXIT, RUFF_COLD, RUFF_WARM]
BASELINE_TOOLS = {TORCHFIX, FIXIT, RUFF_COLD, RUFF_WARM}
# Tools whose single run takes minutes on timm; --baseline-repeat caps how often they run.
SLOW_TOOLS = {TORCHFIX, FIXIT}
TOOL_VENV = {TORCHFIX: "torchfix", FIXIT: "fixit", RUFF_COLD: "ruff", RUFF_WARM: "ruff"}

# The parse floor: every file through libcst.parse_module, sequentially, in a fresh interpreter.
FLOOR_SCRIPT = r"""
import json, sys, time
from pathlib import Path
import libcst
files = sorted(p for p in Path(sys.argv[1]).rglob("*.py") if p.is_file())
failed = []
start = time.process_time()
for path in files:
    try:
        libcst.parse_module(path.read_bytes())
    except Exception as exc:  # the floor counts failures; it must not stop on them
        failed.append(f"{path}: {type(exc).__name__}")
parse_cpu_s = time.process_time() - start
print(json.dumps({"files": len(files), "failed": failed, "parse_cpu_s": parse_cpu_s}))
"""

MIB = 1024 * 1024


class BenchmarkError(RuntimeError):
    """A benchmark could not run; the message says what to do about it."""


@dataclass
class Sample:
    """One run of one tool."""

    tool: str
    repeat: int
    wall_s: float
    cpu_s: float
    # ru_maxrss from wait4: the largest single process of the tree (the child or any reaped
    # descendant, e.g. a pool worker). Exact, from the kernel.
    max_rss_mb: float
    # Peak of the summed PSS of the whole process tree, sampled every 50-500 ms: what the run costs
    # the machine in memory when it uses a process pool. Approximate (may miss short peaks).
    tree_pss_mb: float
    exit_code: int
    output_lines: int


@dataclass
class ToolSummary:
    tool: str
    runs: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    tree_pss_mb: float
    wall_min_s: float
    wall_max_s: float
    output_lines: int


@dataclass
class TargetResult:
    name: str
    measured: str
    limit: str
    status: str  # PASS, FAIL or n/a


@dataclass
class Report:
    corpus: str
    corpus_path: str
    files: int
    lines: int
    machine: dict[str, str]
    versions: dict[str, str]
    repeat: int
    samples: list[Sample] = field(default_factory=list)
    summaries: list[ToolSummary] = field(default_factory=list)
    targets: list[TargetResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
    except OSError:
        pass
    return kids


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeMemorySampler(threading.Thread):
    """Samples the summed PSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval_s: float = 0.05, include_root: bool = True) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.include_root = include_root
        self.interval_s = interval_s
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc/self/task"):
            return  # not Linux: only the exact ru_maxrss figure is available
        started = time.monotonic()
        while not self._stop_event.is_set():
            stack = [self.pid] if self.include_root else _children(self.pid)
            total = 0
            while stack:
                pid = stack.pop()
                total += _pss_kib(pid)
                stack.extend(_children(pid))
            self.peak_kib = max(self.peak_kib, total)
            # Sample densely at first (short runs), then back off: on a 2-core machine the
            # sampler's own CPU would otherwise slow the long runs it measures.
            elapsed = time.monotonic() - started
            self._stop_event.wait(self.interval_s if elapsed < 2 else 10 * self.interval_s)

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak_kib / 1024


def _maxrss_mb(ru_maxrss: int) -> float:
    # Linux reports KiB, macOS bytes.
    return ru_maxrss / MIB if sys.platform == "darwin" else ru_maxrss / 1024


# A minimal interpreter that runs one measured command and reports the kernel's rusage of it.
# It exists because a child forked (or vforked) straight from this benchmark inherits this
# process's peak RSS into its own ru_maxrss, which would hide small tools behind ours.
WRAPPER_SCRIPT = r"""
import json, os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
try:
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
except OSError as exc:
    print(f"cannot start {cmd[0]!r}: {exc}", file=sys.stderr)
    sys.exit(127)
_, status, ru = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as fh:
    json.dump({"wall": wall, "status": os.waitstatus_to_exitcode(status),
               "cpu": ru.ru_utime + ru.ru_stime, "maxrss": ru.ru_maxrss}, fh)
"""


def measure(tool: str, repeat: int, cmd: Sequence[str], cwd: Path) -> tuple[Sample, str]:
    """Run ``cmd`` once under the wrapper and return its kernel-reported costs and its output.

    CPU time is that of ``cmd`` and every descendant it reaped (pool workers included), from
    ``wait4``; wall time is measured around spawn and wait, so interpreter start-up of the
    wrapper is not counted.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        wrapper = [sys.executable, "-S", "-c", WRAPPER_SCRIPT, str(report), *cmd]
        proc = subprocess.Popen(wrapper, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        sampler = TreeMemorySampler(proc.pid, include_root=False)
        sampler.start()
        proc.wait()
        tree_pss = sampler.stop()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
        if not report.is_file():
            raise BenchmarkError(f"{tool}: {text.strip() or 'the measuring wrapper failed'}")
        usage = json.loads(report.read_text())
    sample = Sample(
        tool=tool,
        repeat=repeat,
        wall_s=usage["wall"],
        cpu_s=usage["cpu"],
        max_rss_mb=_maxrss_mb(usage["maxrss"]),
        tree_pss_mb=tree_pss,
        exit_code=usage["status"],
        output_lines=text.count("\n"),
    )
    return sample, text


def tool_bin(venv: str, exe: str) -> Path:
    return TOOLS_VENV_ROOT / venv / "bin" / exe


def nnlint_command() -> list[str]:
    script = Path(sys.executable).parent / "nnlint"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "nnlint"]


@dataclass
class Workspace:
    corpus: Path
    nnlint_cache: Path
    ruff_cache: Path
    jobs: int | None


def command_for(tool: str, ws: Workspace) -> list[str]:
    """The command a user would type for ``tool`` (each tool's default rule selection)."""
    corpus = str(ws.corpus)
    jobs = ["--jobs", str(ws.jobs)] if ws.jobs else []
    if tool == FLOOR:
        return [sys.executable, "-c", FLOOR_SCRIPT, corpus]
    if tool == NNLINT_COLD:
        return [*nnlint_command(), "check", corpus, "--no-cache", "--exit-zero", *jobs]
    if tool == NNLINT_WARM:
        return [
            *nnlint_command(),
            "check",
            corpus,
            "--cache-dir",
            str(ws.nnlint_cache),
            "--exit-zero",
            *jobs,
        ]
    if tool == TORCHFIX:
        return [str(tool_bin("torchfix", "torchfix")), corpus]
    if tool == FIXIT:
        return [str(tool_bin("fixit", "fixit")), "lint", corpus]
    if tool == RUFF_COLD:
        return [str(tool_bin("ruff", "ruff")), "check", "--no-cache", "--exit-zero", corpus]
    if tool == RUFF_WARM:
        return [
            str(tool_bin("ruff", "ruff")),
            "check",
            "--cache-dir",
            str(ws.ruff_cache),
            "--exit-zero",
            corpus,
        ]
    raise BenchmarkError(f"unknown tool {tool!r}; choose from {', '.join(ALL_TOOLS)}")


# Exit codes that mean "ran and reported findings", per tool; anything else is a crash.
ACCEPTED_EXIT_CODES: dict[str, set[int]] = {
    FLOOR: {0},
    NNLINT_COLD: {0},
    NNLINT_WARM: {0},
    TORCHFIX: {0, 1},
    FIXIT: {0, 1},
    RUFF_COLD: {0},
    RUFF_WARM: {0},
}


def setup_tools(tools: Sequence[str] | None = None) -> None:
    """Create the side venvs of the baselines (never the project venv)."""
    for venv in tools or BASELINE_PACKAGES:
        target = TOOLS_VENV_ROOT / venv
        python = target / "bin" / "python"
        if not python.exists():
            print(f"creating {target}", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        # The constraints file keeps any torch that a tool might pull at the CPU pin.
        cmd = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if CONSTRAINTS.is_file():
            cmd += ["-c", str(CONSTRAINTS)]
        proc = subprocess.run([*cmd, *BASELINE_PACKAGES[venv]], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchmarkError(f"installing {venv} failed:\n{proc.stderr.strip()}")


def _venv_version(venv: str, dist: str) -> str | None:
    python = TOOLS_VENV_ROOT / venv / "bin" / "python"
    if not python.exists():
        return None
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def collect_versions(tools: Sequence[str]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for dist in ("nnlint", "libcst"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = "not installed"
    # The version string does not change between commits; the commit says which engine ran.
    try:
        git = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # no git: a release checkout, the version is all there is
        git = None
    if git is not None and git.returncode == 0:
        versions["nnlint commit"] = git.stdout.strip()
    wanted = {TOOL_VENV[t] for t in tools if t in TOOL_VENV}
    for venv, dist in (("torchfix", "torchfix"), ("fixit", "fixit"), ("ruff", "ruff")):
        if venv in wanted:
            found = _venv_version(venv, dist)
            versions[dist] = found or "missing"
            lib = _venv_version(venv, "libcst") if venv != "ruff" else None
            if lib:
                versions[f"libcst ({dist} venv)"] = lib
    return versions


def missing_baselines(tools: Sequence[str]) -> list[str]:
    missing = []
    for tool in tools:
        if tool in TOOL_VENV:
            exe = {"torchfix": "torchfix", "fixit": "fixit", "ruff": "ruff"}[TOOL_VENV[tool]]
            if not tool_bin(TOOL_VENV[tool], exe).is_file():
                missing.append(tool)
    return missing


def summarise(samples: Sequence[Sample], tools: Sequence[str]) -> list[ToolSummary]:
    out = []
    for tool in tools:
        runs = [s for s in samples if s.tool == tool]
        if not runs:
            continue
        walls = [s.wall_s for s in runs]
        out.append(
            ToolSummary(
                tool=tool,
                runs=len(runs),
                wall_s=statistics.median(walls),
                cpu_s=statistics.median(s.cpu_s for s in runs),
                max_rss_mb=max(s.max_rss_mb for s in runs),
                tree_pss_mb=max(s.tree_pss_mb for s in runs),
                wall_min_s=min(walls),
                wall_max_s=max(walls),
                output_lines=runs[-1].output_lines,
            )
        )
    return out


def _status(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def evaluate_targets(target_set: str, summaries: Sequence[ToolSummary]) -> list[TargetResult]:
    """The issue-2 targets for ``target_set`` (timm or transformers); unmeasured ones are n/a."""
    by = {s.tool: s for s in summaries}
    results: list[TargetResult] = []

    def ratio_target(name: str, num: str, den: str, attr: str, op: str, limit: float) -> None:
        if num not in by or den not in by or getattr(by[den], attr) <= 0:
            results.append(TargetResult(name, "not measured", f"{op} {limit:g}x", "n/a"))
            return
        ratio = getattr(by[num], attr) / getattr(by[den], attr)
        ok = ratio <= limit if op == "<=" else ratio >= limit
        results.append(TargetResult(name, f"{ratio:.2f}x", f"{op} {limit:g}x", _status(ok)))

    if target_set == "timm":
        ratio_target(
            "nnlint cold CPU-s / libcst parse floor CPU-s", NNLINT_COLD, FLOOR, "cpu_s", "<=", 1.2
        )
        ratio_target("TorchFix wall / nnlint cold wall", TORCHFIX, NNLINT_COLD, "wall_s", ">=", 15)
        ratio_target("Fixit wall / nnlint cold wall", FIXIT, NNLINT_COLD, "wall_s", ">=", 10)
        ratio_target("nnlint warm wall / ruff warm wall", NNLINT_WARM, RUFF_WARM, "wall_s", "<=", 1)
    elif target_set == "transformers":
        cold = by.get(NNLINT_COLD)
        if cold is None:
            for name in ("nnlint cold wall", "nnlint cold peak RSS (largest process)"):
                results.append(TargetResult(name, "not measured", "", "n/a"))
        else:
            results.append(
                TargetResult(
                    "nnlint cold wall",
                    f"{cold.wall_s:.1f} s",
                    "<= 90 s",
                    _status(cold.wall_s <= 90),
                )
            )
            results.append(
                TargetResult(
                    "nnlint cold peak RSS (largest process)",
                    f"{cold.max_rss_mb:.0f} MB",
                    "<= 400 MB",
                    _status(cold.max_rss_mb <= 400),
                )
            )
            results.append(
                TargetResult(
                    "nnlint cold peak memory (PSS sum over all processes)",
                    f"{cold.tree_pss_mb:.0f} MB",
                    "<= 400 MB",
                    _status(cold.tree_pss_mb <= 400),
                )
            )
    return results


def run_benchmark(
    corpus_spec: str,
    tools: Sequence[str],
    repeat: int,
    baseline_repeat: int,
    target_set: str,
    jobs: int | None,
    log=print,
) -> Report:
    try:
        corpus = ensure_corpus(corpus_spec)
    except CorpusError as exc:
        raise BenchmarkError(str(exc)) from exc
    files, lines = corpus_stats(corpus)
    if files == 0:
        raise BenchmarkError(f"corpus {corpus} holds no .py files")
    missing = missing_baselines(tools)
    if missing:
        raise BenchmarkError(
            f"baseline tools not installed: {', '.join(missing)}; run with --setup-tools "
            f"(creates {TOOLS_VENV_ROOT}) or leave them out with --no-baselines"
        )
    report = Report(
        corpus=corpus_spec,
        corpus_path=str(corpus),
        files=files,
        lines=lines,
        machine={
            "cpus": str(os.cpu_count()),
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        versions=collect_versions(tools),
        repeat=repeat,
    )
    log(f"corpus {corpus_spec}: {corpus} ({files} files, {lines} lines)")
    # Other work on the machine inflates wall times; the load average says how much to trust them.
    report.notes.append(f"load average at start: {_loadavg()}")
    with tempfile.TemporaryDirectory(prefix="nnlint-bench-") as tmp:
        # A fresh cache per benchmark run, filled once before the timed warm runs.
        ws = Workspace(corpus, Path(tmp) / "nnlint-cache", Path(tmp) / "ruff-cache", jobs)
        cwd = Path(tmp)
        outputs: dict[str, str] = {}
        fill_cpu: dict[str, float] = {}
        for warm in (NNLINT_WARM, RUFF_WARM):
            if warm in tools:
                sample, text = measure(warm, -1, command_for(warm, ws), cwd)
                _check_exit(sample, text)
                fill_cpu[warm] = sample.cpu_s
                log(f"  filled cache for {warm} in {sample.wall_s:.2f} s")
        for r in range(repeat):
            # Rotate the start so no tool always runs right after the same neighbour.
            order = list(tools[r % len(tools) :]) + list(tools[: r % len(tools)])
            for tool in order:
                if tool in SLOW_TOOLS and r >= baseline_repeat:
                    continue
                sample, text = measure(tool, r, command_for(tool, ws), cwd)
                _check_exit(sample, text)
                if _looks_like_cache_miss(sample, fill_cpu):
                    # nnlint's cache key includes its own source files, so an edit to nnlint
                    # during a long benchmark invalidates the cache; the miss has refilled it.
                    report.notes.append(
                        f"{tool} run {r + 1} was a cache miss ({sample.cpu_s:.1f} CPU-s); "
                        "measured again"
                    )
                    sample, text = measure(tool, r, command_for(tool, ws), cwd)
                    _check_exit(sample, text)
                outputs.setdefault(tool, text)
                report.samples.append(sample)
                log(
                    f"  [{r + 1}/{repeat}] {tool:<12} wall {sample.wall_s:8.2f} s  "
                    f"cpu {sample.cpu_s:8.2f} s  rss {sample.max_rss_mb:6.0f} MB"
                )
        if NNLINT_COLD in outputs and NNLINT_WARM in outputs:
            if outputs[NNLINT_COLD] != outputs[NNLINT_WARM]:
                report.notes.append("WARNING: nnlint cold and warm outputs differ (cache bug?)")
        if FLOOR in outputs:
            floor = json.loads(outputs[FLOOR].strip().splitlines()[-1])
            report.notes.append(
                f"parse floor: {floor['files']} files, {len(floor['failed'])} failed to parse, "
                f"{floor['parse_cpu_s']:.2f} CPU-s inside parse_module"
            )
            report.notes.extend(f"  does not parse: {f}" for f in floor["failed"])
    report.notes.append(f"load average at end: {_loadavg()}")
    report.summaries = summarise(report.samples, tools)
    report.targets = evaluate_targets(target_set, report.summaries)
    return report


def _looks_like_cache_miss(sample: Sample, fill_cpu: dict[str, float]) -> bool:
    """An nnlint warm run that costs over half of the cache-filling run did not use the cache.

    Only nnlint is second-guessed: its warm path is known to be ~100x cheaper than a fill, while
    ruff's warm run costs about as much as its cold run on these corpora.
    """
    if sample.tool != NNLINT_WARM:
        return False
    filled = fill_cpu.get(sample.tool)
    return filled is not None and filled > 1.0 and sample.cpu_s > 0.5 * filled


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _check_exit(sample: Sample, text: str) -> None:
    if sample.exit_code not in ACCEPTED_EXIT_CODES[sample.tool]:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise BenchmarkError(f"{sample.tool} exited with {sample.exit_code}:\n{tail}")


def format_report(report: Report) -> str:
    """The markdown tables that docs/benchmarks.md quotes."""
    lines = [
        f"Corpus: `{report.corpus}` ({report.files} files, {report.lines} lines); "
        f"{report.machine['cpus']} CPUs; median of up to {report.repeat} interleaved runs.",
        "",
        "| tool | runs | wall s (median) | wall s (min-max) | CPU s (median) | "
        "peak RSS MB (largest process) | peak PSS MB (all processes) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report.summaries:
        lines.append(
            f"| {s.tool} | {s.runs} | {s.wall_s:.2f} | {s.wall_min_s:.2f}-{s.wall_max_s:.2f} | "
            f"{s.cpu_s:.2f} | {s.max_rss_mb:.0f} | {s.tree_pss_mb:.0f} |"
        )
    if report.targets:
        lines += ["", "| target | measured | limit | result |", "|---|---:|---:|---|"]
        for t in report.targets:
            lines.append(f"| {t.name} | {t.measured} | {t.limit} | {t.status} |")
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items())]
    lines += report.notes
    return "\n".join(lines)


def parse_tools(value: str) -> list[str]:
    tools = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in tools if t not in ALL_TOOLS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(ALL_TOOLS)}"
        )
    return tools


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--corpus",
        default="timm",
        help="timm, transformers, NAME==VERSION of a wheel, or a directory (default: timm)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool (median)")
    parser.add_argument(
        "--baseline-repeat",
        type=int,
        default=None,
        help="runs of TorchFix and Fixit, which take minutes each (default: --repeat)",
    )
    parser.add_argument(
        "--tools",
        type=parse_tools,
        default=list(ALL_TOOLS),
        help="comma-separated subset of: " + ", ".join(ALL_TOOLS),
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="measure only the parse floor and nnlint (no side venv needed)",
    )
    parser.add_argument(
        "--targets",
        choices=["timm", "transformers", "none"],
        default=None,
        help="which issue-2 targets to check (default: the corpus name, if it is one of them)",
    )
    parser.add_argument("--jobs", type=int, default=None, help="passed to nnlint as --jobs")
    parser.add_argument("--setup-tools", action="store_true", help="create the baseline venvs")
    parser.add_argument("--json", type=Path, default=None, help="write the full report here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    tools = [t for t in args.tools if not (args.no_baselines and t in BASELINE_TOOLS)]
    if not tools:
        parser.error("no tool left to measure")
    target_set = args.targets or (
        args.corpus if args.corpus in ("timm", "transformers") else "none"
    )
    baseline_repeat = args.repeat if args.baseline_repeat is None else args.baseline_repeat
    try:
        if args.setup_tools:
            setup_tools(sorted({TOOL_VENV[t] for t in tools if t in TOOL_VENV}))
        report = run_benchmark(
            args.corpus,
            tools,
            args.repeat,
            baseline_repeat,
            target_set,
            args.jobs,
            log=lambda msg: print(msg, file=sys.stderr, flush=True),
        )
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
