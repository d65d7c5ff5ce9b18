"""The probe leaves the model exactly as it found it: on a pass, a failed check and an exception."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.overrides import _get_current_function_mode_stack  # noqa: E402

from pytest_gradcheck import GradcheckUsageError, assert_gradients_healthy, probe  # noqa: E402


class Net(nn.Module):
    """BatchNorm (buffers), dropout (RNG), an inplace ReLU, a frozen layer and a user hook."""

    def __init__(self, explode: bool = False, dead: bool = False) -> None:
        super().__init__()
        self.explode = explode
        self.lin = nn.Linear(6, 8)
        self.bn = nn.BatchNorm1d(8)
        self.relu = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(0.5)
        self.frozen = nn.Linear(8, 8)
        self.frozen.requires_grad_(False)
        self.head = nn.Linear(8, 3)
        if dead:
            with torch.no_grad():
                self.bn.bias.fill_(-100.0)

    def forward(self, x):
        if self.explode:
            raise RuntimeError("boom in forward")
        return self.head(self.frozen(self.drop(self.relu(self.bn(self.lin(x))))))


def _snapshot(model: nn.Module) -> dict:
    return {
        "training": [(name, m.training) for name, m in model.named_modules()],
        "grads": [
            (n, None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()
        ],
        "grad_ids": [(n, id(p.grad)) for n, p in model.named_parameters()],
        "requires_grad": [(n, p.requires_grad) for n, p in model.named_parameters()],
        "buffers": [(n, b.clone()) for n, b in model.named_buffers()],
        "params": [(n, p.detach().clone()) for n, p in model.named_parameters()],
        "hooks": [
            (name, len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for name, m in model.named_modules()
        ],
        "rng": torch.get_rng_state().clone(),
        "modes": len(_get_current_function_mode_stack()),
        "grad_enabled": torch.is_grad_enabled(),
    }


def _assert_same(before: dict, after: dict) -> None:
    for key in ("training", "grad_ids", "requires_grad", "hooks", "modes", "grad_enabled"):
        assert before[key] == after[key], key
    for key in ("grads", "buffers", "params"):
        for (name, a), (_, b) in zip(before[key], after[key]):
            assert (a is None) == (b is None), (key, name)
            if a is not None:
                assert torch.equal(a, b), (key, name)
    assert torch.equal(before["rng"], after["rng"])


def _prepared(model: Net) -> Net:
    """Eval mode with some stale gradients and a user hook, as a test might hand it over."""
    model.eval()
    model.head.weight.grad = torch.full_like(model.head.weight, 7.0)  # head.bias.grad stays None
    model.lin.register_forward_hook(lambda m, i, o: None)
    with torch.no_grad():
        model.bn.running_mean.fill_(0.25)
    return model


def test_passing_probe_restores_mode_grads_buffers_hooks_and_rng():
    torch.manual_seed(0)
    model = _prepared(Net())
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    before = _snapshot(model)
    report = probe(model, x, y)
    assert report.ok, report.format_failure()
    _assert_same(before, _snapshot(model))


def test_failing_assertion_restores_everything():
    torch.manual_seed(0)
    model = _prepared(Net(dead=True))
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    before = _snapshot(model)
    with pytest.raises(AssertionError, match="dead-relu"):
        assert_gradients_healthy(model, x, y)
    _assert_same(before, _snapshot(model))


def test_exception_in_forward_is_reraised_and_everything_restored():
    torch.manual_seed(0)
    model = _prepared(Net(explode=True))
    x = torch.randn(16, 6)
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match="boom in forward"):
        probe(model, x)
    _assert_same(before, _snapshot(model))


def test_exception_in_loss_fn_is_reraised_and_everything_restored():
    torch.manual_seed(0)
    model = _prepared(Net())
    x = torch.randn(16, 6)
    before = _snapshot(model)

    def broken_loss(prediction):
        raise ValueError("bad loss")

    with pytest.raises(ValueError, match="bad loss"):
        probe(model, x, None, broken_loss)
    _assert_same(before, _snapshot(model))


def test_usage_error_after_forward_restores_everything():
    torch.manual_seed(0)
    model = _prepared(Net())
    x = torch.randn(16, 6)
    before = _snapshot(model)
    with pytest.raises(GradcheckUsageError, match="not a scalar"):
        probe(model, x, None, lambda p: p)
    _assert_same(before, _snapshot(model))


def test_probe_runs_in_train_mode_by_default_and_eval_mode_on_request():
    seen = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x):
            seen.append(self.training)
            return self.lin(x)

    model = Spy().eval()
    probe(model, torch.randn(3, 2))
    probe(model, torch.randn(3, 2), train=False)
    assert seen == [True, False] and model.training is False


def test_probe_does_not_consume_the_callers_random_numbers():
    model, x = Net(), torch.randn(8, 6)  # dropout draws random numbers inside the probe
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    probe(model, x)
    assert torch.equal(torch.rand(3), expected)


def test_seed_makes_dropout_masks_and_the_report_reproducible():
    model, x = Net(), torch.randn(16, 6)
    first = probe(model, x, seed=7)
    second = probe(model, x, seed=7)
    assert first.loss == second.loss
    assert [layer.grad_norm for layer in first.layers] == [
        layer.grad_norm for layer in second.layers
    ]


def test_backward_does_not_touch_gradients_of_inputs_that_require_grad():
    x = torch.randn(4, 3, requires_grad=True)
    probe(nn.Linear(3, 2), x)
    assert x.grad is None
