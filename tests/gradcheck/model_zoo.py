"""Healthy and pathological reference models with their inputs: test and benchmark support only.

They pin the default bounds (``docs/gradcheck-defaults.md``): every healthy model must pass and
every pathology must fail with its own finding. ``build(name)`` returns a seeded ``ZooCase``.
Not public API; imports torch (and ``transformers`` for the cases in ``NEEDS_TRANSFORMERS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["HEALTHY", "NEEDS_TRANSFORMERS", "PATHOLOGICAL", "ZooCase", "build", "names"]


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
    """ResNet-18 for 32x32 images (3x3 stem, no max-pool); ``width=64`` is the standard model.

    ``blocks=(3, 4, 6, 3)`` makes it a ResNet-34."""

    def __init__(
        self, num_classes: int = 10, width: int = 64, blocks: tuple[int, ...] = (2, 2, 2, 2)
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        stages, cin = [], width
        for i, (stride, count) in enumerate(zip((1, 2, 2, 2), blocks)):
            cout = width * 2**i
            stage = [BasicBlock(cin, cout, stride)]
            stage += [BasicBlock(cout, cout, 1) for _ in range(count - 1)]
            stages.append(nn.Sequential(*stage))
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


# --- added for issue 8: transformers from configs, U-Net, 1-D audio CNN, hidden defects ---------


def _bert(small: bool, hidden: int = 64, head: str = "mlm") -> tuple[nn.Module, Any, Any]:
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

    config = BertConfig(
        vocab_size=512,
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=4 * hidden,
        max_position_embeddings=64,
        num_labels=3,
    )
    tokens = torch.randint(0, 512, (8, 32))
    if head == "mlm":
        labels = torch.full_like(tokens, -100)
        masked = torch.rand(tokens.shape) < 0.15
        masked[:, 0] = True  # at least one masked token per row
        labels[masked] = tokens[masked]
        return BertForMaskedLM(config), {"input_ids": tokens, "labels": labels}, None
    labels = torch.randint(0, 3, (8,))
    return BertForSequenceClassification(config), {"input_ids": tokens, "labels": labels}, None


def _llama(small: bool) -> tuple[nn.Module, Any, Any]:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    tokens = torch.randint(0, 512, (8, 32))
    return LlamaForCausalLM(config), {"input_ids": tokens, "labels": tokens}, None


class UNet(nn.Module):
    """A small 2-level U-Net (conv-BN-ReLU pairs, max-pool down, transposed conv up, skips)."""

    def __init__(self, cin: int = 3, classes: int = 4, width: int = 16) -> None:
        super().__init__()

        def pair(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(a, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
                nn.Conv2d(b, b, 3, padding=1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(inplace=True),
            )

        w = width
        self.down1, self.down2, self.bottom = pair(cin, w), pair(w, 2 * w), pair(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2)
        self.dec2 = pair(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, 2)
        self.dec1 = pair(2 * w, w)
        self.out = nn.Conv2d(w, classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        d1 = self.down1(x)
        d2 = self.down2(F.max_pool2d(d1, 2))
        b = self.bottom(F.max_pool2d(d2, 2))
        u2 = self.dec2(torch.cat([self.up2(b), d2], 1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], 1))
        return self.out(u1)


def _unet(small: bool) -> tuple[nn.Module, Any, Any]:
    # Segmentation: (N, C, H, W) scores against (N, H, W) class maps.
    return UNet(), torch.randn(4, 3, 32, 32), torch.randint(0, 4, (4, 32, 32))


def conv1d_net(batch_norm: bool = True, depth: int = 4, width: int = 32) -> nn.Sequential:
    """A 1-D audio-style CNN: strided Conv1d blocks, global average pool, linear head."""
    layers: list[nn.Module] = []
    cin = 1
    for i in range(depth):
        layers.append(nn.Conv1d(cin, width, 9 if i == 0 else 3, 2 if i == 0 else 1, 1))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        cin = width
    layers += [nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, 6)]
    return nn.Sequential(*layers)


def _conv1d_bn(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(conv1d_net(), torch.randn(16, 1, 400), 6)


def _dead_conv1d_channels(small: bool) -> tuple[nn.Module, Any, Any]:
    # Three quarters of the second conv's channels get a bias of -20: dead on every position.
    model = conv1d_net(batch_norm=False)
    with torch.no_grad():
        model[2].bias[: 3 * 32 // 4] = -20.0
    return _classification(model, torch.randn(16, 1, 400), 6)


def _saturated_lstm(small: bool) -> tuple[nn.Module, Any, Any]:
    # Inputs scaled by 1e4 (unnormalized raw features): every gate pre-activation is huge.
    model = nn.Sequential(ScaledLSTM(16, 64, scale=1e4), nn.Linear(64, 5))
    return _classification(model, torch.randn(16, 30, 16), 5)


class ScaledLSTM(nn.Module):
    """An nn.LSTM fed ``scale * x`` and read at its last step."""

    def __init__(self, d_in: int, hidden: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        self.lstm = nn.LSTM(d_in, hidden, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.lstm(x * self.scale)
        return out[:, -1]


def _dead_leaky_relu0(small: bool) -> tuple[nn.Module, Any, Any]:
    # LeakyReLU(negative_slope=0) is a ReLU; a bias of -5 kills it like one.
    model = mlp(4, 128, lambda: nn.LeakyReLU(0.0))
    with torch.no_grad():
        for layer in model[:-1]:
            if isinstance(layer, nn.Linear):
                layer.bias.fill_(-5.0)
    return _classification(model, torch.randn(64, 32), 10)


def _compiled_dead_relu(small: bool) -> tuple[nn.Module, Any, Any]:
    # Warm: called once, so dynamo's cached graph would skip hooks added afterwards.
    model = mlp(4, 128, nn.ReLU)
    with torch.no_grad():
        for layer in model[:-1]:
            if isinstance(layer, nn.Linear):
                layer.bias.fill_(-5.0)
    compiled = torch.compile(model, backend="eager")
    x = torch.randn(64, 32)
    compiled(x)
    return _classification(compiled, x, 10)


def _plain_cnn20(small: bool) -> tuple[nn.Module, Any, Any]:
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()]
    for _ in range(18):
        layers += [nn.Conv2d(16, 16, 3, padding=1), nn.ReLU()]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)]
    return _classification(nn.Sequential(*layers), torch.randn(8, 3, 16, 16), 10)


class GRUTagger(nn.Module):
    """A bidirectional GRU sequence tagger: one class per token."""

    def __init__(self, vocab: int = 400, dim: int = 32, hidden: int = 48, tags: int = 7) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.gru = nn.GRU(dim, hidden, batch_first=True, bidirectional=True)
        self.tag = nn.Linear(2 * hidden, tags)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.tag(self.gru(self.embed(tokens))[0])


def _resnet34(small: bool) -> tuple[nn.Module, Any, Any]:
    # Four stages of widening convolutions: the depth ratio compares stage 1 with stage 4.
    model = CifarResNet18(width=16, blocks=(3, 4, 6, 3))
    return _classification(model, torch.randn(8, 3, 32, 32), 10)


class DenseLayer(nn.Module):
    """DenseNet-BC layer: BN-ReLU-1x1 conv, BN-ReLU-3x3 conv, output concatenated to the input."""

    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(4 * growth)
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        new = self.conv2(F.relu(self.norm2(self.conv1(F.relu(self.norm1(x))))))
        return torch.cat([x, new], 1)


class DenseNet(nn.Module):
    """A small DenseNet-BC for 32x32 images: dense blocks of 6, 12 and 8 layers, growth 12."""

    def __init__(self, growth: int = 12, blocks: tuple[int, ...] = (6, 12, 8)) -> None:
        super().__init__()
        channels = 2 * growth
        self.stem = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        layers: list[nn.Module] = []
        for i, count in enumerate(blocks):
            for _ in range(count):
                layers.append(DenseLayer(channels, growth))
                channels += growth
            if i < len(blocks) - 1:  # transition: halve the channels and the resolution
                layers += [
                    nn.BatchNorm2d(channels),
                    nn.ReLU(),
                    nn.Conv2d(channels, channels // 2, 1, bias=False),
                    nn.AvgPool2d(2),
                ]
                channels //= 2
        self.features = nn.Sequential(*layers)
        self.norm = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.norm(self.features(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _densenet(small: bool) -> tuple[nn.Module, Any, Any]:
    return _classification(DenseNet(), torch.randn(8, 3, 32, 32), 10)


def _gru_tagger(small: bool) -> tuple[nn.Module, Any, Any]:
    tokens = torch.randint(0, 400, (16, 25))
    return GRUTagger(), tokens, torch.randint(0, 7, (16, 25))


class GeneratorStep(nn.Module):
    """A GAN generator step: D(G(z)) with both in the graph (DCGAN-style, BatchNorm in G)."""

    def __init__(self, z: int = 16) -> None:
        super().__init__()
        self.G = nn.Sequential(
            nn.ConvTranspose2d(z, 32, 4, 1, 0, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(True),
            nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(True),
            nn.ConvTranspose2d(16, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )
        self.D = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(16, 32, 4, 2, 1, bias=False),
            nn.BatchNorm2d(32),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(32, 1, 4, 1, 0, bias=False),
            nn.Flatten(),
        )
        for m in self.modules():  # the DCGAN paper's init
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, z: Tensor) -> Tensor:
        return self.D(self.G(z))


def _gan_generator_step(small: bool) -> tuple[nn.Module, Any, Any]:
    # The generator wants D to say "real": BCE-with-logits against a bool target of ones.
    return GeneratorStep(), torch.randn(16, 16, 1, 1), torch.ones(16, 1, dtype=torch.bool)


def _exploding_rnn(small: bool) -> tuple[nn.Module, Any, Any]:
    # Recurrent weights with spectral radius 3 over 100 time steps.
    model = RNNClassifier()
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(32, 32))
        model.rnn.weight_hh_l0.copy_(3 * q)
    return _classification(model, torch.randn(8, 100, 8), 4)


class RNNClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(8, 32, batch_first=True)
        self.head = nn.Linear(32, 4)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.rnn(x)[0][:, -1])


def _one_huge_layer(small: bool) -> tuple[nn.Module, Any, Any]:
    # A Kaiming-initialised MLP whose fourth layer has 1000x too large weights.
    model = mlp(8, 128, nn.ReLU)
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    with torch.no_grad():
        model[6].weight.mul_(1000.0)
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
    "bert_mlm64": (
        lambda small: _bert(small, 64, "mlm"),
        frozenset(),
        frozenset(),
        "BERT masked LM (transformers config), 2 layers, hidden 64, batch 8x32",
    ),
    "bert_mlm128": (
        lambda small: _bert(small, 128, "mlm"),
        frozenset(),
        frozenset(),
        "BERT masked LM (transformers config), 2 layers, hidden 128, batch 8x32",
    ),
    "bert_cls64": (
        lambda small: _bert(small, 64, "cls"),
        frozenset(),
        frozenset(),
        "BERT sequence classification (transformers config), hidden 64, batch 8x32",
    ),
    "bert_cls128": (
        lambda small: _bert(small, 128, "cls"),
        frozenset(),
        frozenset(),
        "BERT sequence classification (transformers config), hidden 128, batch 8x32",
    ),
    "llama": (
        _llama,
        frozenset(),
        frozenset(),
        "Llama-style causal LM (transformers config), 3 layers, hidden 64, GQA, batch 8x32",
    ),
    "unet": (_unet, frozenset(), frozenset(), "2-level U-Net with BatchNorm, batch 4, 32x32"),
    "conv1d_bn": (
        _conv1d_bn,
        frozenset(),
        frozenset(),
        "1-D audio CNN, 4 Conv1d-BatchNorm-ReLU blocks, batch 16x400",
    ),
    "plain_cnn20": (
        _plain_cnn20,
        frozenset({"vanishing-gradients"}),
        frozenset({"dead-relu"}),
        "20-layer plain ReLU CNN, no normalization, default init, batch 8",
    ),
    "dead_conv1d_channels": (
        _dead_conv1d_channels,
        frozenset({"dead-relu"}),
        frozenset(),
        "1-D CNN with 75% of one Conv1d's channels at bias -20",
    ),
    "saturated_lstm": (
        _saturated_lstm,
        frozenset({"saturation"}),
        frozenset({"vanishing-gradients"}),
        "LSTM fed inputs scaled by 1e4 (unnormalized features)",
    ),
    "dead_leaky_relu0": (
        _dead_leaky_relu0,
        frozenset({"dead-relu"}),
        frozenset({"no-gradient"}),
        "4-layer LeakyReLU(negative_slope=0) MLP with every hidden bias at -5",
    ),
    "compiled_dead_relu": (
        _compiled_dead_relu,
        frozenset({"dead-relu"}),
        frozenset({"no-gradient"}),
        "torch.compile'd 4-layer ReLU MLP, bias -5, already called once (warm)",
    ),
    "resnet34": (
        _resnet34,
        frozenset(),
        frozenset(),
        "CIFAR ResNet-34 (3-4-6-3 basic blocks), width 16, batch 8",
    ),
    "densenet": (
        _densenet,
        frozenset(),
        frozenset(),
        "DenseNet-BC (6-12-8 layers, growth 12), concatenated features, batch 8",
    ),
    "gru_tagger": (
        _gru_tagger,
        frozenset(),
        frozenset(),
        "bidirectional GRU token tagger, batch 16x25",
    ),
    "gan_generator_step": (
        _gan_generator_step,
        frozenset(),
        frozenset(),
        "DCGAN-style generator step D(G(z)), BCE against 'real', batch 16",
    ),
    "exploding_rnn": (
        _exploding_rnn,
        frozenset({"exploding-gradients"}),
        frozenset(),
        "tanh RNN with recurrent spectral radius 3 over 100 steps",
    ),
    "one_huge_layer": (
        _one_huge_layer,
        frozenset({"exploding-gradients"}),
        frozenset(),
        "8-layer Kaiming ReLU MLP with one layer's weights 1000x too large",
    ),
}

HEALTHY = tuple(name for name, case in _CASES.items() if not case[1])
PATHOLOGICAL = tuple(name for name, case in _CASES.items() if case[1])
#: Cases built from ``transformers`` configs (no weights are downloaded).
NEEDS_TRANSFORMERS = ("gpt2", "bert_mlm64", "bert_mlm128", "bert_cls64", "bert_cls128", "llama")


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
