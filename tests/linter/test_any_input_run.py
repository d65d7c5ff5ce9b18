"""nnlint on any input (issue 11), the run: FIFOs and devices, size limits, a dead worker, safe
fix writes, patch-able diffs, hardened configuration and cache. Each test is a reproducer of the
reliability study."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from linter_samples import DROPOUT_ONE, FUNCTIONAL_DROPOUT

from nnlint import runner
from nnlint.cache import CACHE_LAYOUT, ResultCache, SettingsCache, seal
from nnlint.cli import cli
from nnlint.config import ConfigError, RuleSelection, default_config, load_config, resolve
from nnlint.files import FileChanged, ReadOnlyFile, read_regular_file, write_fix_in_place
from nnlint.findings import Finding
from nnlint.formats import render_sarif
from nnlint.rules import all_rules, get_rule
from nnlint.runner import LintJob, run

FIXED_FUNCTIONAL = FUNCTIONAL_DROPOUT.replace("p=0.2)", "p=0.2, training=self.training)")


@pytest.fixture
def settings(tmp_path):
    return resolve(default_config(str(tmp_path)), RuleSelection(), all_rules())


def nnlint(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command in a child process, so that a hang fails the test instead of the run."""
    env = {k: v for k, v in os.environ.items() if k not in ("NNLINT_DEBUG", "NNLINT_CACHE_DIR")}
    return subprocess.run(
        [sys.executable, "-m", "nnlint", *args],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        env=env,
    )


# -- files that are not files -----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_tree_is_skipped_with_a_note_and_the_rest_linted(tmp_path):
    (tmp_path / "model.py").write_text(DROPOUT_ONE)
    os.mkfifo(tmp_path / "pipe.py")
    done = nnlint("check", "--no-cache", ".", cwd=tmp_path)
    assert done.returncode == 1
    assert b"model.py:8:21: NN401" in done.stdout
    assert b"skipped pipe.py: it is a FIFO" in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_skipped_not_read_forever(tmp_path):
    done = nnlint("check", "--no-cache", "/dev/zero", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"it is a character device" in done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_config_on_a_fifo_is_a_config_error_not_a_hang(tmp_path):
    os.mkfifo(tmp_path / "fifo.toml")
    (tmp_path / "model.py").write_text(DROPOUT_ONE)
    done = nnlint("check", "--no-cache", "--config", "fifo.toml", "model.py", cwd=tmp_path)
    assert done.returncode == 2
    assert b"fifo.toml: is a FIFO, expected a TOML file" in done.stderr


def test_read_regular_file_refuses_a_file_over_the_limit(tmp_path):
    path = tmp_path / "big.py"
    path.write_bytes(b"x = 1\n" * 100)
    assert read_regular_file(str(path), 600) == b"x = 1\n" * 100
    with pytest.raises(OSError, match="over the 599-byte limit"):
        read_regular_file(str(path), 599)


def test_a_file_over_the_size_limit_is_nn003_and_the_others_are_linted(tmp_path, settings):
    (tmp_path / "big.py").write_text(DROPOUT_ONE + "# padding\n" * 200)
    (tmp_path / "small.py").write_text(DROPOUT_ONE)
    jobs = [
        LintJob(path=str(tmp_path / name), settings=settings, max_bytes=1000)
        for name in ("big.py", "small.py")
    ]
    result = run(jobs, cache=None)
    assert [(Path(f.path).name, f.code) for f in result.findings] == [
        ("big.py", "NN004"),
        ("small.py", "NN401"),
    ]
    assert "over the 1,000-byte limit" in result.findings[0].message


def test_max_file_size_is_a_config_key(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.nnlint]\nmax-file-size = 4096\n")
    assert load_config(str(config)).max_file_size == 4096
    config.write_text('[tool.nnlint]\nmax-file-size = "big"\n')
    with pytest.raises(ConfigError, match="max-file-size` must be a positive number of bytes"):
        load_config(str(config))


# -- a worker that dies -----------------------------------------------------------------------

_REAL_LINT_TASK = runner._lint_task


def _segfault_on_crash_py(task):
    """Stands in for the native parser crashing on one file (inherited by forked workers)."""
    if task[1].endswith("crash.py"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return _REAL_LINT_TASK(task)


@pytest.mark.skipif(sys.platform != "linux", reason="forked workers inherit the stand-in")
def test_a_dead_worker_loses_no_other_finding(tmp_path, settings, monkeypatch):
    monkeypatch.setattr(runner, "_lint_task", _segfault_on_crash_py)
    monkeypatch.setattr(runner, "available_cpus", lambda: 2)
    names = [f"m{i}.py" for i in range(9)] + ["crash.py"]
    for name in names:
        (tmp_path / name).write_text(DROPOUT_ONE)
    jobs = [LintJob(path=str(tmp_path / name), settings=settings) for name in names]
    result = run(jobs, cache=None, jobs=2)
    by_file = {Path(f.path).name: f for f in result.findings}
    assert set(by_file) == set(names)
    assert all(by_file[name].code == "NN401" for name in names if name != "crash.py")
    assert by_file["crash.py"].code == "NN004"
    assert "signal 11" in by_file["crash.py"].message
    assert any("worker process died" in note for note in result.notes)


def test_jobs_are_capped_at_the_cpus_this_process_may_use(tmp_path, settings, monkeypatch):
    seen = []
    real_round = runner._pool_round

    def recording_round(tasks, jobs):
        seen.append(jobs)
        return real_round(tasks, jobs)

    monkeypatch.setattr(runner, "available_cpus", lambda: 2)
    monkeypatch.setattr(runner, "_pool_round", recording_round)
    for i in range(runner.MIN_FILES_FOR_POOL):
        (tmp_path / f"m{i}.py").write_text(DROPOUT_ONE)
    paths = sorted(tmp_path.glob("m*.py"))
    result = run([LintJob(path=str(p), settings=settings) for p in paths], cache=None, jobs=1000)
    assert seen == [2] and len(result.findings) == len(paths)


# -- writing fixes ----------------------------------------------------------------------------


def test_fix_keeps_hard_links_inode_and_mode(tmp_path):
    (tmp_path / "head.py").write_text(FUNCTIONAL_DROPOUT)
    (tmp_path / "head.py").chmod(0o640)
    os.link(tmp_path / "head.py", tmp_path / "alias.py")
    inode = (tmp_path / "head.py").stat().st_ino
    done = nnlint("check", "--no-cache", "--fix", "head.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "alias.py").read_text() == FIXED_FUNCTIONAL
    info = (tmp_path / "head.py").stat()
    assert info.st_ino == inode and info.st_nlink == 2 and stat.S_IMODE(info.st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alias.py", "head.py"]


def test_fix_refuses_a_read_only_file_and_reports_its_findings(tmp_path):
    path = tmp_path / "head.py"
    path.write_text(FUNCTIONAL_DROPOUT)
    path.chmod(0o444)
    done = nnlint("check", "--no-cache", "--fix", "head.py", cwd=tmp_path)
    assert done.returncode == 1
    assert b"fixes not written to head.py: it is read-only" in done.stderr
    assert b"head.py:7:16: NN404" in done.stdout
    assert path.read_text() == FUNCTIONAL_DROPOUT and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_a_file_changed_since_it_was_linted_is_left_alone(tmp_path):
    path = tmp_path / "head.py"
    path.write_text(FUNCTIONAL_DROPOUT + "# edited meanwhile\n")
    with pytest.raises(FileChanged):
        write_fix_in_place(str(path), FUNCTIONAL_DROPOUT.encode(), FIXED_FUNCTIONAL.encode())
    assert path.read_text() == FUNCTIONAL_DROPOUT + "# edited meanwhile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.py"]


def test_the_content_check_uses_the_same_descriptor_as_the_write(tmp_path, monkeypatch):
    """An edit landing between the lint and the write (here: while the temp copy is written)
    is seen, because the content is compared on the descriptor that then writes."""
    path = tmp_path / "head.py"
    path.write_text(FUNCTIONAL_DROPOUT)
    real_fsync = os.fsync

    def edit_then_fsync(fd):
        if path.read_text() == FUNCTIONAL_DROPOUT:
            path.write_text(FUNCTIONAL_DROPOUT + "x = 1\n")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", edit_then_fsync)
    with pytest.raises(FileChanged):
        write_fix_in_place(str(path), FUNCTIONAL_DROPOUT.encode(), FIXED_FUNCTIONAL.encode())
    assert path.read_text().endswith("x = 1\n")


def test_read_only_refusal_is_an_exception_of_its_own(tmp_path):
    path = tmp_path / "head.py"
    path.write_text("x = 1\n")
    path.chmod(0o444)
    with pytest.raises(ReadOnlyFile):
        write_fix_in_place(str(path), b"x = 1\n", b"x = 2\n")


FIXABLE_VARIANTS = {
    "lf": FUNCTIONAL_DROPOUT.encode(),
    "crlf": FUNCTIONAL_DROPOUT.replace("\n", "\r\n").encode(),
    "cr-only": FUNCTIONAL_DROPOUT.replace("\n", "\r").encode(),
    "form-feeds": FUNCTIONAL_DROPOUT.replace("\n\n\n", "\n\x0c\n\n").encode(),
    "latin-1": (
        b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + FUNCTIONAL_DROPOUT.encode() + b"# \xe9t\xe9"
    ),
    "no-final-newline": FUNCTIONAL_DROPOUT.rstrip("\n").encode(),
}


def invoke_in(folder: Path, *args: str, monkeypatch) -> Result:
    monkeypatch.chdir(folder)
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs GNU patch")
@pytest.mark.parametrize("source", FIXABLE_VARIANTS.values(), ids=FIXABLE_VARIANTS.keys())
def test_diff_output_applies_with_patch_and_equals_the_fix(tmp_path, source: bytes, monkeypatch):
    monkeypatch.delenv("NNLINT_CACHE_DIR", raising=False)
    diffed, fixed = tmp_path / "diffed", tmp_path / "fixed"
    for folder in (diffed, fixed):
        folder.mkdir()
        (folder / "head.py").write_bytes(source)
    done = invoke_in(diffed, "check", "--no-cache", "--diff", "head.py", monkeypatch=monkeypatch)
    assert done.exit_code == 1 and done.stdout_bytes.startswith(b"--- head.py")
    applied = subprocess.run(
        ["patch", "-p0", "--batch", "--silent"],
        cwd=diffed,
        input=done.stdout_bytes,
        capture_output=True,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    done = invoke_in(fixed, "check", "--no-cache", "--fix", "head.py", monkeypatch=monkeypatch)
    assert done.exit_code == 0
    assert (diffed / "head.py").read_bytes() == (fixed / "head.py").read_bytes()
    assert (fixed / "head.py").read_bytes() == source.replace(
        b"p=0.2)", b"p=0.2, training=self.training)"
    )


# -- configuration ----------------------------------------------------------------------------


def test_toml_nested_thousands_deep_is_a_config_error(tmp_path):
    config = tmp_path / "nnlint.toml"
    config.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(str(config))


def test_empty_select_in_the_config_is_an_error_naming_the_key(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.nnlint]\nselect = []\n")
    with pytest.raises(ConfigError, match=r"`tool.nnlint.select` is empty.*even NN001"):
        load_config(str(config))


def test_empty_select_on_the_command_line_is_an_error(tmp_path):
    (tmp_path / "model.py").write_text(DROPOUT_ONE)
    done = nnlint("check", "--no-cache", "--select", "", "model.py", cwd=tmp_path)
    assert done.returncode == 2 and b"`--select` is empty" in done.stderr


def test_sarif_uris_are_percent_encoded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    finding = Finding("my dir/sp ace#1.py", 1, 1, "NN401", "m", 1, 2)
    log = json.loads(render_sarif([finding], get_rule))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "my%20dir/sp%20ace%231.py"


# -- cache ------------------------------------------------------------------------------------

SOURCE = b"import torch.nn as nn\nnn.Dropout(1.0)\n"
FINDING = Finding("a.py", 2, 1, "NN401", "rate 1", 2, 16)


def _entry(cache: ResultCache, key: str) -> Path:
    return Path(cache.directory) / CACHE_LAYOUT / key[:2] / key[2:]


def test_a_deeply_nested_entry_with_a_valid_checksum_is_a_miss(tmp_path):
    cache = ResultCache(str(tmp_path / "c"))
    key = cache.key(SOURCE, "s")
    cache.put(key, [FINDING])
    _entry(cache, key).write_bytes(seal(key, b"[" * 100_000 + b"]" * 100_000))
    assert cache.get(key, "a.py") is None
    cache.put(key, [FINDING])
    assert cache.get(key, "a.py") == [FINDING]  # and later runs still work


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_entry_linked_to_dev_zero_is_a_miss(tmp_path):
    cache = ResultCache(str(tmp_path / "c"))
    key = cache.key(SOURCE, "s")
    cache.put(key, [FINDING])
    entry = _entry(cache, key)
    entry.unlink()
    entry.symlink_to("/dev/zero")
    assert cache.get(key, "a.py") is None


def test_well_formed_entries_without_our_checksum_are_not_trusted(tmp_path):
    cache = ResultCache(str(tmp_path / "c"))
    key, other = cache.key(SOURCE, "s"), cache.key(SOURCE, "t")
    cache.put(other, [FINDING])
    bogus = b'[[3, 1, "NN402", "forged", 3, 2, false, null]]'
    _entry(cache, key).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_entry(cache, other), _entry(cache, key))
    assert cache.get(key, "a.py") is None  # an entry copied under another key
    _entry(cache, key).write_bytes(bogus)
    assert cache.get(key, "a.py") is None  # no checksum line
    _entry(cache, key).write_bytes(seal(key, b'[[0, -1, "rm -rf", "x", 0, 0, false, null]]'))
    assert cache.get(key, "a.py") is None  # checksummed, but not findings nnlint can produce


def test_a_damaged_settings_entry_is_a_miss(tmp_path):
    settings_cache = SettingsCache(str(tmp_path / "c"))
    settings_cache.put("k", {"enabled": ["NN401"]})
    assert settings_cache.get("k") == {"enabled": ["NN401"]}
    path = tmp_path / "c" / CACHE_LAYOUT / "settings" / "k"
    path.write_bytes(seal("k", b"[" * 100_000))
    assert settings_cache.get("k") is None


@pytest.mark.slow
def test_a_pool_run_longer_than_a_pipe_buffer_does_not_hang(tmp_path, settings, monkeypatch):
    # Every start a worker notes is a message to the parent; with thousands of files they must
    # be read as they come, or the pipe fills and the workers block for ever (seen on
    # transformers' 2,860 files).
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(runner, "available_cpus", lambda: 2)
    names = [f"module_with_a_long_name_to_fill_the_pipe_{i:05d}.py" for i in range(3000)]
    for name in names:
        (tmp_path / name).write_text("x = 1\n")
    jobs = [LintJob(path=str(tmp_path / name), settings=settings) for name in names]
    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(run, jobs, cache=None, jobs=2).result(timeout=300)
    assert result.findings == []
    assert result.files_linted == len(names)
    assert result.notes == []
