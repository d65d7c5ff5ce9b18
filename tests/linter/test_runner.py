"""The runner: cache use, sequential vs pool parity, unreadable files, fixes and atomic writes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from linter_samples import DROPOUT_ONE, FUNCTIONAL_DROPOUT

from nnlint import runner
from nnlint.cache import ResultCache
from nnlint.config import RuleSelection, default_config, resolve
from nnlint.files import write_fix_in_place
from nnlint.findings import FileResult, Finding
from nnlint.rules import all_rules
from nnlint.runner import LintJob, fixed_source_is_safe, run


@pytest.fixture
def settings(tmp_path):
    return resolve(default_config(str(tmp_path)), RuleSelection(), all_rules())


def _jobs(paths, settings):
    return [LintJob(path=str(p), settings=settings) for p in paths]


def test_findings_are_sorted_by_path_line_column_code(tmp_path, settings):
    (tmp_path / "b.py").write_text(DROPOUT_ONE)
    (tmp_path / "a.py").write_text(FUNCTIONAL_DROPOUT + DROPOUT_ONE.split("\n\n\n")[0])
    result = run(_jobs([tmp_path / "b.py", tmp_path / "a.py"], settings), cache=None)
    keys = [f.sort_key() for f in result.findings]
    assert keys == sorted(keys) and len(keys) >= 2
    assert {Path(f.path).name for f in result.findings} == {"a.py", "b.py"}


def test_pool_and_in_process_runs_give_identical_results(tmp_path, settings, monkeypatch):
    paths = []
    for i in range(12):
        path = tmp_path / f"model_{i:02d}.py"
        path.write_text(DROPOUT_ONE if i % 2 else FUNCTIONAL_DROPOUT)
        paths.append(path)
    monkeypatch.setattr(runner, "MIN_FILES_FOR_POOL", 2)
    sequential = run(_jobs(paths, settings), cache=None, jobs=1)
    pooled = run(_jobs(paths, settings), cache=None, jobs=2)
    assert sequential.findings == pooled.findings and len(sequential.findings) == 12


def test_second_run_answers_from_the_cache_and_a_content_change_misses(tmp_path, settings):
    path = tmp_path / "net.py"
    path.write_text(DROPOUT_ONE)
    cache = ResultCache(str(tmp_path / "cache"))
    first = run(_jobs([path], settings), cache=cache)
    second = run(_jobs([path], settings), cache=ResultCache(str(tmp_path / "cache")))
    assert (first.cache_misses, second.cache_hits) == (1, 1)
    assert first.findings == second.findings
    path.write_text(DROPOUT_ONE.replace("p=1.0", "p=0.5"))
    third = run(_jobs([path], settings), cache=ResultCache(str(tmp_path / "cache")))
    assert third.cache_misses == 1 and third.findings == []


def test_settings_change_misses_the_cache(tmp_path, settings):
    path = tmp_path / "net.py"
    path.write_text(DROPOUT_ONE)
    cache_dir = str(tmp_path / "cache")
    run(_jobs([path], settings), cache=ResultCache(cache_dir))
    narrowed = settings.without({"NN401"})
    again = run(_jobs([path], narrowed), cache=ResultCache(cache_dir))
    assert again.cache_misses == 1 and again.findings == []


def test_unreadable_files_are_reported_and_the_rest_still_linted(tmp_path, settings):
    good = tmp_path / "good.py"
    good.write_text(DROPOUT_ONE)
    folder = tmp_path / "folder.py"
    folder.mkdir()
    broken = tmp_path / "broken.py"
    broken.symlink_to(tmp_path / "gone.py")
    jobs = _jobs([good, folder, broken], settings)
    locked = tmp_path / "locked.py"
    if os.geteuid() != 0:  # root reads anything: the permission case only means something as a user
        locked.write_text("x = 1\n")
        locked.chmod(0)
        jobs += _jobs([locked], settings)
    result = run(jobs, cache=None)
    messages = {Path(f.path).name: f.message for f in result.findings if f.code == "NN001"}
    assert messages["folder.py"] == "Cannot read file: it is a directory"
    assert messages["broken.py"] == "Cannot read file: broken symbolic link"
    if os.geteuid() != 0:
        assert "Permission denied" in messages["locked.py"]
    assert any(f.code == "NN401" and f.path.endswith("good.py") for f in result.findings)


def test_unparsable_file_gets_one_nn001_and_others_are_linted(tmp_path, settings):
    (tmp_path / "py2.py").write_text("import torch.nn as nn\nprint 'hello', nn.Dropout(0.5)\n")
    (tmp_path / "ok.py").write_text(DROPOUT_ONE)
    result = run(_jobs([tmp_path / "py2.py", tmp_path / "ok.py"], settings), cache=None)
    codes = [(Path(f.path).name, f.code) for f in result.findings]
    assert codes.count(("py2.py", "NN001")) == 1 and ("ok.py", "NN401") in codes


def test_an_exception_in_the_engine_becomes_nn002_and_is_not_cached(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    import nnlint.engine

    monkeypatch.setattr(nnlint.engine, "lint_source", explode)
    path = tmp_path / "net.py"
    path.write_text(DROPOUT_ONE)
    settings = resolve(default_config(str(tmp_path)), RuleSelection(), all_rules())
    cache = ResultCache(str(tmp_path / "cache"))
    result = run(_jobs([path], settings), cache=cache)
    [finding] = result.findings
    assert finding.code == "NN002" and "RuntimeError: boom" in finding.message
    assert not (tmp_path / "cache").exists()


def test_fix_mode_returns_the_fixed_source_and_keeps_unfixable_findings(tmp_path, settings):
    path = tmp_path / "head.py"
    path.write_text(FUNCTIONAL_DROPOUT + "\nextra = nn.Dropout(1.0)\n")
    result = run(_jobs([path], settings), cache=None, fix=True)
    [fixed] = result.fixed_files
    assert fixed.fixed_count == 1
    assert b"F.dropout(x, p=0.2, training=self.training)" in fixed.fixed
    assert [f.code for f in result.findings] == ["NN401"]


def test_fix_mode_relints_a_cached_fixable_file(tmp_path, settings):
    path = tmp_path / "head.py"
    path.write_text(FUNCTIONAL_DROPOUT)
    cache_dir = str(tmp_path / "cache")
    run(_jobs([path], settings), cache=ResultCache(cache_dir))
    result = run(_jobs([path], settings), cache=ResultCache(cache_dir), fix=True)
    assert result.cache_hits == 0 and len(result.fixed_files) == 1


def test_a_fix_that_does_not_parse_is_refused(tmp_path, settings, monkeypatch):
    def bad_fixer(task):
        index, path, source, *_ = task
        return index, FileResult(path=path, fixed_source=b"def broken(:\n", fixed_count=1)

    monkeypatch.setattr(runner, "_lint_task", bad_fixer)
    path = tmp_path / "head.py"
    path.write_text(FUNCTIONAL_DROPOUT)
    result = run(_jobs([path], settings), cache=None, fix=True)
    assert result.fixed_files == []
    assert [f.code for f in result.findings] == ["NN002"]


def test_fixed_source_check_trusts_code_this_python_cannot_parse_either():
    assert fixed_source_is_safe(b"x = 1\n", b"x = 2\n", "a.py")
    assert not fixed_source_is_safe(b"x = 1\n", b"x = (\n", "a.py")
    assert fixed_source_is_safe(b"print 'py2'\n", b"print 'py2' \n", "a.py")


def test_fix_write_keeps_the_file_mode_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("old\n")
    path.chmod(0o751)
    write_fix_in_place(str(path), b"old\n", b"new\n")
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]


def test_fix_write_through_a_symlink_rewrites_the_target(tmp_path):
    target = tmp_path / "real.py"
    target.write_text("old\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_fix_in_place(str(link), b"old\n", b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"


def test_failed_fix_write_leaves_the_original_intact(tmp_path, monkeypatch):
    path = tmp_path / "train.py"
    path.write_text("original\n")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        write_fix_in_place(str(path), b"original\n", b"new\n")
    assert path.read_text() == "original\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]


def test_warm_run_imports_neither_libcst_nor_the_rules(tmp_path):
    (tmp_path / "net.py").write_text(DROPOUT_ONE)
    (tmp_path / "clean.py").write_text("import torch\n")
    probe = (
        "import sys\n"
        "from nnlint.cli import main\n"
        "try:\n"
        "    main(['check', '--jobs', '1', '.'])\n"
        "except SystemExit as exit:\n"
        "    code = exit.code\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('libcst', 'nnlint.rules')))\n"
        "print('LOADED', loaded, 'EXIT', code)\n"
    )
    env = {**os.environ, "NNLINT_CACHE_DIR": str(tmp_path / "cache")}
    cold = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    warm = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert "'libcst'" in cold.stdout and "EXIT 1" in cold.stdout, cold.stderr
    assert "LOADED [] EXIT 1" in warm.stdout, warm.stdout + warm.stderr
    assert warm.stdout.splitlines()[0] == cold.stdout.splitlines()[0]


def test_read_error_finding_for_an_unexpected_os_error():
    finding = runner.read_error_finding("x.py", OSError(5, "Input/output error"))
    assert finding == Finding("x.py", 1, 1, "NN001", "Cannot read file: Input/output error", 1, 1)


def test_forked_workers_share_the_engine_the_parent_loaded(monkeypatch):
    """With fork, the parent warms the engine once (the workers inherit it) and freezes the
    collector for them; the pool round thaws it again."""
    import gc
    import multiprocessing

    fork = multiprocessing.get_context("fork")
    try:
        assert runner._share_engine_with_workers(fork) is True
        assert gc.get_freeze_count() > 0
        for module in (
            "nnlint.engine",
            "nnlint.extractors.model_interpreter",
            "nnlint.rules.nn201_deep_stack_without_normalization",
            "libcst.native",
        ):
            assert module in sys.modules
    finally:
        gc.unfreeze()
    assert runner._share_engine_with_workers(multiprocessing.get_context("spawn")) is False


def test_a_pool_round_leaves_the_collector_thawed(tmp_path, settings, monkeypatch):
    import gc

    paths = []
    for i in range(4):
        path = tmp_path / f"m{i}.py"
        path.write_text(DROPOUT_ONE)
        paths.append(path)
    monkeypatch.setattr(runner, "MIN_FILES_FOR_POOL", 2)
    result = run(_jobs(paths, settings), cache=None, jobs=2)
    assert len(result.findings) == 4
    assert gc.get_freeze_count() == 0
