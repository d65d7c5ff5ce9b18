"""The pre-commit hooks: their declaration, and the command line they run on staged files."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnlint.cli import cli

yaml = pytest.importorskip("yaml")

HOOKS_FILE = Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml"
BAD_MODEL = "import torch.nn as nn\nhead = nn.Sequential(nn.Linear(8, 2), nn.Dropout(p=1.0))\n"


def hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in yaml.safe_load(HOOKS_FILE.read_text())}


def test_both_hooks_are_declared_for_python_files_and_notebooks_passing_file_names():
    declared = hooks()
    assert set(declared) == {"nnlint", "nnlint-fix"}
    for hook in declared.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "jupyter"]
        assert hook["require_serial"] is False
        # pre-commit passes file names unless told otherwise; the hooks must not turn it off.
        assert hook.get("pass_filenames", True) is True
        assert hook["entry"].split()[:2] == ["nnlint", "check"]


def test_hooks_force_excludes_so_staged_excluded_files_stay_quiet():
    for hook in hooks().values():
        assert "--force-exclude" in shlex.split(hook["entry"])


def test_fix_hook_fixes_and_lint_hook_does_not():
    declared = hooks()
    assert "--fix" in shlex.split(declared["nnlint-fix"]["entry"])
    assert "--fix" not in shlex.split(declared["nnlint"]["entry"])


def _run_hook(hook_id: str, tmp_path: Path, monkeypatch, files: list[str]):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(hooks()[hook_id]["entry"])[1:] + ["--no-cache", *files]
    return CliRunner().invoke(cli, argv)


def test_lint_hook_on_staged_files_reports_findings_and_exits_1(tmp_path, monkeypatch):
    (tmp_path / "train.py").write_text(BAD_MODEL)
    (tmp_path / "clean.py").write_text("import torch\n")
    result = _run_hook("nnlint", tmp_path, monkeypatch, ["train.py", "clean.py"])
    assert result.exit_code == 1, result.output
    assert "train.py:2:" in result.output and "NN401" in result.output
    assert "clean.py" not in result.output


def test_staged_file_in_an_excluded_folder_is_skipped_by_the_hook(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.nnlint]\nextend-exclude = ['vendored']\n")
    (tmp_path / "vendored").mkdir()
    (tmp_path / "vendored" / "third_party.py").write_text(BAD_MODEL)
    result = _run_hook("nnlint", tmp_path, monkeypatch, ["vendored/third_party.py"])
    assert result.exit_code == 0, result.output
    assert "NN401" not in result.output
    assert "warning: No Python files found" in result.output


def test_hook_called_with_no_files_lints_the_current_folder_as_ruff_does(tmp_path, monkeypatch):
    # pre-commit never calls a file-passing hook with zero files; a bare call lints `.`.
    (tmp_path / "train.py").write_text(BAD_MODEL)
    result = _run_hook("nnlint", tmp_path, monkeypatch, [])
    assert result.exit_code == 1 and "train.py:2:" in result.output
