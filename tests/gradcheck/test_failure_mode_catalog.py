"""One catalog for both halves: rules and dynamic checks point at the same failure modes, and each
side names the other (`nnlint rule CODE` lists the checks, a failing check lists the rules)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import pytest_gradcheck
from nnlint import catalog
from nnlint.cli import cli
from pytest_gradcheck.bounds import Bounds


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("mode", list(catalog.FAILURE_MODES.values()), ids=lambda m: m.id)
def test_every_failure_mode_names_dynamic_checks_that_exist(mode: catalog.FailureMode) -> None:
    assert mode.dynamic_checks, f"{mode.id} names no pytest-gradcheck check"
    for name in mode.check_names:
        assert name in pytest_gradcheck.__all__, f"{mode.id}: {name} is not exported"


def test_bounds_named_by_the_catalog_exist() -> None:
    text = " ".join(
        check for mode in catalog.FAILURE_MODES.values() for check in mode.dynamic_checks
    )
    for name in Bounds.names():
        if name != "ignore":
            assert name in text, (
                f"no failure mode names the check that uses the bound {name}: add it to the "
                f"dynamic_checks of its failure mode in nnlint/catalog.py"
            )


def test_static_rules_come_from_the_rule_registry() -> None:
    assert [code for code, _ in catalog.static_rules("dropout-misuse")] == [
        "NN401",
        "NN402",
        "NN403",
        "NN404",
    ]
    assert "NN401, NN402, NN403, NN404 flag it statically" in catalog.static_twin("dropout-misuse")
    with pytest.raises(KeyError, match="unknown failure mode"):
        catalog.static_rules("dead-neurons")


def test_rule_command_explains_a_failure_mode_by_id() -> None:
    result = invoke("rule", "vanishing-gradients")

    assert result.exit_code == 0
    assert result.output.startswith("# Vanishing gradients (failure mode `vanishing-gradients`)")
    assert "Measured at run time by pytest-gradcheck:" in result.output
    assert "- assert_no_vanishing_gradients:" in result.output
    assert "More: " in result.output


def test_rule_command_for_a_failure_mode_with_rules_lists_them() -> None:
    result = invoke("rule", "dropout-misuse", "--output-format", "json")

    record = json.loads(result.output)
    assert [rule["code"] for rule in record["rules"]] == ["NN401", "NN402", "NN403", "NN404"]
    assert record["dynamic_checks"][0].startswith("assert_dropout_healthy:")


def test_rule_command_for_a_rule_names_the_dynamic_checks_of_its_failure_mode() -> None:
    text = invoke("rule", "NN401").output
    record = json.loads(invoke("rule", "NN404", "--output-format", "json").output)

    assert "## Failure mode: Dropout misuse (`dropout-misuse`)" in text
    assert "- assert_dropout_healthy: every dropout" in text
    assert record["dynamic_checks"][0].startswith("assert_dropout_healthy:")


def test_unknown_name_says_failure_mode_ids_work_too() -> None:
    result = CliRunner().invoke(cli, ["rule", "NN999"])

    assert result.exit_code == 2
    assert "a failure mode id works too (vanishing-gradients" in result.output


def test_a_failing_gradient_probe_names_the_static_twin() -> None:
    torch = pytest.importorskip("torch")
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    with pytest.raises(AssertionError) as failure:
        pytest_gradcheck.assert_relu_alive(model, torch.randn(8, 4), torch.randint(0, 3, (8,)))

    assert "`nnlint rule dead-relu` explains it" in str(failure.value)
