"""The `nnlint` command line: every option of `check`, `rule`, `rules`, exit codes, stdin, fixes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from linter_samples import DROPOUT_ONE, FUNCTIONAL_DROPOUT

import nnlint
from nnlint.cli import cli

FIXED_FUNCTIONAL_DROPOUT = FUNCTIONAL_DROPOUT.replace("p=0.2)", "p=0.2, training=self.training)")
CLEAN = "import torch.nn as nn\n\nhead = nn.Sequential(nn.Linear(8, 2), nn.Dropout(0.1))\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A small project with a bad model, a fixable head and a clean file; CWD is its root."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "classifier.py").write_text(DROPOUT_ONE)
    (tmp_path / "models" / "head.py").write_text(FUNCTIONAL_DROPOUT)
    (tmp_path / "clean.py").write_text(CLEAN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNLINT_CACHE_DIR", raising=False)
    monkeypatch.delenv("NNLINT_DEBUG", raising=False)
    return tmp_path


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


# ---- findings, summary and exit codes ---------------------------------------------------


def test_findings_print_concise_sorted_with_summary_and_exit_1(project):
    result = invoke("check", "--no-cache")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"models{os.sep}classifier.py:8:") and " NN401 " in lines[0]
    assert lines[1].startswith(f"models{os.sep}head.py:7:") and " NN404 [*] " in lines[1]
    assert lines[2:] == ["Found 1 error and 1 warning.", "[*] 1 fixable with the `--fix` option."]


def test_clean_files_pass_with_exit_0(project):
    result = invoke("check", "--no-cache", "clean.py")
    assert result.exit_code == 0 and result.output == "All checks passed!\n"


def test_exit_zero_keeps_output_but_exits_0(project):
    result = invoke("check", "--no-cache", "--exit-zero")
    assert result.exit_code == 0 and "NN401" in result.output


def test_quiet_prints_findings_without_summary(project):
    result = invoke("check", "--no-cache", "-q")
    assert result.exit_code == 1
    assert "Found" not in result.output and len(result.output.splitlines()) == 2
    assert invoke("check", "--no-cache", "--quiet", "clean.py").output == ""


def test_missing_path_is_a_clear_error_with_exit_2(project):
    result = invoke("check", "nope.py")
    assert result.exit_code == 2
    assert "path does not exist: nope.py" in result.output


def test_unknown_option_is_a_usage_error_with_exit_2(project):
    result = CliRunner().invoke(cli, ["check", "--sellect", "NN4"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_version_flag_prints_the_version(project):
    for argv in (["--version"], ["check", "--version"]):
        result = invoke(*argv)
        assert result.exit_code == 0 and result.output.strip() == f"nnlint {nnlint.__version__}"


def test_internal_error_is_one_message_and_exit_2(project, monkeypatch):
    import nnlint.runner

    def crash(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(nnlint.runner, "run", crash)
    result = CliRunner().invoke(cli, ["check", "--no-cache"])
    assert result.exit_code == 2
    assert "internal error: ZeroDivisionError: oops" in result.output
    assert "NNLINT_DEBUG=1" in result.output and "Traceback" not in result.output
    monkeypatch.setenv("NNLINT_DEBUG", "1")
    debug = CliRunner().invoke(cli, ["check", "--no-cache"])
    assert isinstance(debug.exception, ZeroDivisionError)


# ---- selection -----------------------------------------------------------------------------


def test_select_limits_rules_to_the_prefix(project):
    result = invoke("check", "--no-cache", "--select", "NN404")
    assert "NN401" not in result.output and "NN404" in result.output


def test_ignore_removes_a_rule_and_accepts_comma_lists(project):
    result = invoke("check", "--no-cache", "--ignore", "NN401,NN404")
    assert result.exit_code == 0 and "All checks passed!" in result.output


def test_extend_select_adds_to_the_configured_selection(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\nselect = ['NN401']\n")
    only = invoke("check", "--no-cache")
    extended = invoke("check", "--no-cache", "--extend-select", "NN404")
    assert "NN404" not in only.output and "NN404" in extended.output


def test_unknown_code_on_the_command_line_exits_2_naming_the_flag(project):
    result = invoke("check", "--no-cache", "--select", "NN9999")
    assert result.exit_code == 2
    assert "unknown rule selector `NN9999` in `--select`" in result.output


# ---- configuration -----------------------------------------------------------------------


def test_config_in_the_nearest_pyproject_is_used(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\nignore = ['NN4']\n")
    (project / "models" / "pyproject.toml").write_text("[tool.nnlint]\nignore = ['NN401']\n")
    result = invoke("check", "--no-cache", "models")
    assert "NN404" in result.output and "NN401" not in result.output
    assert invoke("check", "--no-cache", "clean.py").exit_code == 0


def test_a_sub_project_config_governs_its_folder_during_a_walk(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\n")
    (project / "models" / "pyproject.toml").write_text(
        "[tool.nnlint]\nignore = ['NN404']\nextend-exclude = ['classifier.py']\n"
    )
    (project / "top.py").write_text(FUNCTIONAL_DROPOUT)
    result = invoke("check", "--no-cache", ".")
    assert result.output.startswith("top.py:7:") and "models" not in result.output


def test_explicit_config_overrides_discovery(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\nignore = ['NN4']\n")
    other = project / "strict.toml"
    other.write_text("select = ['NN401']\n")
    result = invoke("check", "--no-cache", "--config", str(other))
    assert "NN401" in result.output and "NN404" not in result.output


def test_config_error_exits_2_naming_file_and_key(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\nselct = ['NN4']\n")
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2
    assert "pyproject.toml" in result.output and "`tool.nnlint.selct`" in result.output


def test_toml_syntax_error_exits_2_with_the_line(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\nselect = ['NN4'\nignore = []\n")
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2 and "invalid TOML" in result.output and "line 3" in result.output


def test_bad_rule_option_exits_2(project):
    (project / "pyproject.toml").write_text("[tool.nnlint.dropout-rate-one]\nthreshold = 2\n")
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2 and "dropout-rate-one" in result.output


def test_missing_config_file_exits_2(project):
    result = invoke("check", "--config", "missing.toml")
    assert result.exit_code == 2 and "missing.toml: configuration file not found" in result.output


def test_exclude_and_per_file_ignores_from_config(project):
    (project / "pyproject.toml").write_text(
        "[tool.nnlint]\nextend-exclude = ['classifier.py']\n"
        "[tool.nnlint.per-file-ignores]\n'models/head.py' = ['NN404']\n"
    )
    assert invoke("check", "--no-cache").output == "All checks passed!\n"
    # A file named explicitly is linted even when excluded (ruff's behaviour)...
    assert "NN401" in invoke("check", "--no-cache", "models/classifier.py").output
    # ...unless --force-exclude (what the pre-commit hooks pass).
    forced = invoke("check", "--no-cache", "--force-exclude", "models/classifier.py")
    assert forced.exit_code == 0


# ---- output formats ------------------------------------------------------------------------


def test_json_output_is_ruff_shaped_and_has_no_summary(project):
    result = invoke("check", "--no-cache", "--output-format", "json")
    records = json.loads(result.output)
    assert [r["code"] for r in records] == ["NN401", "NN404"]
    assert records[0]["name"] == "dropout-rate-one"
    assert records[0]["location"]["row"] == 8 and records[0]["fix"] is None
    assert records[1]["fix"]["applicability"] == "safe"
    [edit] = records[1]["fix"]["edits"]
    assert edit["content"] == ", training=self.training"
    assert edit["location"] == edit["end_location"] == {"row": 7, "column": 34}
    assert records[0]["filename"] == str(project / "models" / "classifier.py")


def test_full_output_shows_the_source_line_and_a_caret(project):
    result = invoke("check", "--no-cache", "--output-format", "full", "models/classifier.py")
    lines = result.output.splitlines()
    source = lines.index("8 |         self.drop = nn.Dropout(p=1.0)")
    assert "^" in lines[source + 1] and lines[source + 1].endswith("NN401")


def test_github_output_has_one_annotation_per_finding(project):
    result = invoke("check", "--no-cache", "--output-format", "github")
    lines = result.output.splitlines()
    assert lines[0].startswith("::error file=models/classifier.py,line=8,")
    assert "title=NN401 (dropout-rate-one)" in lines[0]
    assert lines[1].startswith("::warning ") and len(lines) == 2


def test_sarif_output_lists_all_rules_and_the_results(project):
    result = invoke("check", "--no-cache", "--output-format", "sarif")
    log = json.loads(result.output)
    run = log["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "NN401" in ids and "NN404" in ids
    assert [r["ruleId"] for r in run["results"]] == ["NN401", "NN404"]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "models/classifier.py"


def test_statistics_counts_per_code(project):
    result = invoke("check", "--no-cache", "--statistics")
    assert result.output.splitlines()[:2] == [
        "1\tNN401\t[ ] dropout-rate-one",
        "1\tNN404\t[*] functional-dropout-ignores-training",
    ]
    as_json = json.loads(
        invoke("check", "--no-cache", "--statistics", "--output-format", "json").output
    )
    assert {r["code"]: r["count"] for r in as_json} == {"NN401": 1, "NN404": 1}


# ---- fixing --------------------------------------------------------------------------------


def test_fix_rewrites_the_file_exactly_keeps_its_mode_and_reports_the_rest(project):
    head = project / "models" / "head.py"
    head.chmod(0o640)
    result = invoke("check", "--no-cache", "--fix")
    assert head.read_text() == FIXED_FUNCTIONAL_DROPOUT
    assert stat.S_IMODE(head.stat().st_mode) == 0o640
    assert (project / "models" / "classifier.py").read_text() == DROPOUT_ONE  # unfixable
    assert result.exit_code == 1
    assert "Found 2 findings (1 fixed, 1 remaining: 1 error)." in result.output
    again = invoke("check", "--no-cache", "--fix", "models/head.py")
    assert again.exit_code == 0 and head.read_text() == FIXED_FUNCTIONAL_DROPOUT


def test_fix_of_everything_exits_0(project):
    result = invoke("check", "--no-cache", "--fix", "models/head.py")
    assert result.exit_code == 0
    assert "Found 1 finding (1 fixed, 0 remaining)." in result.output


def test_diff_prints_a_unified_diff_writes_nothing_and_exits_1(project):
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--diff"])
    assert result.exit_code == 1
    assert f"--- models{os.sep}head.py" in result.output
    assert "-        return F.dropout(x, p=0.2)" in result.output
    assert "+        return F.dropout(x, p=0.2, training=self.training)" in result.output
    assert "Would fix 1 error." in result.output
    assert (project / "models" / "head.py").read_text() == FUNCTIONAL_DROPOUT


def test_diff_with_nothing_to_fix_exits_0(project):
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--diff", "models/classifier.py"])
    # No diff on stdout (click before 8.2 mixes the stderr summary into `stdout`).
    assert result.exit_code == 0 and "+++" not in result.stdout and "@@" not in result.stdout


# ---- stdin -----------------------------------------------------------------------------------


def test_stdin_is_linted_under_the_given_filename(project):
    result = invoke(
        "check", "--no-cache", "-", "--stdin-filename", "models/x.py", input=DROPOUT_ONE.encode()
    )
    assert result.exit_code == 1 and result.output.startswith("models/x.py:8:")


def test_stdin_filename_matches_per_file_ignores(project):
    (project / "pyproject.toml").write_text(
        "[tool.nnlint.per-file-ignores]\n'scratch/*' = ['NN401']\n"
    )
    result = invoke(
        "check", "--no-cache", "-", "--stdin-filename", "scratch/x.py", input=DROPOUT_ONE.encode()
    )
    assert result.exit_code == 0


def test_stdin_fix_writes_the_fixed_code_to_stdout(project):
    result = CliRunner().invoke(
        cli, ["check", "--no-cache", "--fix", "-q", "-"], input=FUNCTIONAL_DROPOUT.encode()
    )
    assert result.stdout == FIXED_FUNCTIONAL_DROPOUT and result.exit_code == 0


def test_stdin_cannot_be_mixed_with_paths(project):
    result = invoke("check", "-", "clean.py", input=b"")
    assert result.exit_code == 2 and "cannot be combined" in result.output


# ---- cache and jobs ------------------------------------------------------------------------


def test_cache_is_created_in_the_project_root_and_reused(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\n")
    first = invoke("check")
    assert (project / ".nnlint_cache" / "CACHEDIR.TAG").exists()
    second = invoke("check")
    assert first.output == second.output and first.exit_code == second.exit_code == 1


def test_cache_dir_option_and_no_cache(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cache")
    invoke("check", "--cache-dir", str(elsewhere))
    assert (elsewhere / "CACHEDIR.TAG").exists() and not (project / ".nnlint_cache").exists()
    invoke("check", "--no-cache")
    assert not (project / ".nnlint_cache").exists()


def test_jobs_1_and_jobs_2_give_identical_output(project, monkeypatch):
    import nnlint.runner

    monkeypatch.setattr(nnlint.runner, "MIN_FILES_FOR_POOL", 2)
    for i in range(6):
        (project / f"extra_{i}.py").write_text(DROPOUT_ONE if i % 2 else FUNCTIONAL_DROPOUT)
    one = invoke("check", "--no-cache", "--jobs", "1")
    two = invoke("check", "--no-cache", "-j", "2")
    assert one.output == two.output and one.output.count("\n") > 6


def test_jobs_must_be_positive(project):
    result = CliRunner().invoke(cli, ["check", "--jobs", "0"])
    assert result.exit_code == 2


def test_unparsable_file_is_reported_and_others_are_linted(project):
    (project / "legacy.py").write_text("import torch.nn as nn\nprint 'py2', nn.Dropout(0.5)\n")
    result = invoke("check", "--no-cache")
    # The column is Python's own, and Python 3.9 and 3.10+ place it differently.
    assert "legacy.py:2:" in result.output and "NN001 SyntaxError" in result.output
    assert "NN401" in result.output


# ---- rule / rules --------------------------------------------------------------------------


def test_rule_shows_the_doc_and_the_failure_mode(project):
    for key in ("NN401", "dropout-rate-one", "nn401"):
        result = invoke("rule", key)
        assert result.exit_code == 0
        assert result.output.startswith("# dropout-rate-one (NN401)")
        assert "## What it does" in result.output
        assert "## Failure mode: Dropout misuse" in result.output


def test_rule_json(project):
    record = json.loads(invoke("rule", "NN404", "--output-format", "json").output)
    assert record["code"] == "NN404" and record["fixable"] is True and record["doc"]


def test_unknown_rule_exits_2_with_a_suggestion(project):
    result = invoke("rule", "NN40")
    assert result.exit_code == 2 and "unknown rule" in result.output


def test_rules_table_lists_every_rule(project):
    from nnlint.rules import all_rules

    lines = invoke("rules").output.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "FIX", "DEFAULT", "SEVERITY", "FAILURE", "MODE"]
    assert [line.split()[0] for line in lines[1:]] == [r.code for r in all_rules()]
    nn404 = next(line for line in lines if line.startswith("NN404"))
    assert "[*]" in nn404 and "dropout-misuse" in nn404 and "warning" in nn404
    records = json.loads(invoke("rules", "--output-format", "json").output)
    assert {r["code"] for r in records} >= {"NN001", "NN002", "NN401", "NN404"}


# ---- real processes --------------------------------------------------------------------------


def _nnlint(*args: str, cwd: Path, input: bytes | None = None):
    return subprocess.run(
        [sys.executable, "-m", "nnlint", *args], cwd=cwd, input=input, capture_output=True
    )


@pytest.mark.slow
def test_python_dash_m_nnlint_runs_and_exits_with_the_findings_code(project):
    proc = _nnlint("check", "--no-cache", cwd=project)
    assert proc.returncode == 1
    assert b"NN401" in proc.stdout and proc.stderr == b""
    ok = _nnlint("check", "--no-cache", "clean.py", cwd=project)
    assert ok.returncode == 0 and ok.stdout == b"All checks passed!\n"


@pytest.mark.slow
def test_subprocess_config_error_is_a_message_not_a_traceback(project):
    (project / "pyproject.toml").write_text("[tool.nnlint]\nselect = 3\n")
    proc = _nnlint("check", cwd=project)
    assert proc.returncode == 2
    assert b"must be a list of strings" in proc.stderr and b"Traceback" not in proc.stderr


@pytest.mark.slow
def test_subprocess_stdin(project):
    proc = _nnlint("check", "--no-cache", "-", cwd=project, input=DROPOUT_ONE.encode())
    assert proc.returncode == 1 and proc.stdout.startswith(b"-:8:")


@pytest.mark.slow
def test_output_into_a_closed_pipe_stops_quietly(project):
    lines = "".join(f"d{i} = nn.Dropout(1.0)\n" for i in range(1500))
    (project / "many.py").write_text("import torch.nn as nn\n" + lines)
    proc = subprocess.run(
        f"{sys.executable} -m nnlint check --no-cache many.py | head -n 1",
        shell=True,
        cwd=project,
        capture_output=True,
    )
    assert proc.stdout.startswith(b"many.py:2:") and proc.stdout.count(b"\n") == 1
    assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr


# ---- discovery: .gitignore, --show-files, nothing to lint ------------------------------------


def test_a_gitignored_folder_is_skipped_unless_no_respect_gitignore(project):
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("generated/\n")
    (project / "generated").mkdir()
    (project / "generated" / "model_pb.py").write_text(DROPOUT_ONE)
    assert "generated" not in invoke("check", "--no-cache").output
    shown = invoke("check", "--no-cache", "--no-respect-gitignore", "--show-files")
    assert shown.exit_code == 0
    assert shown.output.splitlines() == [
        "clean.py",
        os.path.join("generated", "model_pb.py"),
        os.path.join("models", "classifier.py"),
        os.path.join("models", "head.py"),
    ]
    (project / "pyproject.toml").write_text("[tool.nnlint]\nrespect-gitignore = false\n")
    assert "generated" in invoke("check", "--no-cache", "--show-files").output


def test_nothing_to_lint_warns_and_exits_0(project):
    (project / "empty").mkdir()
    (project / "empty" / "notes.txt").write_text("not python\n")
    result = CliRunner().invoke(cli, ["check", "--no-cache", "empty"])
    assert result.exit_code == 0
    assert "warning: No Python files found under empty" in result.output
    assert "All checks passed!" not in result.output


def test_an_unknown_selector_is_an_error_even_when_no_file_is_found(project):
    (project / "empty").mkdir()
    result = invoke("check", "--no-cache", "--select", "NN9", "empty")
    assert result.exit_code == 2 and "unknown rule selector `NN9`" in result.output


def test_show_settings_names_the_configuration_and_the_resolved_rules(project):
    (project / "pyproject.toml").write_text(
        "[tool.nnlint]\nignore = ['NN402']\nextend-exclude = ['legacy']\n"
    )
    result = invoke("check", "--show-settings")
    assert result.exit_code == 0
    assert f"Configuration file: {project / 'pyproject.toml'}" in result.output
    enabled = next(line for line in result.output.splitlines() if line.startswith("Enabled"))
    assert "NN401, NN403, NN404" in enabled and "NN402" not in enabled
    assert 'Exclude (besides the built-in folders): ["legacy"]' in result.output


def test_symlink_loop_is_reported_as_a_warning(project):
    (project / "loop.py").symlink_to(project / "loop.py")
    result = CliRunner().invoke(cli, ["check", "--no-cache", "clean.py", "."])
    assert "warning: skipping loop.py: a symbolic link loop" in result.output


# ---- configuration errors name the real key ----------------------------------------------------


@pytest.mark.parametrize("glob", ["[z-a].py", "[!]", "[abc"])
def test_a_bad_glob_is_a_config_error_naming_file_and_key(project, glob):
    (project / "pyproject.toml").write_text(
        f"[tool.nnlint.per-file-ignores]\n'{glob}' = ['NN401']\n"
    )
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2
    assert "pyproject.toml" in result.output
    assert f'`tool.nnlint.per-file-ignores."{glob}"`: invalid glob' in result.output
    (project / "pyproject.toml").write_text(f"[tool.nnlint]\nextend-exclude = ['{glob}']\n")
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2 and "`tool.nnlint.extend-exclude`: invalid glob" in result.output


def test_a_bad_per_file_ignores_code_names_the_per_file_ignores_key(project):
    (project / "pyproject.toml").write_text(
        "[tool.nnlint.per-file-ignores]\n'tests/*' = ['NN999']\n"
    )
    result = invoke("check", "--no-cache")
    assert result.exit_code == 2
    assert '`tool.nnlint.per-file-ignores."tests/*"`' in result.output


def test_config_that_is_not_a_pyproject_is_read_as_bare_settings(project):
    (project / "nnlint.toml").write_text("[tool.nnlint]\nignore = ['NN401']\n")
    result = invoke("check", "--no-cache", "--config", "nnlint.toml")
    assert result.exit_code == 2 and "read as bare nnlint settings" in result.output
    (project / "nnlint.toml").write_text("ignore = ['NN401']\nselct = []\n")
    result = invoke("check", "--no-cache", "--config", "nnlint.toml")
    assert (
        "unknown key `selct`" in result.output and "read as bare nnlint settings" in result.output
    )
    (project / "nnlint.toml").write_text("ignore = ['NN401']\n")
    shown = invoke("check", "--config", "nnlint.toml", "--show-settings").output
    assert "nnlint.toml (read as bare nnlint settings" in shown


# ---- fix safety, --show-fixes, --add-noqa ---------------------------------------------------

DELIBERATE = FUNCTIONAL_DROPOUT.replace(
    "        return F.dropout(x, p=0.2)",
    "        # always applies dropout\n        return F.dropout(x, p=0.2)",
)


def test_an_unsafe_fix_is_applied_only_with_unsafe_fixes(project):
    head = project / "models" / "head.py"
    head.write_text(DELIBERATE)
    result = invoke("check", "--no-cache", "models/head.py")
    assert " NN404 `F.dropout`" in result.output  # no [*]: --fix alone would not apply it
    assert (
        "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)."
        in result.output
    )
    invoke("check", "--no-cache", "--fix", "models/head.py")
    assert head.read_text() == DELIBERATE
    marked = invoke("check", "--no-cache", "--unsafe-fixes", "models/head.py").output
    assert " NN404 [*] " in marked and "[*] 1 fixable with the `--fix` option." in marked
    record = json.loads(
        invoke("check", "--no-cache", "--output-format", "json", "models/head.py").output
    )[0]
    assert record["fix"]["applicability"] == "unsafe"
    invoke("check", "--no-cache", "--fix", "--unsafe-fixes", "models/head.py")
    assert "training=self.training" in head.read_text()


def test_show_fixes_lists_what_fix_would_change_and_what_it_changed(project):
    pending = invoke("check", "--no-cache", "--show-fixes").output
    assert (
        f"Would fix 1 finding:\n- models{os.sep}head.py:7:16: NN404 Pass `training=self.training`"
        in pending
    )
    done = invoke("check", "--no-cache", "--fix", "--show-fixes").output
    assert (
        f"Fixed 1 finding:\n- models{os.sep}head.py:\n"
        "    1 × NN404 (functional-dropout-ignores-training)" in done
    )


def test_add_noqa_baselines_every_finding_then_the_check_passes(project):
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--add-noqa"])
    assert result.exit_code == 0 and "Added 2 noqa directives." in result.output
    assert "  # noqa: NN401\n" in (project / "models" / "classifier.py").read_text()
    assert invoke("check", "--no-cache").output == "All checks passed!\n"


def test_add_noqa_writes_a_latin1_file_back_in_latin1(project):
    path = project / "models" / "legacy.py"
    source = "# -*- coding: latin-1 -*-\n# modèle\nimport torch.nn as nn\nd = nn.Dropout(1.0)\n"
    path.write_bytes(source.encode("latin-1"))
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--add-noqa", "models/legacy.py"])
    assert result.exit_code == 0 and "Added 1 noqa directive." in result.output
    expected = source.replace("d = nn.Dropout(1.0)\n", "d = nn.Dropout(1.0)  # noqa: NN401\n")
    assert path.read_bytes() == expected.encode("latin-1")


def test_add_noqa_says_which_files_it_could_not_write_and_exits_1(project):
    classifier = project / "models" / "classifier.py"
    before = classifier.read_bytes()
    classifier.chmod(0o444)
    try:
        result = CliRunner().invoke(cli, ["check", "--no-cache", "--add-noqa"])
    finally:
        classifier.chmod(0o644)
    assert result.exit_code == 1
    assert (
        f"nnlint: warning: no noqa directives written to models{os.sep}classifier.py: "
        "it is read-only" in result.output
    )
    assert "Added 1 noqa directive." in result.output  # the head's, written
    assert classifier.read_bytes() == before
    exit_zero = CliRunner().invoke(cli, ["check", "--no-cache", "--add-noqa", "--exit-zero"])
    assert exit_zero.exit_code == 0


def test_add_noqa_never_writes_a_file_it_would_break(project, monkeypatch):
    from nnlint import suppression

    monkeypatch.setattr(suppression, "add_directives", lambda text, lines: (text + "(\n", 1))
    head = project / "models" / "head.py"
    before = head.read_bytes()
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--add-noqa", "models/head.py"])
    assert result.exit_code == 1 and "a directive would break it" in result.output
    assert head.read_bytes() == before
