"""Default bounds on the zoo: healthy models pass, each pathology fails with its own finding."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from model_zoo import HEALTHY, NEEDS_TRANSFORMERS, PATHOLOGICAL, build  # noqa: E402
from torch import nn  # noqa: E402

from nnlint import catalog  # noqa: E402
from pytest_gradcheck import Bounds, probe  # noqa: E402
from pytest_gradcheck.checks import is_ignored  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_reference_model_passes_the_default_bounds(name):
    if name in NEEDS_TRANSFORMERS:
        pytest.importorskip("transformers")
    case = build(name)
    report = probe(case.model, case.inputs, case.target)
    assert report.ok, report.format_failure()


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_pathological_model_fails_with_its_own_finding_and_only_plausible_others(name):
    case = build(name)
    report = probe(case.model, case.inputs, case.target)
    found = {p.code for p in report.problems}
    assert case.expected <= found, report.format_failure()
    assert found <= case.expected | case.plausible, report.format_failure()


def test_sigmoid_stack_vanishing_finding_points_at_the_first_layer_with_ratio_and_bound():
    case = build("sigmoid_mlp20")
    report = probe(case.model, case.inputs, case.target)
    finding = next(p for p in report.problems if p.bound_name == "min_vanishing_ratio")
    assert finding.module == "0"
    assert finding.value == pytest.approx(report.vanishing_ratio)
    assert finding.bound == Bounds().min_vanishing_ratio
    assert report.gradient_pattern == "shrinking"


def test_every_finding_carries_the_catalog_title_and_a_remedy():
    for name in ("negative_bias_relu", "sigmoid_mlp20", "nan_model", "unused_branch"):
        case = build(name)
        for problem in probe(case.model, case.inputs, case.target).problems:
            assert problem.title == catalog.get(problem.code).title
            assert problem.remedy


def test_unused_branch_finding_names_the_module_that_never_ran():
    case = build("unused_branch")
    problems = probe(case.model, case.inputs, case.target).problems
    assert [(p.code, p.module) for p in problems] == [("no-gradient", "aux_head")]
    assert "never called" in problems[0].message


def test_nan_model_finding_names_the_log_layer():
    case = build("nan_model")
    problems = probe(case.model, case.inputs, case.target).problems
    assert [(p.code, p.module) for p in problems] == [("non-finite", "1")]


def test_ignore_glob_silences_the_matching_modules_only():
    case = build("negative_bias_relu")
    everything = probe(case.model, case.inputs, case.target)
    ignored = probe(case.model, case.inputs, case.target, bounds=Bounds(ignore=("1", "3*")))
    dead = {p.module for p in everything.problems if p.code == "dead-relu"}
    assert dead == {"1", "3", "5"}
    assert {p.module for p in ignored.problems if p.code == "dead-relu"} == {"5"}


def test_ignored_layers_are_left_out_of_the_vanishing_ratio():
    case = build("sigmoid_mlp20")
    report = probe(case.model, case.inputs, case.target, bounds=Bounds(ignore=("0",)))
    assert report.vanishing_pair is not None and report.vanishing_pair[0] == "2"


def test_activation_sites_are_ignored_through_their_module_path():
    assert is_ignored("blocks.0/relu#2", ["blocks.*"])
    assert is_ignored("layer1.0.relu#2", ["layer1.0.relu"])
    assert not is_ignored("blocks.0/relu", ["head"])


def test_tighter_bounds_turn_a_healthy_model_into_a_failing_one():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(16, 4)
    report = probe(model, x, bounds=Bounds(max_grad_norm=1e-9))
    assert {p.bound_name for p in report.problems} == {"max_grad_norm"}
    assert report.problems[0].value > 1e-9


def test_huge_init_exploding_finding_reports_the_gradient_norm_above_the_bound():
    case = build("huge_init_mlp")
    problems = [p for p in probe(case.model, case.inputs, case.target).problems]
    assert problems and all(p.value > Bounds().max_grad_norm for p in problems)
