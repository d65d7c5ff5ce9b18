"""The probe's cheap paths (function mode only when needed, few hooks, batched reductions) measure
what the full path measured."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from pytest_gradcheck import probe  # noqa: E402
from pytest_gradcheck._probe import _norms, _Recorder  # noqa: E402


class FunctionalRelu(nn.Module):
    def forward(self, x):
        return F.relu(x)


class ReluSequential(nn.Sequential):
    """Keeps Sequential's modules but adds a functional relu in its own forward."""

    def forward(self, x):
        return F.relu(super().forward(x))


def _constant_layer(n_in: int, bias: list[float]) -> nn.Linear:
    # Zero weights: each output is its bias, so the dead/saturated units are known exactly.
    layer = nn.Linear(n_in, len(bias))
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.copy_(torch.tensor(bias))
    return layer


def _sites(report) -> dict[str, tuple[float | None, float | None]]:
    return {a.name: (a.dead_fraction, a.saturated_fraction) for a in report.activations}


def test_a_model_of_plain_torch_modules_runs_without_the_function_mode():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))
    assert _Recorder(list(model.named_modules())).mode is None


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(nn.Sequential(nn.Linear(4, 8), FunctionalRelu()), id="custom-child"),
        pytest.param(ReluSequential(nn.Linear(4, 8)), id="subclass-overriding-forward"),
    ],
)
def test_a_custom_forward_anywhere_in_the_model_enables_the_function_mode(model):
    assert _Recorder(list(model.named_modules())).mode is not None
    report = probe(model, torch.randn(5, 4))
    assert [a.kind for a in report.activations] == ["relu"]


def test_functional_relu_in_a_custom_child_of_a_sequential_is_named_after_that_child():
    model = nn.Sequential(nn.Linear(4, 8), FunctionalRelu(), nn.Linear(8, 2), nn.ReLU())
    assert set(_sites(probe(model, torch.randn(5, 4)))) == {"1/relu", "3"}


def test_functional_relu_in_a_user_forward_hook_is_recorded_under_the_hooked_module():
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    model[0].register_forward_hook(lambda module, args, out: F.relu(out))
    assert set(_sites(probe(model, torch.randn(5, 4)))) == {"0/relu"}


def test_modules_without_parameters_or_activations_get_no_hooks():
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.ReLU(), nn.Flatten())
    recorder = _Recorder(list(model.named_modules()))
    recorder.attach()
    try:
        hooked = {
            name
            for name, module in model.named_modules()
            if module._forward_hooks or module._forward_pre_hooks
        }
        assert hooked == {"0", "2"}
    finally:
        recorder.detach()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_dead_and_saturated_counts_stay_per_site_when_batched_across_sites_of_different_width():
    model = nn.Sequential(
        _constant_layer(4, [-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]),
        nn.ReLU(),
        _constant_layer(6, [20.0, 20.0, 0.0, 0.0, 0.0]),
        nn.Sigmoid(),
        _constant_layer(5, [-1.0, 1.0, 1.0]),
        nn.ReLU(),
        nn.Linear(3, 2),
    )
    report = probe(model, torch.randn(7, 4))
    sites = _sites(report)
    assert sites["1"] == (pytest.approx(2 / 6), None)
    assert sites["3"] == (None, pytest.approx(2 / 5))
    assert sites["5"] == (pytest.approx(1 / 3), None)


def test_the_same_relu_module_called_twice_is_counted_per_call():
    relu = nn.ReLU()
    model = nn.Sequential(
        _constant_layer(3, [-1.0, 1.0, 1.0]), relu, _constant_layer(3, [-1.0, -1.0, 1.0]), relu
    )
    sites = _sites(probe(model, torch.randn(4, 3)))
    assert sites["1"] == (pytest.approx(1 / 3), None)
    assert sites["1#2"] == (pytest.approx(2 / 3), None)


def test_norms_of_mixed_dtypes_come_back_in_input_order():
    torch.manual_seed(0)
    tensors = [
        torch.randn(3, 4),
        torch.randn(5, dtype=torch.float64),
        torch.randn(2, 2) * 100,
        torch.randn(6, dtype=torch.float16),
    ]
    norms = _norms(tensors, torch.device("cpu"))
    assert norms.dtype == torch.float32
    expected = [torch.linalg.vector_norm(t.float()).item() for t in tensors]
    assert norms.tolist() == pytest.approx(expected, rel=1e-3)


def test_norms_of_no_tensors_is_an_empty_tensor():
    assert _norms([], torch.device("cpu")).shape == (0,)
