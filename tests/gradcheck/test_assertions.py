"""Assertion helpers: what each one fails on, and failure messages that read like a diagnosis."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from model_zoo import build  # noqa: E402
from torch import nn  # noqa: E402

import pytest_gradcheck  # noqa: E402
from nnlint import catalog  # noqa: E402
from pytest_gradcheck import (  # noqa: E402
    Bounds,
    BoundsError,
    GradientReport,
    assert_all_parameters_get_gradients,
    assert_finite_gradients,
    assert_grad_norms_within,
    assert_gradients_healthy,
    assert_no_exploding_gradients,
    assert_no_saturation,
    assert_no_vanishing_gradients,
    assert_relu_alive,
)


def _case(name):
    case = build(name)
    return case.model, case.inputs, case.target


@pytest.mark.slow
def test_healthy_model_passes_and_the_report_is_returned():
    report = assert_gradients_healthy(*_case("lstm"))
    assert isinstance(report, GradientReport) and report.ok


def test_failure_message_has_the_offending_layer_value_bound_and_catalog_remedy():
    with pytest.raises(AssertionError) as info:
        assert_gradients_healthy(*_case("sigmoid_mlp20"))
    message = str(info.value)
    assert message.startswith("gradient check failed with")
    assert "vanishing-gradients" in message and "min_vanishing_ratio" in message
    assert "(< 0.001 min_vanishing_ratio)" in message
    assert message.count("vanishing-gradients (Vanishing gradients): ") == 1


def test_each_failure_mode_remedy_is_printed_once():
    with pytest.raises(AssertionError) as info:
        assert_gradients_healthy(*_case("negative_bias_relu"))
    message = str(info.value)
    assert message.count(catalog.get("dead-relu").remedy) == 1
    assert message.count("no-gradient (Parameters without a gradient): ") == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("helper", "failing", "passing"),
    [
        (assert_no_vanishing_gradients, "sigmoid_mlp20", "negative_bias_relu"),
        (assert_no_exploding_gradients, "huge_init_mlp", "sigmoid_mlp20"),
        (assert_relu_alive, "negative_bias_relu", "unused_branch"),
        (assert_no_saturation, "saturated_tanh", "sigmoid_mlp20"),
        (assert_all_parameters_get_gradients, "unused_branch", "sigmoid_mlp20"),
        (assert_grad_norms_within, "huge_init_mlp", "unused_branch"),
        (assert_finite_gradients, "nan_model", "huge_init_mlp"),
    ],
)
def test_focused_helper_fails_on_its_own_finding_and_ignores_the_others(helper, failing, passing):
    with pytest.raises(AssertionError):
        helper(*_case(failing))
    helper(*_case(passing))


def test_every_helper_fails_on_nan_because_nothing_else_means_anything_then():
    for helper in (assert_relu_alive, assert_all_parameters_get_gradients):
        with pytest.raises(AssertionError, match="non-finite"):
            helper(*_case("nan_model"))


def test_bound_keyword_arguments_override_the_defaults():
    model, x, y = _case("negative_bias_relu")
    assert_relu_alive(model, x, y, max_dead_fraction=1.0)
    with pytest.raises(AssertionError):
        assert_relu_alive(model, x, y, bounds=Bounds(max_dead_fraction=0.9))


def test_ignore_keyword_accepts_module_globs():
    model, x, y = _case("unused_branch")
    assert_all_parameters_get_gradients(model, x, y, ignore=["aux_*"])


def test_unknown_bound_keyword_is_a_clear_error_naming_the_known_ones():
    model, x, y = _case("lstm")
    with pytest.raises(
        BoundsError, match="unknown gradcheck bound.*max_dead_fractoin.*known bounds"
    ):
        assert_gradients_healthy(model, x, y, max_dead_fractoin=0.2)


def test_helpers_hide_their_frames_from_pytest_tracebacks():
    for name in pytest_gradcheck.__all__:
        if name.startswith("assert_"):
            code = getattr(pytest_gradcheck, name).__code__
            assert "__tracebackhide__" in code.co_varnames, name


def test_format_table_lists_every_layer_and_activation_when_asked():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    report = assert_gradients_healthy(model, torch.randn(8, 4))
    table = report.format_table(problems_only=False)
    assert "grad rms" in table and "relu" in table
    assert report.format_table() == "no problems"
