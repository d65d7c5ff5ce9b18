"""Configuration: finding pyproject.toml, shape errors, and ruff-style select/ignore resolution.

Selection is tested against a small stand-in registry, so these tests pin the resolution rules
themselves and do not change when real rules are added.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from nnlint.config import (
    ConfigError,
    RuleSelection,
    compile_per_file_ignores,
    default_config,
    find_config_file,
    load_config,
    resolve,
)


@dataclass(frozen=True)
class StandInRule:
    code: str
    name: str
    default_enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)


RULES = [
    StandInRule("NN001", "syntax-error"),
    StandInRule("NN002", "internal-error"),
    StandInRule("NN401", "dropout-rate-one"),
    StandInRule("NN402", "dropout-rate-zero"),
    StandInRule("NN403", "functional-dropout-always-on"),
    StandInRule("NN101", "sigmoid-stack", options={"min-depth": 3, "activations": ["sigmoid"]}),
    StandInRule("NN201", "learning-rate-too-high", default_enabled=False, options={"max-lr": 1.0}),
]


def write_pyproject(directory, body: str):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pyproject.toml"
    path.write_text(body)
    return path


def enabled(config, cli: RuleSelection | None = None) -> list[str]:
    return sorted(resolve(config, cli or RuleSelection(), RULES).enabled)


# ---- discovery of the configuration file -------------------------------------------------


def test_nearest_pyproject_with_nnlint_table_is_found_upwards(tmp_path):
    outer = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN4']\n")
    (tmp_path / "src" / "models").mkdir(parents=True)
    assert find_config_file(str(tmp_path / "src" / "models")) == str(outer)
    assert find_config_file(str(tmp_path / "src" / "models" / "net.py")) == str(outer)


def test_inner_pyproject_wins_over_outer(tmp_path):
    write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN4']\n")
    inner = write_pyproject(tmp_path / "sub", "[tool.nnlint]\nselect = ['NN1']\n")
    assert find_config_file(str(tmp_path / "sub" / "x.py")) == str(inner)


def test_pyproject_without_nnlint_table_is_skipped(tmp_path):
    outer = write_pyproject(tmp_path, "[tool.nnlint]\n")
    write_pyproject(tmp_path / "sub", "[project]\nname = 'x'\n[tool.ruff]\nline-length = 99\n")
    assert find_config_file(str(tmp_path / "sub")) == str(outer)


def test_no_config_anywhere_gives_none_and_defaults(tmp_path):
    (tmp_path / "a").mkdir()
    found = find_config_file(str(tmp_path / "a"))
    # Something above tmp_path could declare [tool.nnlint]; it must not be inside tmp_path.
    assert found is None or not found.startswith(str(tmp_path))
    config = default_config(str(tmp_path))
    assert config.path is None and config.root == str(tmp_path)
    assert enabled(config) == ["NN001", "NN002", "NN101", "NN401", "NN402", "NN403"]


def test_explicit_config_file_may_be_a_bare_nnlint_toml(tmp_path):
    path = tmp_path / "nnlint.toml"
    path.write_text("select = ['NN40']\nignore = ['NN403']\n")
    assert enabled(load_config(str(path))) == ["NN401", "NN402"]


# ---- configuration errors name the file and the key --------------------------------------


def test_unknown_top_level_key_names_file_and_key(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselct = ['NN4']\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    assert str(path) in message and "`tool.nnlint.selct`" in message
    assert "did you mean `select`" in message


def test_unknown_code_in_select_names_file_and_key(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN999']\n")
    with pytest.raises(ConfigError) as err:
        resolve(load_config(str(path)), RuleSelection(), RULES)
    assert str(path) in str(err.value)
    assert "`NN999`" in str(err.value) and "tool.nnlint.select" in str(err.value)


def test_unknown_code_in_per_file_ignores_is_an_error(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint.per-file-ignores]\n'tests/*' = ['XX1']\n")
    with pytest.raises(ConfigError, match="`XX1`"):
        resolve(load_config(str(path)), RuleSelection(), RULES)


def test_unknown_code_on_the_command_line_names_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--ignore"):
        resolve(default_config(str(tmp_path)), RuleSelection(ignore=("NN77",)), RULES)


def test_toml_syntax_error_reports_file_and_line(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN4'\nignore = []\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert str(path) in str(err.value) and "line 3" in str(err.value)


def test_wrong_type_for_a_list_setting_is_an_error(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = 'NN4'\n")
    with pytest.raises(ConfigError, match="`tool.nnlint.select` must be a list of strings"):
        load_config(str(path))


def test_unknown_rule_option_lists_the_valid_ones(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint.sigmoid-stack]\nmin-dept = 4\n")
    with pytest.raises(ConfigError) as err:
        resolve(load_config(str(path)), RuleSelection(), RULES)
    message = str(err.value)
    assert str(path) in message and "unknown option `min-dept`" in message
    assert "min-depth" in message and "[tool.nnlint.sigmoid-stack]" in message


def test_rule_option_of_the_wrong_type_is_an_error(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint.sigmoid-stack]\nmin-depth = 'deep'\n")
    with pytest.raises(ConfigError, match="`min-depth` must be an integer, got a string"):
        resolve(load_config(str(path)), RuleSelection(), RULES)


def test_rule_option_list_items_are_type_checked(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint.sigmoid-stack]\nactivations = [1]\n")
    with pytest.raises(ConfigError, match="list item"):
        resolve(load_config(str(path)), RuleSelection(), RULES)


def test_options_table_for_an_unknown_rule_is_an_error(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint.sigmoid-stak]\nmin-depth = 4\n")
    with pytest.raises(ConfigError, match="did you mean `sigmoid-stack`"):
        resolve(load_config(str(path)), RuleSelection(), RULES)


def test_unreadable_or_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(str(tmp_path))


# ---- option values -------------------------------------------------------------------------


def test_rule_options_overlay_defaults_and_an_int_is_accepted_for_a_float(tmp_path):
    path = write_pyproject(
        tmp_path,
        "[tool.nnlint]\nextend-select = ['NN201']\n"
        "[tool.nnlint.learning-rate-too-high]\nmax-lr = 3\n"
        "[tool.nnlint.sigmoid-stack]\nmin-depth = 5\n",
    )
    settings = resolve(load_config(str(path)), RuleSelection(), RULES)
    assert settings.options["NN201"] == {"max-lr": 3.0}
    assert settings.options["NN101"] == {"min-depth": 5, "activations": ["sigmoid"]}


def test_settings_fingerprint_changes_with_selection_and_options(tmp_path):
    base = resolve(default_config(str(tmp_path)), RuleSelection(), RULES)
    same = resolve(default_config(str(tmp_path)), RuleSelection(), RULES)
    fewer = resolve(default_config(str(tmp_path)), RuleSelection(ignore=("NN401",)), RULES)
    path = write_pyproject(tmp_path, "[tool.nnlint.sigmoid-stack]\nmin-depth = 9\n")
    tuned = resolve(load_config(str(path)), RuleSelection(), RULES)
    assert base.fingerprint == same.fingerprint
    assert len({base.fingerprint, fewer.fingerprint, tuned.fingerprint}) == 3


# ---- select / extend-select / ignore as ruff resolves them ---------------------------------


def test_select_replaces_the_default_set(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN4']\n")
    assert enabled(load_config(str(path))) == ["NN401", "NN402", "NN403"]


def test_extend_select_adds_an_off_by_default_rule(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nextend-select = ['NN201']\n")
    assert "NN201" in enabled(load_config(str(path)))


def test_all_selects_every_rule(tmp_path):
    assert len(enabled(default_config(str(tmp_path)), RuleSelection(select=("ALL",)))) == 7


def test_more_specific_selector_wins_within_a_layer(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN401']\nignore = ['NN4']\n")
    assert enabled(load_config(str(path))) == ["NN401"]


def test_ignore_wins_a_tie_of_specificity(tmp_path):
    config = default_config(str(tmp_path))
    assert enabled(config, RuleSelection(select=("NN4",), ignore=("NN4",))) == []


def test_rule_names_are_accepted_as_selectors(tmp_path):
    config = default_config(str(tmp_path))
    cli = RuleSelection(select=("dropout-rate-one",))
    assert enabled(config, cli) == ["NN401"]


def test_cli_select_replaces_config_select_and_its_ignores(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN1']\nignore = ['NN401']\n")
    config = load_config(str(path))
    assert enabled(config, RuleSelection(select=("NN4",))) == ["NN401", "NN402", "NN403"]


def test_cli_extend_select_and_ignore_apply_on_top_of_config(tmp_path):
    path = write_pyproject(tmp_path, "[tool.nnlint]\nselect = ['NN4']\n")
    config = load_config(str(path))
    cli = RuleSelection(extend_select=("NN101",), ignore=("NN402",))
    assert enabled(config, cli) == ["NN101", "NN401", "NN403"]


def test_per_file_ignores_switch_codes_off_for_matching_paths(tmp_path):
    path = write_pyproject(
        tmp_path,
        "[tool.nnlint.per-file-ignores]\n'tests/**' = ['NN4']\n'conftest.py' = ['NN101']\n",
    )
    config = load_config(str(path))
    per_file = compile_per_file_ignores(config, RULES)
    assert per_file.codes_for(str(tmp_path / "tests" / "unit" / "test_x.py")) == {
        "NN401",
        "NN402",
        "NN403",
    }
    assert per_file.codes_for(os.path.join(str(tmp_path), "pkg", "conftest.py")) == {"NN101"}
    assert per_file.codes_for(str(tmp_path / "src" / "model.py")) == frozenset()
    settings = resolve(config, RuleSelection(), RULES)
    narrowed = settings.without({"NN401"})
    assert "NN401" not in narrowed.enabled and narrowed.fingerprint != settings.fingerprint
    assert settings.without({"NN201"}) is settings


def test_exclude_and_extend_exclude_both_add_globs(tmp_path):
    path = write_pyproject(
        tmp_path, "[tool.nnlint]\nexclude = ['legacy']\nextend-exclude = ['*_pb2.py']\n"
    )
    matcher = load_config(str(path)).exclude_matcher
    assert matcher.matches(str(tmp_path / "legacy"))
    assert matcher.matches(str(tmp_path / "x_pb2.py"))
    assert not matcher.matches(str(tmp_path / "model.py"))
