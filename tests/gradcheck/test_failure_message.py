"""Failure messages: one line per group of findings, root causes first, short, and to the point."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pytest_gradcheck import Bounds, assert_gradients_healthy, probe  # noqa: E402


def _plain_cnn(depth: int = 30) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Conv2d(3 if i == 0 else 8, 8, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))


def _failure(*args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        assert_gradients_healthy(*args, **kwargs)
    return str(info.value)


def test_a_deep_plain_cnn_fails_in_at_most_twenty_lines_each_problem_once():
    torch.manual_seed(0)
    message = _failure(_plain_cnn(), torch.randn(4, 3, 10, 10))
    lines = message.splitlines()
    assert len(lines) <= 20, message
    # Consecutive layers with the same finding share one line with their range.
    assert any(" .. " in line and "Conv2d layers" in line for line in lines), message
    assert len({line for line in lines}) == len(lines)


def _dead_net() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32))
    model.append(nn.ReLU())
    model.append(nn.Linear(32, 3))
    with torch.no_grad():
        model[2].bias.fill_(-100.0)
    model[3].name = "act"
    return model


def test_dead_units_are_named_before_the_zero_gradients_they_cause():
    torch.manual_seed(1)
    message = _failure(_dead_net(), torch.randn(16, 8))
    lines = message.splitlines()
    dead = next(i for i, line in enumerate(lines) if "dead-relu" in line)
    zero = next(i for i, line in enumerate(lines) if "exactly zero gradient" in line)
    assert dead < zero
    assert "likely cause: the units of 3 are dead" in message
    assert "call the module in forward" not in message


def test_tolerated_dead_units_are_still_named_as_the_cause_of_zero_gradients():
    torch.manual_seed(1)
    message = _failure(_dead_net(), torch.randn(16, 8), max_dead_fraction=1.0)
    assert "dead-relu " not in message.splitlines()[1]
    assert "likely cause: the units of 3 are dead" in message
    assert "call the module in forward" not in message


def test_exploding_gradients_name_the_layer_whose_weights_are_too_large():
    torch.manual_seed(2)
    layers: list[nn.Module] = []
    for _ in range(6):
        layers += [nn.Linear(32, 32), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(32, 3))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    with torch.no_grad():
        model[4].weight.mul_(1000.0)
    message = _failure(model, torch.randn(16, 32), torch.randint(0, 3, (16,)))
    assert "culprit: 4 (Linear)" in message


def test_remedies_fit_the_model():
    torch.manual_seed(3)
    normalised = nn.Sequential(
        *[nn.Sequential(nn.Linear(16, 16), nn.LayerNorm(16)) for _ in range(3)]
    )
    report = probe(normalised, torch.randn(8, 16), bounds=Bounds(min_grad_norm=1.0))
    vanishing = [p for p in report.problems if p.code == "vanishing-gradients"]
    assert vanishing and all("add normalization" not in p.remedy for p in vanishing)
    assert all("ReLU-family" not in p.remedy for p in vanishing)

    sigmoid = nn.Sequential(nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 2))
    report = probe(sigmoid, torch.randn(8, 16), bounds=Bounds(min_grad_norm=1.0))
    remedy = next(p.remedy for p in report.problems if p.code == "vanishing-gradients")
    assert "ReLU-family" in remedy and "add normalization" in remedy


def test_failure_lines_name_the_public_exception_and_no_private_module():
    from pytest_gradcheck import GradcheckUsageError

    with pytest.raises(GradcheckUsageError) as info:
        probe(nn.Linear(2, 2), torch.randn(0, 2))
    assert "_probe" not in info.typename and info.type.__module__ == "pytest_gradcheck"
