"""Healthy and pathological reference models with their inputs: test and benchmark support only.

They pin the default bounds (``docs/gradcheck-defaults.md``): every healthy model must pass and
every pathology must fail with its own finding. ``build(name)`` returns a seeded ``ZooCase``.
Not public API; imports torch (and ``transformers`` for the GPT-2 case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["HEALTHY", "PATHOLOGICAL", "ZooCase", "build", "names"]


@dataclass
class ZooCase:
    name: str
    model: nn.Module
    inputs: Any
    target: Any
    expected: frozenset[str]
    """Failure-mode ids the default bounds must report (empty: the model is healthy)."""
    plausible: frozenset[str]
    """Other ids that may also be reported: consequences of the same defect."""
    description: str


# --- healthy architectures --------------------------------------------------------------------


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.relu(out)


class CifarResNet18(nn.Module):
    """ResNet-18 for 32x32 images (3x3 stem, no max-pool); ``width=64`` is the standard model."""

    def __init__(self, num_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages, cin = [], width
        for i, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2**i
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        # Functional relu on purpose: the probe must see it through its TorchFunctionMode.
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class ViTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: Tensor) -> Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, t, 3, self.heads, d // self.heads).unbind(2)
        attn = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        x = x + self.proj(attn.transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.norm2(x))


class SmallViT(nn.Module):
    """A pre-norm vision transformer: 4x4 patches of a 32x32 image, class token, GELU MLPs."""

    def __init__(self, dim: int = 64, depth: int = 4, heads: int = 4, num_classes: int = 10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, 4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 65, dim) * 0.02)
        self.blocks = nn.Sequential(*(ViTBlock(dim, heads, 2 * dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


class LSTMClassifier(nn.Module):
    def __init__(self, vocab: int = 500, dim: int = 64, hidden: int = 128, classes: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.lstm(self.embed(tokens))
        return self.head(out[:, -1])


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int = 4) -> None:
        super().__init__()
        mid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.block = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x) if self.use_res else self.block(x)


class MobileNetReLU6(nn.Module):
    """MobileNetV2-style: depthwise-separable inverted residuals with BatchNorm and ReLU6."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(inplace=True)
        )
        self.blocks = nn.Sequential(
            InvertedResidual(16, 24, 2),
            InvertedResidual(24, 24, 1),
            InvertedResidual(24, 32, 2),
            InvertedResidual(32, 32, 1),
            InvertedResidual(32, 64, 2),
            InvertedResidual(64, 64, 1),
        )
        self.head = nn.Sequential(
            nn.Conv2d(64, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU6(inplace=True)
        )
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def mlp(
    depth: int, width: int, activation: Callable[[], nn.Module], d_in: int = 32, d_out: int = 10
) -> nn.Sequential:
    """``depth`` Linear layers with ``activation`` between them, PyTorch default init."""
    layers: list[nn.Module] = []
    sizes = [d_in] + [width] * (depth - 1) + [d_out]
    for i in range(depth):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < depth - 1:
            layers.append(activation())
    return nn.Sequential(*layers)


# --- pathologies ------------------------------------------------------------------------------


class LogFeatures(nn.Module):
    """``log`` of raw pre-activations: NaN for every negative one (a missing softplus/epsilon)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.log(x)


class UnusedBranch(nn.Module):
    """An auxiliary head that is built but never called in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
        self.aux_head = nn.Linear(64, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


def _classification(model: nn.Module, x: Tensor, classes: int) -> tuple[nn.Module, Tensor, Tensor]:
    return model, x, torch.randint(0, classes, (x.shape[0],))


def _resnet(small: bool) -> tuple[nn.Module, Any, Any]:
    model = CifarResNet18(width=8 if small else 64)
    return _classification(model, torch.randn(4 if small else 8, 3, 32, 32), 10)


def _vit(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(SmallViT(), torch.randn(16, 3, 32, 32), 10)


def _gpt2(small: bool) -> tuple[nn.Module, Any, Any]:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=512,
        n_positions=64,
        n_embd=64,
        n_layer=3,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
        loss_type="ForCausalLM",
    )
    model = GPT2LMHeadModel(config)
    tokens = torch.randint(0, 512, (8, 32))
    # labels= makes the model compute its own causal-LM loss: the probe takes output.loss.
    return model, {"input_ids": tokens, "labels": tokens}, None


def _lstm(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(LSTMClassifier(), torch.randint(0, 500, (32, 20)), 5)


def _mobilenet(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(MobileNetReLU6(), torch.randn(8, 3, 32, 32), 10)


def _relu_mlp20(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(mlp(20, 256, nn.ReLU), torch.randn(64, 32), 10)


def _relu_mlp20_kaiming(small: bool) -> tuple[nn.Module, Any, Any]:
    model = mlp(20, 256, nn.ReLU)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                layer.bias.zero_()
    return _classification(model, torch.randn(64, 32), 10)


def _sigmoid_mlp20(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(mlp(20, 256, nn.Sigmoid), torch.randn(64, 32), 10)


def _negative_bias_relu(small: bool) -> tuple[nn.Module, Any, Any]:
    model = mlp(4, 128, nn.ReLU)
    with torch.no_grad():
        for layer in model[:-1]:
            if isinstance(layer, nn.Linear):
                layer.bias.fill_(-5.0)
    return _classification(model, torch.randn(64, 32), 10)


def _huge_init_mlp(small: bool) -> tuple[nn.Module, Any, Any]:
    model = mlp(12, 128, nn.ReLU)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.5)
    return _classification(model, torch.randn(64, 32), 10)


def _nan_model(small: bool) -> tuple[nn.Module, Any, Any]:
    model = nn.Sequential(nn.Linear(32, 64), LogFeatures(), nn.Linear(64, 10))
    return _classification(model, torch.randn(64, 32), 10)


def _unused_branch(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(UnusedBranch(), torch.randn(64, 32), 10)


def _saturated_tanh(small: bool) -> tuple[nn.Module, Any, Any]:
    model = mlp(6, 128, nn.Tanh)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=1.0)
    return _classification(model, torch.randn(64, 32), 10)


_Builder = Callable[[bool], tuple[nn.Module, Any, Any]]
_CASES: dict[str, tuple[_Builder, frozenset[str], frozenset[str], str]] = {
    "resnet18": (
        _resnet,
        frozenset(),
        frozenset(),
        "CIFAR ResNet-18 (tests: width 8, batch 4; --full: width 64, batch 8)",
    ),
    "vit": (_vit, frozenset(), frozenset(), "ViT, 4 blocks, dim 64, batch 16"),
    "gpt2": (
        _gpt2,
        frozenset(),
        frozenset(),
        "GPT-2 (transformers), 3 layers, n_embd 64, batch 8x32",
    ),
    "lstm": (_lstm, frozenset(), frozenset(), "2-layer LSTM classifier, batch 32x20"),
    "mobilenet": (_mobilenet, frozenset(), frozenset(), "MobileNetV2-style ReLU6 net, batch 8"),
    "relu_mlp20_kaiming": (
        _relu_mlp20_kaiming,
        frozenset(),
        frozenset(),
        "20-layer ReLU MLP, width 256, Kaiming init, zero bias, batch 64",
    ),
    # Default init shrinks activations 0.41x per layer: gradients vanish, and the biases then
    # decide the sign of the pre-activations, killing the units whose bias is negative.
    "relu_mlp20": (
        _relu_mlp20,
        frozenset({"vanishing-gradients"}),
        frozenset({"dead-relu"}),
        "20-layer ReLU MLP, width 256, PyTorch default init, batch 64",
    ),
    "sigmoid_mlp20": (
        _sigmoid_mlp20,
        frozenset({"vanishing-gradients"}),
        frozenset(),
        "20-layer sigmoid MLP, width 256, default init, batch 64",
    ),
    "negative_bias_relu": (
        _negative_bias_relu,
        frozenset({"dead-relu"}),
        frozenset({"no-gradient"}),
        "4-layer ReLU MLP with every hidden bias at -5",
    ),
    "huge_init_mlp": (
        _huge_init_mlp,
        frozenset({"exploding-gradients"}),
        frozenset(),
        "12-layer plain ReLU MLP, weights N(0, 0.5^2) (~6x Kaiming)",
    ),
    "nan_model": (_nan_model, frozenset({"non-finite"}), frozenset(), "log of raw pre-activations"),
    "unused_branch": (
        _unused_branch,
        frozenset({"no-gradient"}),
        frozenset(),
        "auxiliary head built but never called",
    ),
    # Weights 11x Xavier: outputs pin at +-1 and the gradient grows toward the input.
    "saturated_tanh": (
        _saturated_tanh,
        frozenset({"saturation"}),
        frozenset({"exploding-gradients", "vanishing-gradients"}),
        "6-layer tanh MLP, weights N(0, 1)",
    ),
}

HEALTHY = tuple(name for name, case in _CASES.items() if not case[1])
PATHOLOGICAL = tuple(name for name, case in _CASES.items() if case[1])


def names() -> tuple[str, ...]:
    return tuple(_CASES)


def build(name: str, seed: int = 0, small: bool = True) -> ZooCase:
    """A freshly built, seeded case; ``small=False`` gives the full-width ResNet-18."""
    try:
        builder, expected, plausible, description = _CASES[name]
    except KeyError:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(_CASES)}") from None
    torch.manual_seed(seed)
    model, inputs, target = builder(small)
    return ZooCase(name, model, inputs, target, expected, plausible, description)
