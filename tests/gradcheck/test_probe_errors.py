"""Bad inputs get a clear, actionable GradcheckUsageError, not a traceback from probe internals."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pytest_gradcheck import GradcheckUsageError, probe  # noqa: E402


def test_model_without_parameters_is_refused():
    with pytest.raises(GradcheckUsageError, match="has no parameters"):
        probe(nn.ReLU(), torch.randn(2, 3))


def test_fully_frozen_model_is_refused_with_a_hint():
    model = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(GradcheckUsageError, match="requires_grad=False; unfreeze"):
        probe(model, torch.randn(2, 3))


def test_something_that_is_not_a_module_is_refused():
    with pytest.raises(GradcheckUsageError, match="needs a torch.nn.Module"):
        probe(lambda x: x, torch.randn(2, 3))


def test_integer_output_without_a_way_to_a_gradient_is_refused():
    class Argmax(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 4)

        def forward(self, x):
            return self.lin(x).argmax(-1)

    with pytest.raises(GradcheckUsageError, match="dtype torch.int64.*return the logits"):
        probe(Argmax(), torch.randn(2, 3))


def test_output_without_tensor_or_loss_is_refused():
    class Nothing(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 4)

        def forward(self, x):
            self.lin(x)
            return "done"

    with pytest.raises(GradcheckUsageError, match="holds no tensor and no loss; pass loss_fn"):
        probe(Nothing(), torch.randn(2, 3))


def test_non_scalar_loss_is_refused_with_its_shape():
    with pytest.raises(GradcheckUsageError, match=r"shape \(2, 4\), not a scalar"):
        probe(nn.Linear(3, 4), torch.randn(2, 3), None, lambda p: p)


def test_detached_output_is_refused():
    class Detached(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 4)

        def forward(self, x):
            return self.lin(x).detach()

    with pytest.raises(GradcheckUsageError, match="does not depend on any parameter"):
        probe(Detached(), torch.randn(2, 3))


def test_target_shape_mismatch_is_refused_instead_of_broadcast():
    with pytest.raises(GradcheckUsageError, match=r"MSE: output \(4, 1\) vs target \(4,\)"):
        probe(nn.Linear(3, 1), torch.randn(4, 3), torch.randn(4))


def test_integer_target_with_the_wrong_shape_is_refused():
    with pytest.raises(GradcheckUsageError, match="cross-entropy"):
        probe(nn.Linear(3, 5), torch.randn(4, 3), torch.zeros(7, dtype=torch.long))


def test_inputs_on_another_device_than_the_model_are_refused():
    model = nn.Linear(3, 2)
    with pytest.raises(GradcheckUsageError, match="inputs are on meta but the model is on cpu"):
        probe(model, torch.empty(2, 3, device="meta"))


def test_target_on_another_device_is_refused():
    model = nn.Linear(3, 2)
    with pytest.raises(GradcheckUsageError, match="target are on meta"):
        probe(model, torch.randn(2, 3), torch.zeros(2, dtype=torch.long, device="meta"))


def test_bounds_of_the_wrong_type_are_refused():
    with pytest.raises(GradcheckUsageError, match="bounds must be a pytest_gradcheck.Bounds"):
        probe(nn.Linear(3, 2), torch.randn(2, 3), bounds={"max_grad_norm": 1})
