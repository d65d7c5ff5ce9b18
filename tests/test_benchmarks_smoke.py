"""Smoke tests for the benchmark scripts: their plumbing runs on a tiny local corpus, no network."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import corpus  # noqa: E402
import corpus_findings  # noqa: E402
import dropout_recall_scan  # noqa: E402
import lint_speed  # noqa: E402

TRAINING_CODE = """\
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(p=1.0)

    def forward(self, x):
        return self.drop(self.fc(x))
"""


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "model.py").write_text(TRAINING_CODE)
    (root / "pkg" / "util.py").write_text("def add(a, b):\n    return a + b\n")
    return root


def make_wheel(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


# --- corpus.py --------------------------------------------------------------------------------


def test_corpus_unpacks_only_python_files_and_fetches_once(tmp_path: Path) -> None:
    calls: list[str] = []

    def fake_download(requirement: str, dest: Path) -> Path:
        calls.append(requirement)
        dest.mkdir(parents=True, exist_ok=True)
        members = {"pkg/__init__.py": "", "pkg/sub/mod.py": "x = 1\n", "pkg/data.json": "{}"}
        return make_wheel(dest / "pkg-1.0-py3-none-any.whl", members)

    first = corpus.ensure_corpus("pkg==1.0", cache_root=tmp_path, download=fake_download)
    second = corpus.ensure_corpus("pkg==1.0", cache_root=tmp_path, download=fake_download)

    assert first == second
    assert calls == ["pkg==1.0"]
    assert [p.relative_to(first).as_posix() for p in corpus.python_files(first)] == [
        "pkg/__init__.py",
        "pkg/sub/mod.py",
    ]


def test_corpus_reuses_a_downloaded_wheel_after_an_interrupted_unpack(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels / "pkg-1.0-py3-none-any.whl", {"pkg/a.py": "a = 1\n"})
    # A corpus folder without the completion marker is what an interrupted run leaves behind.
    partial = tmp_path / "corpora" / "pkg-1.0"
    partial.mkdir(parents=True)
    (partial / "stale.py").write_text("leftover = True\n")

    def no_network(requirement: str, dest: Path) -> Path:
        raise AssertionError("the cached wheel should have been used")

    result = corpus.ensure_corpus("pkg==1.0", cache_root=tmp_path, download=no_network)

    assert [p.name for p in corpus.python_files(result)] == ["a.py"]


def test_corpus_rejects_an_unpinned_package_spec(tmp_path: Path) -> None:
    with pytest.raises(corpus.CorpusError, match="NAME==VERSION"):
        corpus.ensure_corpus("timm>=1.0", cache_root=tmp_path)


def test_corpus_refuses_wheel_members_that_escape_the_corpus(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "evil-1.0-py3-none-any.whl", {"../../escape.py": "x = 1\n"})
    with pytest.raises(corpus.CorpusError, match="escapes the corpus"):
        corpus.extract_python_files(wheel, tmp_path / "out" / "evil")
    assert not (tmp_path / "escape.py").exists()


def test_corpus_uses_an_existing_directory_as_is(tiny_corpus: Path) -> None:
    assert corpus.ensure_corpus(str(tiny_corpus)) == tiny_corpus.resolve()
    assert corpus.corpus_stats(tiny_corpus) == (2, TRAINING_CODE.count("\n") + 2)


# --- lint_speed.py: measurement ---------------------------------------------------------------


def test_measure_reports_peak_rss_of_the_largest_descendant(tmp_path: Path) -> None:
    # The parent stays small; a grandchild it waits for holds ~120 MB. ru_maxrss from wait4
    # must see the grandchild, which is how pool workers of nnlint are accounted.
    grandchild = "b = bytearray(120 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])"
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    sample, _ = lint_speed.measure("floor", 0, [sys.executable, "-c", parent], tmp_path)

    assert sample.exit_code == 0
    assert sample.max_rss_mb >= 120
    assert sample.cpu_s > 0


def test_measure_does_not_charge_the_benchmark_s_own_memory_to_the_child(tmp_path: Path) -> None:
    # A child forked from a big process inherits its peak RSS into ru_maxrss; the wrapper
    # process exists so a small tool is reported small however large the benchmark grew.
    ballast = bytearray(200 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])
    sample, _ = lint_speed.measure("floor", 0, [sys.executable, "-S", "-c", "pass"], tmp_path)

    assert sample.max_rss_mb < 100
    del ballast


def test_a_command_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(lint_speed.BenchmarkError, match="cannot start 'no-such-linter'"):
        lint_speed.measure("ruff-cold", 0, ["no-such-linter", "check"], tmp_path)


def test_measure_returns_exit_code_and_output_of_the_child(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "print('one'); print('two'); raise SystemExit(3)"]
    sample, text = lint_speed.measure("nnlint-cold", 0, cmd, tmp_path)

    assert sample.exit_code == 3
    assert text.splitlines() == ["one", "two"]
    with pytest.raises(lint_speed.BenchmarkError, match="nnlint-cold exited with 3"):
        lint_speed._check_exit(sample, text)


def test_missing_baseline_tools_name_the_setup_flag(
    tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lint_speed, "TOOLS_VENV_ROOT", tmp_path / "no-venvs")
    with pytest.raises(lint_speed.BenchmarkError, match="--setup-tools"):
        lint_speed.run_benchmark(str(tiny_corpus), ["floor", "torchfix"], 1, 1, "none", None)


def test_unknown_tool_name_is_a_usage_error(tiny_corpus: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "lint_speed.py"), "--corpus", str(tiny_corpus)]
        + ["--tools", "floor,pylint"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "unknown tool(s) pylint" in proc.stderr


def test_a_warm_run_as_costly_as_the_cache_fill_counts_as_a_cache_miss() -> None:
    def warm(cpu: float) -> lint_speed.Sample:
        return lint_speed.Sample("nnlint-warm", 0, cpu, cpu, 50.0, 50.0, 0, 0)

    fill = {"nnlint-warm": 40.0}
    assert lint_speed._looks_like_cache_miss(warm(38.0), fill)
    assert not lint_speed._looks_like_cache_miss(warm(0.4), fill)
    # A tiny corpus fills in well under a second: its warm runs are never second-guessed.
    assert not lint_speed._looks_like_cache_miss(warm(0.3), {"nnlint-warm": 0.4})


def test_ruff_warm_runs_are_never_taken_for_cache_misses() -> None:
    # ruff's warm run costs about what its cold run does; that is ruff's result, not a miss.
    ruff_warm = lint_speed.Sample("ruff-warm", 0, 2.0, 2.0, 50.0, 50.0, 0, 0)
    assert not lint_speed._looks_like_cache_miss(ruff_warm, {"ruff-warm": 2.1})


# --- lint_speed.py: targets -------------------------------------------------------------------


def summary(tool: str, wall: float, cpu: float, rss: float = 100.0) -> lint_speed.ToolSummary:
    return lint_speed.ToolSummary(tool, 1, wall, cpu, rss, rss, wall, wall, 0)


def test_timm_targets_are_judged_on_the_issue_ratios() -> None:
    summaries = [
        summary("floor", 12.0, 11.0),
        summary("nnlint-cold", 2.0, 14.0),  # 14 / 11 = 1.27x the floor: over the 1.2x target
        summary("torchfix", 40.0, 70.0),  # 20x slower than nnlint: passes >= 15x
        summary("fixit", 15.0, 28.0),  # 7.5x: fails >= 10x
        summary("nnlint-warm", 0.5, 0.4),
        summary("ruff-warm", 0.6, 0.6),
    ]
    results = {t.name: t for t in lint_speed.evaluate_targets("timm", summaries)}

    assert results["nnlint cold CPU-s / libcst parse floor CPU-s"].status == "FAIL"
    assert results["TorchFix wall / nnlint cold wall"].status == "PASS"
    assert results["TorchFix wall / nnlint cold wall"].measured == "20.00x"
    assert results["Fixit wall / nnlint cold wall"].status == "FAIL"
    assert results["nnlint warm wall / ruff warm wall"].status == "PASS"


def test_targets_whose_tools_were_not_run_are_not_applicable() -> None:
    results = lint_speed.evaluate_targets("timm", [summary("nnlint-cold", 2.0, 3.0)])
    assert {t.status for t in results} == {"n/a"}


def test_transformers_targets_check_wall_time_and_both_memory_figures() -> None:
    cold = lint_speed.ToolSummary("nnlint-cold", 1, 80.0, 150.0, 300.0, 450.0, 80.0, 80.0, 0)
    results = {t.name: t.status for t in lint_speed.evaluate_targets("transformers", [cold])}

    assert results == {
        "nnlint cold wall": "PASS",
        "nnlint cold peak RSS (largest process)": "PASS",
        "nnlint cold peak memory (PSS sum over all processes)": "FAIL",
    }


# --- end to end (needs the nnlint CLI) --------------------------------------------------------


@pytest.mark.slow
def test_benchmark_runs_end_to_end_on_a_tiny_corpus(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "lint_speed.py"), "--corpus", str(tiny_corpus)]
        + ["--repeat", "1", "--no-baselines", "--json", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr

    report = json.loads(out.read_text())
    assert report["files"] == 2
    assert [s["tool"] for s in report["summaries"]] == ["floor", "nnlint-cold", "nnlint-warm"]
    assert all(s["max_rss_mb"] > 0 for s in report["summaries"])
    assert "parse floor: 2 files, 0 failed to parse" in "\n".join(report["notes"])
    assert not any("differ" in note for note in report["notes"])
    assert "| nnlint-warm | 1 |" in proc.stdout


@pytest.mark.slow
def test_corpus_findings_prints_each_finding_with_its_source_line(tiny_corpus: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / "corpus_findings.py"), str(tiny_corpus)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    hit = next(i for i, line in enumerate(lines) if line.startswith("pkg/model.py:9:"))
    assert "nn.Dropout(p=1.0)" in lines[hit + 1]
    assert "(internal errors): 0" in proc.stdout


# --- corpus_findings.py: review logic ---------------------------------------------------------


def test_syntax_error_diagnostic_on_a_file_python_parses_is_flagged(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("x = 1\n")
    py2 = tmp_path / "py2.py"
    py2.write_text("print 'hello'\n")
    raw = [
        {
            "filename": str(good),
            "location": {"row": 1, "column": 1},
            "code": "NN001",
            "message": "m",
        },
        {
            "filename": str(py2),
            "location": {"row": 1, "column": 1},
            "code": "NN001",
            "message": "m",
        },
    ]
    reviewed = {f.path.name: f for f in corpus_findings.review(raw, context=0)}

    assert (
        reviewed["good.py"].verdict is not None
        and "parses under Python" in reviewed["good.py"].verdict
    )
    assert reviewed["py2.py"].verdict is None
    assert corpus_findings.has_engine_problem(list(reviewed.values()))
    assert reviewed["py2.py"].source == ["     1 | print 'hello'"]


def test_internal_error_counts_as_an_engine_problem(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("import torch\n")
    raw = [
        {
            "filename": str(mod),
            "location": {"row": 1, "column": 1},
            "code": "NN002",
            "message": "boom",
        }
    ]
    reviewed = corpus_findings.review(raw, context=0)

    assert corpus_findings.has_engine_problem(reviewed)
    assert "NN002 (internal errors): 1" in corpus_findings.render("t", tmp_path, reviewed)


# --- dropout_recall_scan.py ---------------------------------------------------------------------


def test_recall_scan_lists_literal_rates_outside_the_open_unit_interval() -> None:
    source = b"""\
import torch.nn as nn
from keras import layers
a = nn.Dropout(0.0)
b = layers.Dropout(rate=-0.5)
c = nn.Dropout(p=0.1)
d = nn.Dropout(p=cfg.rate)
"""
    sites = list(dropout_recall_scan.scan_source(source))
    assert [(line, kind) for line, kind, _ in sites] == [(3, "literal-rate"), (4, "literal-rate")]


def test_recall_scan_lists_functional_dropout_without_training_only() -> None:
    source = b"""\
import torch.nn.functional as F
x = F.dropout(x, p=0.1)
y = F.dropout(y, 0.1, self.training)
z = nn.functional.dropout(z, p=0.1, training=self.training)
w = self.dropout(w)
"""
    sites = list(dropout_recall_scan.scan_source(source))
    assert [(line, kind) for line, kind, _ in sites] == [(2, "functional-without-training")]
