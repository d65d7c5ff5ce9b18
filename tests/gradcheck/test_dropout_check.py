"""The dropout check: rates measured in train mode, rate 0/1, eval determinism, no side effects."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from pytest_gradcheck import assert_dropout_healthy, check_dropout  # noqa: E402


class Config:
    def __init__(self, dropout: float) -> None:
        self.dropout = dropout


class Classifier(nn.Module):
    def __init__(self, config: Config, functional: str = "off") -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 128)
        self.drop = nn.Dropout(config.dropout)
        self.fc2 = nn.Linear(128, 4)
        self.functional = functional

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(torch.relu(self.fc1(x)))
        if self.functional == "follows-mode":
            h = F.dropout(h, 0.25, training=self.training)
        elif self.functional == "always-on":
            h = F.dropout(h, 0.25)  # training defaults to True: still on in eval
        return self.fc2(h)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(64, 16, generator=torch.Generator().manual_seed(2))


def test_healthy_module_and_functional_dropout_pass_and_are_measured(x) -> None:
    report = assert_dropout_healthy(Classifier(Config(0.3), functional="follows-mode"), x)

    by_name = {site.name: site for site in report.sites}
    assert set(by_name) == {"drop", "<model>/F.dropout"}
    assert by_name["drop"].function == "Dropout" and by_name["drop"].rate == 0.3
    assert abs(by_name["drop"].dropped - 0.3) < 0.05
    assert abs(by_name["<model>/F.dropout"].dropped - 0.25) < 0.05
    assert report.eval_deterministic and not any(site.on_in_eval for site in report.sites)


def test_dropout_rate_one_from_a_config_object_is_caught(x) -> None:
    with pytest.raises(AssertionError) as failure:
        assert_dropout_healthy(Classifier(Config(dropout=1.0)), x)

    message = str(failure.value)
    assert "drop: dropout-misuse: Dropout has rate 1: it drops every unit" in message
    assert "NN401" in message  # the static twin is named


def test_dropout_rate_zero_does_nothing_and_is_reported(x) -> None:
    report = check_dropout(Classifier(Config(dropout=0.0)), x)

    assert [p.message for p in report.problems] == [
        "Dropout has rate 0: it does nothing (delete it?)"
    ]


def test_functional_dropout_left_on_in_eval_is_caught_and_named(x) -> None:
    report = check_dropout(Classifier(Config(0.3), functional="always-on"), x)

    assert not report.eval_deterministic
    site = next(s for s in report.sites if s.name == "<model>/F.dropout")
    assert site.on_in_eval
    (problem,) = report.problems
    assert problem.module == "<model>/F.dropout"
    assert "still drops units with the model in eval mode" in problem.message


class HalfHeartedDropout(nn.Dropout):
    """Claims its rate but drops only a tenth of it: the measurement must see through it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p / 10, self.training)


def test_a_dropout_that_drops_far_less_than_it_claims_is_caught(x) -> None:
    model = nn.Sequential(nn.Linear(16, 256), nn.ReLU(), HalfHeartedDropout(0.5))
    report = check_dropout(model, x)

    (problem,) = report.problems
    assert problem.module == "2"
    assert "claims rate 0.5 but dropped" in problem.message


class NoisyInEval(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Noise injection that ignores the mode: not a dropout, still random at evaluation.
        return self.fc(x + 0.1 * torch.randn_like(x))


def test_eval_forwards_that_disagree_without_any_dropout_are_reported(x) -> None:
    report = check_dropout(NoisyInEval(), x)

    assert report.sites == [] and not report.eval_deterministic
    (problem,) = report.problems
    assert "two eval-mode forwards of the same batch differ" in problem.message


def test_channel_and_inplace_dropout_are_measured() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3), nn.ReLU(inplace=True), nn.Dropout2d(0.4), nn.Dropout(0.2, inplace=True)
    )
    report = assert_dropout_healthy(model, torch.randn(16, 3, 12, 12))

    channel, inplace = report.sites
    assert channel.function == "Dropout2d" and channel.draws == 16 * 32
    assert abs(channel.dropped - 0.4) < 0.1
    assert abs(inplace.dropped - 0.2) < 0.03


def test_alpha_dropout_is_judged_on_its_rate_and_mode_only(x) -> None:
    model = nn.Sequential(nn.Linear(16, 64), nn.SELU(), nn.AlphaDropout(0.2))
    report = assert_dropout_healthy(model, x)

    (site,) = report.sites
    assert site.function == "AlphaDropout" and site.dropped is None


def test_model_buffers_modes_and_rng_are_untouched(x) -> None:
    model = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.Dropout(0.5))
    model.eval()
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()

    check_dropout(model, x)

    assert not model.training and not any(m.training for m in model.modules())
    assert all(torch.equal(v, buffers[k]) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_to_dict_and_table_render_every_site(x) -> None:
    import json

    report = check_dropout(Classifier(Config(0.3), functional="always-on"), x)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))

    assert [s["name"] for s in data["sites"]] == ["drop", "<model>/F.dropout"]
    assert "ON" in report.format_table()
