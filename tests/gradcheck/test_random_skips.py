"""Layers a model skips by its own randomness (LayerDrop, batch-level stochastic depth) are not
no-gradient findings: the probe re-runs to find their gradient. Dead code still is one."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from pytest_gradcheck import probe  # noqa: E402
from pytest_gradcheck._probe import RANDOM_SKIP_RERUNS  # noqa: E402


class LayerDropEncoder(nn.Module):
    """Wav2Vec2/HuBERT style: in training each block is skipped for the whole batch with
    probability ``layerdrop``."""

    def __init__(self, layerdrop: float, blocks: int = 3, unused: bool = False) -> None:
        super().__init__()
        self.layerdrop = layerdrop
        self.inp = nn.Linear(8, 16)
        self.blocks = nn.ModuleList(nn.Linear(16, 16) for _ in range(blocks))
        self.head = nn.Linear(16, 4)
        self.unused = nn.Linear(16, 16) if unused else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        for block in self.blocks:
            if self.training and torch.rand(()) < self.layerdrop:
                continue
            h = h + torch.relu(block(h))
        return self.head(h)


class BatchStochasticDepth(nn.Module):
    """torchvision's StochasticDepth(mode="batch"): the branch runs, then is multiplied by 0."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.inp = nn.Linear(8, 16)
        self.branch = nn.Linear(16, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        keep = float(torch.rand(()) >= self.p) if self.training else 1.0
        return self.head(h + keep * self.branch(h))


def _seed_that_skips(make, skipped) -> int:
    """A seed whose probe pass skips the layer(s) ``skipped`` names (found, not assumed)."""
    for seed in range(200):
        model = make()
        report = probe(model, torch.randn(16, 8), seed=seed)
        if report.skipped_at_random and all(
            any(name.startswith(s) for name in report.skipped_at_random) for s in skipped
        ):
            return seed
    pytest.fail("no seed in 200 made the probe's pass skip a layer")


def test_a_layer_skipped_by_layerdrop_in_the_pass_is_not_a_finding():
    torch.manual_seed(0)
    seed = _seed_that_skips(lambda: LayerDropEncoder(0.5), ["blocks."])
    torch.manual_seed(0)
    report = probe(LayerDropEncoder(0.5), torch.randn(16, 8), seed=seed)
    assert report.ok, report.format_failure()
    assert report.no_grad == []
    assert all(name.startswith("blocks.") for name in report.skipped_at_random)
    assert "skipped at random" in report.summary_line()
    assert report.to_dict()["skipped_at_random"] == report.skipped_at_random


def test_a_branch_zeroed_at_random_is_not_an_exactly_zero_gradient_finding():
    torch.manual_seed(0)
    seed = _seed_that_skips(lambda: BatchStochasticDepth(0.5), ["branch."])
    torch.manual_seed(0)
    report = probe(BatchStochasticDepth(0.5), torch.randn(16, 8), seed=seed)
    assert report.ok, report.format_failure()
    assert report.zero_grad == [] and set(report.skipped_at_random) == {
        "branch.weight",
        "branch.bias",
    }


def test_a_layer_every_draw_skips_and_dead_code_are_still_reported():
    report = probe(LayerDropEncoder(1.0, unused=True), torch.randn(16, 8), seed=0)
    assert not report.ok and report.skipped_at_random == []
    missing = {p.module for p in report.problems if p.code == "no-gradient"}
    assert missing == {"blocks.0", "blocks.1", "blocks.2", "unused"}
    assert RANDOM_SKIP_RERUNS >= 2


def test_eval_mode_probes_are_not_re_run():
    report = probe(LayerDropEncoder(0.0, unused=True), torch.randn(16, 8), train=False)
    assert [p.module for p in report.problems if p.code == "no-gradient"] == ["unused"]


def test_the_re_runs_leave_grads_and_rng_as_they_were():
    torch.manual_seed(0)
    seed = _seed_that_skips(lambda: LayerDropEncoder(0.5), ["blocks."])
    torch.manual_seed(0)
    model = LayerDropEncoder(0.5)
    model.eval()
    grads = {}
    for name, p in model.named_parameters():
        p.grad = torch.full_like(p, 3.0)
        grads[name] = p.grad.clone()
    x = torch.randn(16, 8)
    torch.manual_seed(1234)
    rng = torch.get_rng_state()
    report = probe(model, x, seed=seed)
    assert report.skipped_at_random
    assert torch.equal(torch.get_rng_state(), rng)
    assert not model.training
    for name, p in model.named_parameters():
        assert torch.equal(p.grad, grads[name]), name


def test_a_wav2vec2_with_layerdrop_is_healthy_in_every_seed():
    """The held-out false alarm itself: transformers' Wav2Vec2 skips encoder layers at random."""
    transformers = pytest.importorskip("transformers")
    config = transformers.Wav2Vec2Config(
        vocab_size=32,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 4),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
        ctc_loss_reduction="mean",
        pad_token_id=0,
        layerdrop=0.5,
    )
    excused = 0
    for seed in range(4):
        torch.manual_seed(seed)
        model = transformers.Wav2Vec2ForCTC(config)
        inputs = {"input_values": torch.randn(2, 2000), "labels": torch.randint(1, 32, (2, 4))}
        report = probe(model, inputs, seed=seed)
        assert report.ok, report.format_failure()
        excused += bool(report.skipped_at_random)
    assert excused  # with layerdrop 0.5 some pass skipped a layer, and it was excused
