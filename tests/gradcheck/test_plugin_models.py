"""pytester tests of what the plugin adds for training and dropout: ``--gradcheck-model`` items and
the fixture's ``short_run``, ``overfit`` and ``dropout`` methods."""

from __future__ import annotations

import importlib
import shutil
import textwrap
from pathlib import Path

import pytest

# Imported before pytester snapshots sys.modules: torch cannot be imported twice in one process.
torch = pytest.importorskip("torch")
# The first optimizer.step() imports torch._dynamo: import it here, outside the sub-sessions.
importlib.import_module("torch._dynamo")
import pytest_gradcheck._probe  # noqa: E402,F401
import pytest_gradcheck.assertions  # noqa: E402,F401
import pytest_gradcheck.dropout  # noqa: E402,F401
import pytest_gradcheck.model_check  # noqa: E402,F401
import pytest_gradcheck.training  # noqa: E402,F401

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "gradcheck_demo"


@pytest.fixture
def factories(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory holding the demo's factories and models, and no tests of its own."""
    for name in ("model_factories.py", "demo_models.py"):
        shutil.copy(DEMO / name, pytester.path / name)
    return pytester


def test_one_item_per_factory_passes_and_fails_with_the_report(factories) -> None:
    result = factories.runpytest(
        "-p",
        "no:cacheprovider",
        "--gradcheck-model=model_factories:healthy_classifier",
        "--gradcheck-model=model_factories:dropout_rate_one",
    )

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gradcheck_model::model_factories:dropout_rate_one*",
            "*drop: dropout-misuse: Dropout has rate 1*",
            "*FAILED gradcheck_model::model_factories:dropout_rate_one*",
        ]
    )
    # The report is the failure: no traceback of the plugin's internals.
    assert "plugin.py" not in result.stdout.str()
    # The item's probe joins the gradcheck summary like a fixture's.
    result.stdout.fnmatch_lines(["*gradcheck summary*", "2 probe(s) in 2 test(s)*"])


def test_items_are_collected_after_the_tests_and_selected_with_k(factories) -> None:
    factories.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = factories.runpytest(
        "--collect-only",
        "-q",
        "--gradcheck-model=model_factories:healthy_classifier",
        "--gradcheck-model=model_factories:high_learning_rate",
        "-k",
        "gradcheck_model and healthy",
    )

    result.stdout.fnmatch_lines(["gradcheck_model::model_factories:healthy_classifier"])
    assert "high_learning_rate" not in result.stdout.str()
    assert "test_plain" not in result.stdout.str()


def test_steps_option_runs_the_short_run_with_the_default_optimizer(factories) -> None:
    result = factories.runpytest(
        "--gradcheck-model=model_factories:high_learning_rate",
        "--gradcheck-model=model_factories:healthy_classifier",
        "--gradcheck-steps=3",
    )

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*3 step(s) of SGD(lr=10)*"])
    # Its probe is healthy and only the short run fails: the summary counts it as a problem,
    # and lists what the short run found.
    result.stdout.fnmatch_lines(
        [
            "*gradcheck summary*",
            "2 probe(s) in 2 test(s); 1 with problems, 1 healthy",
            "*findings (*",
            "*gradcheck_model::model_factories:high_learning_rate  *",
        ]
    )


def test_ini_bounds_apply_to_generated_items(factories) -> None:
    factories.makeini("[pytest]\ngradcheck_max_grad_norm = 0.1\n")
    result = factories.runpytest(
        "--gradcheck-model=model_factories:healthy_classifier", "--gradcheck-steps=2"
    )

    # Healthy under the defaults; the project's stricter bound fails its head layer.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*exploding-gradients*(> 0.1 max_grad_norm)*"])


def test_a_factory_that_raises_fails_its_item_with_the_message_only(factories) -> None:
    result = factories.runpytest("--gradcheck-model=model_factories:broken_factory")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*cannot check model_factories:broken_factory: *the factory raised RuntimeError*"]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--gradcheck-model=model_factories", "*--gradcheck-model: bad model spec*"),
        ("--gradcheck-steps=0", "*--gradcheck-steps: expected a positive integer, got '0'*"),
    ],
)
def test_malformed_options_are_usage_errors(factories, option, message) -> None:
    result = factories.runpytest(option)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


TRAINING_TESTS = """
import pytest
import torch
from torch import nn
from torch.nn import functional as F


def relu_net():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))


def batch():
    return torch.randn(32, 8), torch.randint(0, 4, (32,))


def test_short_run_passes(gradcheck):
    report = gradcheck.short_run(relu_net(), *batch(), steps=3)
    assert report.ok and report.steps == 3


def test_short_run_with_lr_10_fails(gradcheck):
    gradcheck.short_run(
        relu_net(), *batch(), optimizer=torch.optim.SGD, optimizer_kwargs={"lr": 10.0}
    )


@pytest.mark.gradcheck(max_update_ratio=1e-9)
def test_marker_bounds_apply_to_short_runs(gradcheck):
    gradcheck.short_run(relu_net(), *batch(), steps=2)


def test_frozen_model_cannot_overfit(gradcheck):
    model = relu_net()
    model[0].requires_grad_(False)
    model[2].weight.requires_grad_(False)
    gradcheck.overfit(model, *batch(), target_loss=0.01, max_steps=20)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(F.dropout(x, 0.5))


def test_functional_dropout_left_on(gradcheck):
    gradcheck.dropout(Net(), batch()[0])
"""


def test_fixture_methods_train_a_copy_and_check_dropout(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_training_methods=TRAINING_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--tb=short")

    outcomes = {
        "test_short_run_passes": "PASSED",
        "test_short_run_with_lr_10_fails": "FAILED",
        "test_marker_bounds_apply_to_short_runs": "FAILED",
        "test_frozen_model_cannot_overfit": "FAILED",
        "test_functional_dropout_left_on": "FAILED",
    }
    result.assert_outcomes(passed=1, failed=4)
    text = result.stdout.str()
    assert "SGD(lr=10)" in text
    assert "max_update_ratio" in text
    assert "never reached the target 0.01" in text and "frozen (requires_grad=False)" in text
    assert "still drops units with the model in eval mode" in text
    for name, outcome in outcomes.items():
        if outcome == "FAILED":
            result.stdout.fnmatch_lines([f"FAILED *{name}*"])


def test_generated_items_do_not_import_torch_at_start_up(pytester: pytest.Pytester) -> None:
    # Only the spec's shape is checked at configure time; torch waits for the item to run.
    pytester.makeconftest(
        textwrap.dedent(
            """
            import sys

            def pytest_collection_finish(session):
                print("torch after collection:", "torch" in sys.modules)
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--gradcheck-model=nowhere:factory", "--collect-only", "-q", "-s"
    )

    result.stdout.fnmatch_lines(
        ["gradcheck_model::nowhere:factory", "torch after collection: False"]
    )
