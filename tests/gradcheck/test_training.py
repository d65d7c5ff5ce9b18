"""Short runs and one-batch overfit runs on a deep copy: what they catch, what they leave alone."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pytest_gradcheck import (  # noqa: E402
    Bounds,
    GradcheckUsageError,
    assert_can_overfit,
    assert_training_healthy,
    overfit,
    short_run,
)


def relu_net(width: int = 32) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(8, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 4)
    )


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(32, 8, generator=generator), torch.randint(0, 4, (32,), generator=generator)


def sgd(lr: float, **kwargs: float):
    return lambda params: torch.optim.SGD(params, lr=lr, **kwargs)


def test_healthy_relu_net_passes_with_the_default_optimizer(batch) -> None:
    torch.manual_seed(0)
    report = assert_training_healthy(relu_net(), *batch)

    assert report.ok and report.steps == 5
    assert report.optimizer == "Adam(lr=0.001)" and not report.optimizer_given
    assert len(report.losses) == 6 and report.losses[-1] < report.losses[0]
    assert {u.name for u in report.updates} == {"0", "2", "4"}
    assert all(-4 < u.log10 < -1 for u in report.updates)


def test_sgd_learning_rate_10_on_a_relu_net_names_the_learning_rate(batch) -> None:
    torch.manual_seed(0)
    with pytest.raises(AssertionError) as failure:
        assert_training_healthy(relu_net(), *batch, optimizer=sgd(10.0))

    message = str(failure.value)
    assert "SGD(lr=10)" in message
    flagged = [
        line
        for line in message.splitlines()
        if line.lstrip().startswith("- ") and ("learning-rate:" in line or "dead-relu:" in line)
    ]
    assert flagged and all("learning rate" in line for line in flagged)


def test_update_ratio_above_the_bound_is_reported_for_the_worst_layer(batch) -> None:
    torch.manual_seed(0)
    report = short_run(
        relu_net(), *batch, optimizer=sgd(10.0), bounds=Bounds(max_update_ratio=0.01)
    )

    problem = next(p for p in report.problems if p.bound_name == "max_update_ratio")
    worst = max(report.updates, key=lambda u: u.ratio)
    assert problem.module == worst.name and problem.value == worst.ratio
    assert "log10 update/weight" in problem.message and "too high" in problem.message


def test_tiny_learning_rate_is_too_low_for_weight_layers_only(batch) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 4))
    report = short_run(model, *batch, optimizer=sgd(1e-6))

    low = [p for p in report.problems if p.bound_name == "min_update_ratio"]
    assert len(low) == 1 and low[0].code == "learning-rate"
    assert low[0].module in ("0", "3") and "too low" in low[0].message


def test_weights_that_overflow_are_reported_with_step_and_layer(batch) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))
    report = short_run(model, batch[0], torch.randn(32, 4) * 1e30, optimizer=sgd(1e30))

    nonfinite = report.nonfinite
    assert nonfinite is not None and nonfinite.step >= 1
    problem = next(p for p in report.problems if p.code == "non-finite")
    assert f"step {nonfinite.step}" in problem.message
    assert problem.module in ("0", "2", "<loss>")


def test_units_killed_by_the_updates_are_compared_with_the_start(batch) -> None:
    torch.manual_seed(0)
    report = short_run(
        relu_net(64), *batch, optimizer=sgd(10.0), bounds=Bounds(max_update_ratio=1e9)
    )

    assert report.killed, "lr=10 should kill ReLU units"
    worst = report.killed[0]
    assert worst.dead_after > worst.dead_before
    dead = [p for p in report.problems if p.code == "dead-relu"]
    assert dead and dead[0].bound_name == "max_killed_fraction"


def test_loss_that_does_not_go_down_is_judged_on_windows(batch) -> None:
    torch.manual_seed(0)
    model = relu_net()
    for p in model.parameters():
        p.requires_grad_(False)
    model[4].bias.requires_grad_(True)
    report = short_run(model, *batch, optimizer=sgd(0.0))

    problem = next(p for p in report.problems if p.code == "not-learning")
    assert "mean of the first 2" in problem.message and "of the last 2" in problem.message
    assert "frozen (requires_grad=False): 0.weight" in problem.message


def test_a_frozen_model_cannot_overfit_and_the_failure_shows_the_curve(batch) -> None:
    torch.manual_seed(0)
    model = relu_net()
    for p in model[:4].parameters():
        p.requires_grad_(False)
    model[4].weight.requires_grad_(False)
    with pytest.raises(AssertionError) as failure:
        assert_can_overfit(model, *batch, target_loss=0.05, max_steps=40)

    message = str(failure.value)
    assert "never reached the target 0.05" in message
    assert "loss by step: 0:" in message and "40:" in message
    assert "frozen (requires_grad=False): 0.weight, 0.bias, 2.weight, 2.bias and 1 more" in message


class DetachedBody(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 16)
        self.head = nn.Linear(16, 4)
        self.offset = nn.Parameter(torch.zeros(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only the offset can learn: the whole body is cut off by detach().
        return self.head(torch.relu(self.body(x))).detach() + self.offset


def test_a_detached_path_cannot_overfit_and_names_the_parameters_that_never_moved(batch) -> None:
    torch.manual_seed(0)
    report = overfit(DetachedBody(), *batch, max_steps=30)

    assert not report.ok and report.problems[0].code == "not-learning"
    assert report.unmoved == ["body.weight", "body.bias", "head.weight", "head.bias"]
    assert "never moved although they require grad" in report.problems[0].message


def test_a_model_that_can_learn_overfits_one_batch_and_stops_at_the_target(batch) -> None:
    torch.manual_seed(0)
    report = assert_can_overfit(
        relu_net(64), *batch, optimizer=sgd(0.5, momentum=0.9), target_loss=0.1, max_steps=200
    )

    assert report.losses[-1] <= 0.1 < report.losses[0]
    assert report.steps < 200


def test_the_users_model_optimizer_and_rng_are_untouched(batch) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))
    model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    # One real step so the optimizer has momentum buffers to protect.
    nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
    optimizer.step()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    momentum = [optimizer.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    rng = torch.get_rng_state()

    report = short_run(model, *batch, optimizer=optimizer)
    overfit(model, *batch, optimizer=optimizer, max_steps=5)

    assert report.optimizer == "SGD(lr=0.1, momentum=0.9)" and report.optimizer_given
    assert report.steps == 5
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    assert all(
        torch.equal(optimizer.state[p]["momentum_buffer"], m)
        for p, m in zip(model.parameters(), momentum)
    )
    assert not model.training
    assert torch.equal(torch.get_rng_state(), rng)


def test_an_optimizer_instance_is_copied_with_its_groups_and_state(batch) -> None:
    torch.manual_seed(0)
    model = relu_net()
    optimizer = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.01},
            {"params": list(model[2].parameters()) + list(model[4].parameters())},
        ],
        lr=0.1,
    )
    report = short_run(model, *batch, optimizer=optimizer, steps=2)

    assert report.optimizer == "SGD(lr=0.01..0.1)"


def test_an_optimizer_class_takes_its_keyword_arguments(batch) -> None:
    torch.manual_seed(0)
    report = short_run(
        relu_net(), *batch, optimizer=torch.optim.AdamW, optimizer_kwargs={"lr": 3e-4}, steps=2
    )

    assert report.optimizer == "AdamW(lr=0.0003)" and report.steps == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizer": 3}, "optimizer must be an optimizer"),
        ({"optimizer": nn.Linear}, "is not a torch.optim.Optimizer"),
        ({"optimizer": lambda params: None}, "returned NoneType"),
        ({"optimizer": sgd(-1.0)}, "building the optimizer for the short run failed"),
        ({"optimizer_kwargs": {"lr": 1.0}}, "optimizer_kwargs need an optimizer class"),
        ({"steps": 0}, "steps must be a positive integer"),
    ],
)
def test_bad_optimizers_and_steps_are_usage_errors(batch, kwargs, message) -> None:
    with pytest.raises(GradcheckUsageError, match=message):
        short_run(relu_net(), *batch, **kwargs)


def test_an_optimizer_over_another_models_parameters_is_a_usage_error(batch) -> None:
    optimizer = torch.optim.SGD(relu_net().parameters(), lr=0.1)
    with pytest.raises(GradcheckUsageError, match="parameters that are not the model's"):
        short_run(relu_net(), *batch, optimizer=optimizer)


class Uncopyable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4)
        # A non-leaf tensor attribute: deepcopy refuses it.
        self.cache = self.fc.weight * 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_a_model_that_cannot_be_deep_copied_is_a_usage_error(batch) -> None:
    with pytest.raises(GradcheckUsageError, match="cannot deep-copy Uncopyable for a short run"):
        short_run(Uncopyable(), *batch)


def test_failure_names_the_static_rules_and_the_catalog_entry(batch) -> None:
    torch.manual_seed(0)
    report = short_run(relu_net(), *batch, optimizer=sgd(10.0))

    text = report.format_failure()
    assert "loss by step: 0:" in text
    assert "`nnlint rule" in text


def test_report_to_dict_is_json_safe(batch) -> None:
    import json

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))
    report = short_run(model, batch[0], torch.randn(32, 4) * 1e30, optimizer=sgd(1e30))
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))

    assert data["nonfinite"]["step"] == report.nonfinite.step
    assert data["ok"] is False


def test_a_start_probe_of_the_same_batch_and_seed_replaces_the_first_probe(batch) -> None:
    from pytest_gradcheck import probe

    torch.manual_seed(0)
    model = nn.Sequential(relu_net(64), nn.Dropout(0.3))
    alone = short_run(model, *batch, optimizer=sgd(10.0), seed=0)
    reused = short_run(
        model, *batch, optimizer=sgd(10.0), seed=0, start=probe(model, *batch, seed=0)
    )

    assert alone.losses == reused.losses
    assert [(k.name, k.dead_before, k.dead_after) for k in alone.killed] == [
        (k.name, k.dead_before, k.dead_after) for k in reused.killed
    ]
