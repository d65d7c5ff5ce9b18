"""What a unit is for every activation layout, ReLU-like activations that die, recurrent gates."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

from pytest_gradcheck import probe  # noqa: E402
from pytest_gradcheck._units import dead_unit_mask, unit_dim  # noqa: E402


def _site(report, name):
    return next(a for a in report.activations if a.name == name)


def _kill_channels(conv: nn.Module, count: int) -> None:
    # The others are kept surely alive, so the dead fraction does not depend on the draw.
    with torch.no_grad():
        conv.bias[:count] = -50.0
        conv.bias[count:] = 50.0


def test_conv1d_channels_are_units_not_time_positions():
    model = nn.Sequential(
        nn.Conv1d(2, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten()
    )
    _kill_channels(model[0], 6)
    report = probe(model, torch.randn(4, 2, 50))
    relu = _site(report, "1")
    assert (relu.units, relu.dead_fraction, relu.unit_kind) == (8, 0.75, "channel")
    assert [p.code for p in report.problems] == ["dead-relu"]
    assert "75% of 8 channels" in report.problems[0].message


def test_all_channels_dead_are_counted_as_channels():
    model = nn.Sequential(nn.Conv1d(2, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 10, 2))
    _kill_channels(model[0], 8)
    relu = _site(probe(model, torch.randn(4, 2, 12)), "1")
    assert (relu.units, relu.dead_fraction) == (8, 1.0)


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_every_conv_dimensionality_reads_channels(dims):
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1](1, 4, 1)
    _kill_channels(conv, 3)
    x = torch.randn(2, 1, *([5] * dims))
    relu = _site(probe(nn.Sequential(conv, nn.ReLU()), x), "1")
    assert (relu.units, relu.dead_fraction) == (4, 0.75)


class ChannelsLastBlock(nn.Module):
    """ConvNeXt-style: a Linear over the last dim of an (N, H, W, C) map, then a ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.pointwise = nn.Linear(3, 6)

    def forward(self, x):
        return F.relu(self.pointwise(x.permute(0, 2, 3, 1)))


def test_channels_last_maps_count_the_last_dim_as_units():
    model = ChannelsLastBlock()
    _kill_channels(model.pointwise, 3)
    relu = _site(probe(model, torch.randn(2, 3, 5, 5)), "<model>/relu")
    assert (relu.units, relu.dead_fraction) == (6, 0.5)


def test_unit_dim_reads_the_layout_from_the_producing_layer():
    y = torch.zeros(4, 16, 16)
    assert unit_dim(y, nn.Conv1d(3, 16, 1)) == 1
    assert unit_dim(y, nn.Linear(3, 16)) == 2
    assert unit_dim(torch.zeros(4, 10, 16), nn.Conv1d(3, 16, 1)) == 2  # permuted to (N, L, C)
    assert unit_dim(torch.zeros(4, 10, 7)) == 2  # no producer: (N, T, F)
    assert unit_dim(torch.zeros(4, 7, 5, 5)) == 1  # no producer: (N, C, H, W)
    assert unit_dim(torch.zeros(7)) is None


def test_dead_unit_mask_is_per_channel_and_leaky_needs_every_output_zero():
    y = torch.zeros(2, 3, 4)
    y[1, 0, 2] = 0.5
    y[:, 2] = -1.0  # negative outputs pass gradient through a PReLU
    assert dead_unit_mask(y, nn.Conv1d(1, 3, 1)).tolist() == [False, True, True]
    assert dead_unit_mask(y, nn.Conv1d(1, 3, 1), leaky=True).tolist() == [False, True, False]


def _dead_mlp(activation: nn.Module) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(8, 32), activation, nn.Linear(32, 3))
    _kill_channels(model[0], 24)
    return model


@pytest.mark.parametrize(
    "activation", [nn.LeakyReLU(0.0), nn.LeakyReLU(negative_slope=0), nn.PReLU(init=0.0)]
)
def test_leaky_relu_with_zero_slope_dies_like_a_relu(activation):
    report = probe(_dead_mlp(activation), torch.randn(16, 8))
    assert _site(report, "1").dead_fraction == 0.75
    assert "dead-relu" in {p.code for p in report.problems}


@pytest.mark.parametrize("activation", [nn.LeakyReLU(0.01), nn.PReLU(init=0.25)])
def test_leaky_relu_with_a_slope_cannot_die(activation):
    report = probe(_dead_mlp(activation), torch.randn(16, 8))
    assert "dead-relu" not in {p.code for p in report.problems}


class FunctionalLeaky(nn.Module):
    def __init__(self, slope: float) -> None:
        super().__init__()
        self.slope = slope
        self.lin = nn.Linear(8, 4)
        with torch.no_grad():
            self.lin.bias.fill_(-50.0)

    def forward(self, x):
        return F.leaky_relu(self.lin(x), self.slope)


def test_functional_leaky_relu_with_zero_slope_is_a_relu_site():
    report = probe(FunctionalLeaky(0.0), torch.randn(16, 8))
    assert [(a.name, a.kind, a.dead_fraction) for a in report.activations] == [
        ("<model>/relu", "relu", 1.0)
    ]
    assert probe(FunctionalLeaky(0.2), torch.randn(16, 8)).activations == []


class Recurrent(nn.Module):
    def __init__(self, rnn: nn.Module, scale: float = 1.0) -> None:
        super().__init__()
        self.rnn, self.scale = rnn, scale
        self.head = nn.Linear(rnn.hidden_size * (2 if rnn.bidirectional else 1), 3)

    def forward(self, x):
        out = self.rnn(x * self.scale)[0]
        return self.head(out[:, -1])


def _gates(report):
    return {a.name: a for a in report.activations}


def test_lstm_gates_are_recomputed_and_reported_per_gate_kind():
    model = Recurrent(nn.LSTM(4, 16, batch_first=True), scale=1e4)
    report = probe(model, torch.randn(6, 12, 4))
    gates = _gates(report)
    assert set(gates) == {f"rnn/{g}_gate" for g in ("input", "forget", "cell", "output")}
    assert gates["rnn/cell_gate"].kind == "tanh" and gates["rnn/input_gate"].kind == "sigmoid"
    assert all(g.saturated_fraction > 0.9 for g in gates.values())
    assert {p.code for p in report.problems} >= {"saturation"}
    assert any("recurrent layer" in p.remedy for p in report.problems)


def test_healthy_lstm_gates_are_not_saturated():
    model = Recurrent(nn.LSTM(4, 16, num_layers=2, batch_first=True))
    report = probe(model, torch.randn(6, 12, 4), torch.randint(0, 3, (6,)))
    assert all(g.saturated_fraction < 0.1 for g in _gates(report).values())
    assert report.ok, report.format_failure()


def test_gate_recomputation_matches_the_modules_own_output():
    # The replayed layer outputs must be the module's: compare the last hidden state.
    from pytest_gradcheck._recurrent import _layer_weights, _run_layer

    lstm = nn.LSTM(4, 8)
    x = torch.randn(5, 3, 4)
    with torch.no_grad():
        expected, _ = lstm(x)
        state = (torch.zeros(1, 3, 8), torch.zeros(1, 3, 8))
        replayed = _run_layer(lstm, x, state, _layer_weights(lstm, 0, 0))
    assert torch.allclose(expected, replayed)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_gates_saturate_with_huge_inputs(bidirectional):
    model = Recurrent(nn.GRU(4, 8, batch_first=True, bidirectional=bidirectional), scale=1e4)
    gates = _gates(probe(model, torch.randn(4, 10, 4)))
    assert set(gates) == {"rnn/reset_gate", "rnn/update_gate", "rnn/new_gate"}
    assert gates["rnn/update_gate"].saturated_fraction > 0.9


def test_relu_rnn_hidden_units_can_die():
    rnn = nn.RNN(4, 8, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.bias_ih_l0.fill_(-50.0)
    gates = _gates(probe(Recurrent(rnn), torch.randn(4, 10, 4)))
    assert gates["rnn/hidden"].kind == "relu" and gates["rnn/hidden"].dead_fraction == 1.0


def test_packed_sequences_and_an_initial_state_are_replayed():
    lstm = nn.LSTM(4, 8, bidirectional=True)

    class Packed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = lstm

        def forward(self, x, lengths, h0, c0):
            packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
            _, (h, _) = self.lstm(packed, (h0, c0))
            return h.sum(0)

    inputs = (
        torch.randn(7, 3, 4),
        torch.tensor([7, 3, 5]),
        torch.zeros(2, 3, 8),
        torch.zeros(2, 3, 8),
    )
    report = probe(Packed(), inputs)
    assert len(_gates(report)) == 4
    assert all(0 <= g.saturated_fraction < 0.5 for g in _gates(report).values())


def test_exploding_recurrent_weights_are_worded_per_time_step():
    rnn = nn.RNN(4, 16, batch_first=True)
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(16, 16))
        rnn.weight_hh_l0.copy_(3 * q)
    report = probe(Recurrent(rnn), torch.randn(4, 60, 4), torch.randint(0, 3, (4,)))
    exploding = [p for p in report.problems if p.code == "exploding-gradients"]
    assert exploding and all("time steps" in p.message for p in exploding)
    assert "per layer" not in report.format_failure()
    assert "orthogonal" in exploding[0].remedy
