"""The vanishing/exploding ratio compares like with like along depth (layer roles)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pytest_gradcheck import Bounds, probe  # noqa: E402
from pytest_gradcheck.checks import depth_ratio, layer_role  # noqa: E402
from pytest_gradcheck.report import LayerStats  # noqa: E402


def _layer(name: str, rms: float, type_: str = "Linear") -> LayerStats:
    return LayerStats(
        name=name,
        type=type_,
        params=["weight"],
        numel=100,
        grad_norm=rms * 10,
        weight_norm=1.0,
        grad_rms=rms,
        ratio=rms * 10,
        is_weight_layer=True,
        called=True,
    )


def test_roles_replace_numbers_in_the_path_and_keep_the_type():
    assert layer_role(_layer("enc.layer.11.attn.query", 1)) == "Linear:enc.layer.#.attn.query"
    assert layer_role(_layer("layer2.0.conv1", 1, "Conv2d")) == "Conv2d:layer#.#.conv#"


def test_small_query_gradients_are_compared_with_the_next_query_not_the_head():
    # Attention-like: query/key get 1e-4 of the others' gradient in every block, at every depth.
    layers = []
    for block in range(3):
        layers += [_layer(f"blocks.{block}.query", 1e-6), _layer(f"blocks.{block}.mlp", 1e-2)]
    layers.append(_layer("head", 1e-2))
    found = depth_ratio(layers)
    assert found is not None and 0.5 < found.ratio < 2
    assert found.role is not None


def test_most_extreme_role_is_reported():
    layers = [
        _layer("blocks.0.a", 1.0),
        _layer("blocks.0.b", 1.0),
        _layer("blocks.1.a", 1.0),
        _layer("blocks.1.b", 1e3),
    ]
    found = depth_ratio(layers)
    assert (found.first, found.last, found.ratio) == ("blocks.0.b", "blocks.1.b", 1e-3)


def test_without_repeated_roles_first_and_last_weight_layers_are_compared():
    found = depth_ratio([_layer("stem", 1e-5), _layer("body", 1e-3), _layer("head", 1e-1)])
    assert (found.first, found.last, found.role) == ("stem", "head", None)
    assert found.ratio == pytest.approx(1e-4)
    assert found.growth == pytest.approx(1e-2)


def _tiny_bert(head: str):
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=300,
        hidden_size=48,
        num_hidden_layers=3,
        num_attention_heads=3,
        intermediate_size=96,
        max_position_embeddings=40,
        num_labels=2,
    )
    tokens = torch.randint(0, 300, (6, 24))
    if head == "mlm":
        labels = torch.where(torch.rand(tokens.shape) < 0.2, tokens, torch.tensor(-100))
        labels[:, 1] = tokens[:, 1]
        return transformers.BertForMaskedLM(config), {"input_ids": tokens, "labels": labels}
    labels = torch.randint(0, 2, (6,))
    model = transformers.BertForSequenceClassification(config)
    return model, {"input_ids": tokens, "labels": labels}


@pytest.mark.parametrize("head", ["mlm", "cls"])
def test_freshly_initialised_bert_passes_the_default_bounds(head):
    model, inputs = _tiny_bert(head)
    report = probe(model, inputs)
    assert report.ok, report.format_failure()
    # What used to be compared: query of block 0 against the head, 1e-4 apart.
    query = next(layer for layer in report.layers if layer.name.endswith("0.attention.self.query"))
    last = [layer for layer in report.layers if layer.is_weight_layer and layer.grad_rms][-1]
    assert query.grad_rms / last.grad_rms < 1e-2


def test_tiny_llama_passes_the_default_bounds():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=300,
        hidden_size=48,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=40,
    )
    tokens = torch.randint(0, 300, (4, 20))
    report = probe(transformers.LlamaForCausalLM(config), {"input_ids": tokens, "labels": tokens})
    assert report.ok, report.format_failure()


def _deep(activation, depth: int = 14, kaiming: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(16, 64), activation()]
    for _ in range(depth - 2):
        layers += [nn.Linear(64, 64), activation()]
    layers.append(nn.Linear(64, 4))
    model = nn.Sequential(*layers)
    if kaiming:
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    return model


@pytest.mark.parametrize(
    ("activation", "kaiming", "vanishes"),
    [(nn.Sigmoid, False, True), (nn.ReLU, False, True), (nn.ReLU, True, False)],
)
def test_deep_stacks_still_vanish_unless_initialised_for_their_depth(activation, kaiming, vanishes):
    torch.manual_seed(3)
    report = probe(_deep(activation, kaiming=kaiming), torch.randn(32, 16))
    found = {p.bound_name for p in report.problems}
    assert ("min_vanishing_ratio" in found) == vanishes, report.format_failure()
    assert report.vanishing_pair == ("0", "26")


def test_deep_plain_cnn_vanishes():
    torch.manual_seed(4)
    layers: list[nn.Module] = []
    for i in range(16):
        layers += [nn.Conv2d(3 if i == 0 else 8, 8, 3, padding=1), nn.ReLU()]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    report = probe(model, torch.randn(4, 3, 12, 12))
    assert "min_vanishing_ratio" in {p.bound_name for p in report.problems}
    assert report.depth_role == "Conv2d:#"


def test_ignored_layers_leave_their_role():
    torch.manual_seed(5)
    report = probe(_deep(nn.Sigmoid), torch.randn(32, 16), bounds=Bounds(ignore=("0", "2")))
    assert report.vanishing_pair == ("4", "26")
