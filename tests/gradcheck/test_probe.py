"""The probe's measurements: layer order, module and functional activations, inputs, loss."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

from pytest_gradcheck import probe  # noqa: E402


class RegisteredBackwards(nn.Module):
    """Registers head first but calls it last: forward order differs from registration order."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(16, 3)
        self.middle = nn.Linear(16, 16)
        self.stem = nn.Linear(8, 16)

    def forward(self, x):
        return self.head(torch.relu(self.middle(F.relu(self.stem(x)))))


def test_layers_are_listed_in_forward_order_not_registration_order():
    torch.manual_seed(0)
    report = probe(RegisteredBackwards(), torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))
    assert [layer.name for layer in report.layers] == ["stem", "middle", "head"]
    assert report.vanishing_pair == ("stem", "head")


def test_layer_numbers_match_a_manual_backward():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 2))
    x, y = torch.randn(6, 5), torch.randn(6, 2)
    report = probe(model, x, y)
    F.mse_loss(model(x), y).backward()
    first = model[0]
    grad = torch.cat([first.weight.grad.flatten(), first.bias.grad.flatten()])
    weight = torch.cat([first.weight.flatten(), first.bias.flatten()])
    layer = report.layers[0]
    assert layer.grad_norm == pytest.approx(grad.norm().item(), rel=1e-5)
    assert layer.weight_norm == pytest.approx(weight.norm().item(), rel=1e-5)
    assert layer.grad_rms == pytest.approx(grad.norm().item() / math.sqrt(grad.numel()), rel=1e-5)
    assert layer.ratio == pytest.approx(layer.grad_norm / layer.weight_norm)
    assert report.loss == pytest.approx(F.mse_loss(model(x), y).item(), rel=1e-5)


class FunctionalZoo(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def forward(self, x):
        h = F.relu(self.a(x))
        h = torch.relu(self.b(h))
        h = self.b(h).relu()
        h = self.a(h).relu_()
        h = torch.sigmoid(self.a(h))
        return torch.tanh(self.b(h))


def test_functional_relu_sigmoid_tanh_calls_are_recorded_per_call_site():
    torch.manual_seed(0)
    report = probe(FunctionalZoo(), torch.randn(4, 8))
    assert [(a.name, a.kind) for a in report.activations] == [
        ("<model>/relu", "relu"),
        ("<model>/relu#2", "relu"),
        ("<model>/relu#3", "relu"),
        ("<model>/relu#4", "relu"),
        ("<model>/sigmoid", "sigmoid"),
        ("<model>/tanh", "tanh"),
    ]


def test_relu_module_is_recorded_once_not_also_as_its_inner_functional_call():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    report = probe(model, torch.randn(3, 4))
    assert [(a.name, a.kind) for a in report.activations] == [("1", "relu")]


def test_tanh_inside_gelu_approximation_is_not_counted_as_a_tanh_unit():
    class NewGELUActivation(nn.Module):  # the transformers GPT-2 activation, by name
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(0.79788456 * (x + 0.044715 * x**3)))

    model = nn.Sequential(nn.Linear(4, 8), NewGELUActivation(), nn.Linear(8, 2))
    assert probe(model, torch.randn(3, 4)).activations == []


def test_inplace_relu_modules_work_and_are_measured():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.LazyLinear(2))
    model(torch.randn(1, 3, 6, 6))  # materialise the lazy layer
    report = probe(model, torch.randn(2, 3, 6, 6))
    assert report.activations[0].kind == "relu" and report.activations[0].units == 4


def test_dead_fraction_counts_conv_channels_dead_for_every_example_and_position():
    conv = nn.Conv2d(1, 4, 1)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.copy_(torch.tensor([0.0, 0.0, -100.0, -100.0]))  # channels 2 and 3 are dead
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(4 * 9, 2))
    report = probe(model, torch.randn(5, 1, 3, 3))
    assert report.activations[0].units == 4
    assert report.activations[0].dead_fraction == pytest.approx(0.5)


def test_a_unit_alive_for_one_example_is_not_dead():
    lin = nn.Linear(1, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0], [1.0]]))
        lin.bias.copy_(torch.tensor([0.0, -2.5]))  # unit 1 fires only for x > 2.5
    model = nn.Sequential(lin, nn.ReLU(), nn.Linear(2, 1))
    x = torch.tensor([[-1.0], [0.5], [3.0]])
    assert probe(model, x).activations[0].dead_fraction == 0.0
    assert probe(model, x[:2]).activations[0].dead_fraction == pytest.approx(0.5)


def test_sequence_activations_count_features_as_units_and_tokens_as_examples():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    report = probe(model, torch.randn(2, 5, 4))
    assert report.activations[0].units == 6


def test_saturated_fraction_counts_outputs_pinned_at_a_limit():
    lin = nn.Linear(1, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.0], [0.0]]))
        lin.bias.copy_(torch.tensor([0.0, 50.0]))  # unit 0 at 0.5, unit 1 pinned at 1
    report = probe(nn.Sequential(lin, nn.Sigmoid(), nn.Linear(2, 1)), torch.randn(4, 1))
    assert report.activations[0].saturated_fraction == pytest.approx(0.5)
    assert report.activations[0].dead_fraction is None


def test_tuple_inputs_are_positional_and_dict_inputs_are_keywords():
    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x, scale=1.0):
            return self.lin(x) * scale

    x = torch.randn(4, 3)
    positional = probe(TwoInputs(), (x, torch.tensor(2.0)))
    keywords = probe(TwoInputs(), {"x": x, "scale": torch.tensor(2.0)})
    assert positional.layers[0].name == keywords.layers[0].name == "lin"


class DictOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, x, labels=None):
        logits = self.lin(x)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


def test_output_loss_is_used_when_the_model_returns_one():
    torch.manual_seed(0)
    x, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 0])
    model = DictOutput()
    report = probe(model, {"x": x, "labels": labels})
    assert report.loss == pytest.approx(F.cross_entropy(model.lin(x), labels).item(), rel=1e-5)


def test_logits_of_a_dict_output_get_cross_entropy_for_an_integer_target():
    torch.manual_seed(0)
    model, x, y = DictOutput(), torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 0])
    report = probe(model, x, y)
    assert report.loss == pytest.approx(F.cross_entropy(model.lin(x), y).item(), rel=1e-5)


def test_hugging_face_style_object_output_with_loss_attribute():
    class Output:
        def __init__(self, loss, logits):
            self.loss, self.logits = loss, logits

    class HFLike(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 1)

        def forward(self, x):
            logits = self.lin(x)
            return Output(logits.pow(2).mean(), logits)

    assert probe(HFLike(), torch.randn(4, 3)).loss > 0


def test_sequence_logits_with_token_targets_use_cross_entropy_over_the_last_dim():
    torch.manual_seed(0)
    model = nn.Linear(4, 7)
    x, y = torch.randn(2, 5, 4), torch.randint(0, 7, (2, 5))
    expected = F.cross_entropy(model(x).reshape(-1, 7), y.reshape(-1)).item()
    assert probe(model, x, y).loss == pytest.approx(expected, rel=1e-5)


def test_float_target_uses_mse_and_no_target_uses_the_mean_of_the_output():
    torch.manual_seed(0)
    model, x, y = nn.Linear(3, 2), torch.randn(4, 3), torch.randn(4, 2)
    assert probe(model, x, y).loss == pytest.approx(F.mse_loss(model(x), y).item(), rel=1e-5)
    assert probe(model, x).loss == pytest.approx(model(x).mean().item(), rel=1e-5)


def test_tuple_output_uses_its_first_tensor_and_loss_fn_receives_it():
    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x), "aux"

    seen = []

    def loss_fn(prediction, target):
        seen.append(prediction.shape)
        return (prediction - target).abs().mean()

    probe(Pair(), torch.randn(4, 3), torch.zeros(4, 2), loss_fn)
    assert seen == [torch.Size([4, 2])]


def test_unused_module_params_are_no_grad_and_listed_after_called_layers():
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unused = nn.Linear(3, 3)
            self.used = nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)

    report = probe(Branchy(), torch.randn(4, 3))
    assert [(layer.name, layer.called) for layer in report.layers] == [
        ("used", True),
        ("unused", False),
    ]
    assert report.no_grad == ["unused.weight", "unused.bias"]


def test_parameter_multiplied_by_zero_has_an_exactly_zero_gradient():
    class Gated(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 2)
            self.gate = nn.Linear(3, 2)

        def forward(self, x):
            return self.lin(x) + 0.0 * self.gate(x)

    assert probe(Gated(), torch.randn(4, 3)).zero_grad == ["gate.weight", "gate.bias"]


def test_frozen_parameters_are_not_reported():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    report = probe(model, torch.randn(4, 3))
    assert [layer.name for layer in report.layers] == ["1"] and report.no_grad == []


def test_nan_from_a_functional_op_is_traced_to_the_module_and_op_that_made_it():
    class LogLayer(nn.Module):
        def forward(self, x):
            return torch.log(x)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), LogLayer(), nn.Linear(8, 2))
    report = probe(model, torch.randn(16, 4))
    assert report.nonfinite is not None
    assert report.nonfinite.where == "forward" and report.nonfinite.module == "1"
    assert "log() in 1" in report.nonfinite.detail


def test_nan_already_in_the_inputs_is_blamed_on_the_inputs():
    x = torch.randn(4, 3)
    x[0, 0] = float("nan")
    report = probe(nn.Linear(3, 2), x)
    assert report.nonfinite is not None and report.nonfinite.where == "inputs"


def test_non_finite_loss_with_finite_output_is_blamed_on_the_loss():
    report = probe(nn.Linear(3, 2), torch.randn(4, 3), None, lambda p: p.mean() / 0.0)
    assert report.nonfinite is not None and report.nonfinite.where == "loss"


def test_nan_only_in_backward_is_blamed_on_the_layer_nearest_the_output():
    class SqrtAtZero(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x):
            return torch.sqrt(self.lin(x) * 0.0)  # forward 0, backward 0 * inf = NaN

    report = probe(SqrtAtZero(), torch.randn(4, 3))
    assert report.nonfinite is not None
    assert report.nonfinite.where == "gradient" and report.nonfinite.module == "lin"


def test_report_to_dict_is_strict_json_with_the_documented_keys():
    report = probe(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), torch.randn(4, 3))
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    for key in ("model", "device", "loss", "bounds", "layers", "activations", "vanishing_ratio"):
        assert key in data
    for key in ("problems", "no_grad", "zero_grad", "nonfinite"):
        assert key in data
    assert set(data["layers"][0]) >= {
        "name",
        "type",
        "grad_norm",
        "weight_norm",
        "grad_rms",
        "ratio",
    }
    assert set(data["activations"][0]) >= {"name", "kind", "dead_fraction", "saturated_fraction"}


def test_nan_measurements_become_null_in_json():
    report = probe(nn.Linear(3, 2), torch.randn(4, 3), None, lambda p: p.mean() / 0.0)
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(text)["loss"] is None


class _HostTransfers(TorchFunctionMode):
    """Counts the calls that move data from the device to the host."""

    WATCHED = {
        torch.Tensor.tolist,
        torch.Tensor.item,
        torch.Tensor.cpu,
        torch.Tensor.numpy,
        torch.Tensor.__bool__,
        torch.Tensor.__float__,
    }

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.WATCHED:
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_a_healthy_probe_makes_exactly_one_host_transfer():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Sigmoid())
    x = torch.randn(4, 8)
    with _HostTransfers() as counter:
        probe(model, x)
    assert counter.count == 1


def test_recurrent_gates_and_conv_channels_add_no_host_transfer():
    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(3, 8, 3)
            self.lstm = nn.LSTM(8, 8, num_layers=2, batch_first=True)

        def forward(self, x):
            h = torch.relu(self.conv(x)).transpose(1, 2)
            return self.lstm(h)[0][:, -1]

    with _HostTransfers() as counter:
        report = probe(Model(), torch.randn(4, 3, 12))
    assert counter.count == 1
    assert {a.name for a in report.activations} >= {"<model>/relu", "lstm/forget_gate"}
