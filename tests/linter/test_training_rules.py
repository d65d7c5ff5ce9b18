"""The training family (optimizers, losses, loop calls, initialisation) and the behaviour of its
rules that the inline samples cannot pin: the unsafe fix, options from pyproject.toml, the scan
that finds a loss object's calls, and the precision guards found on public training code."""

from __future__ import annotations

import libcst as cst
import pytest
from click.testing import CliRunner

from nnlint.cli import cli
from nnlint.engine import LintSettings, lint_source
from nnlint.extractors.training import enclosing_blocks
from nnlint.findings import Applicability
from nnlint.fixes import apply_edits, fix_edits
from nnlint.rules import get_rule
from nnlint.walker import collect_facts


def facts_of(source: str):
    return collect_facts(cst.parse_module(source))


def findings(source: str, *codes: str):
    settings = LintSettings(enabled=frozenset(codes))
    return lint_source(source.encode(), "sample.py", settings).findings


# ---------------------------------------------------------------------------------------------
# NN502's fix: carried by the violation, unsafe, never applied by --fix


_INLINE_BCE = (
    "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
    "def step(logits, y, w):\n"
    "    a = F.binary_cross_entropy(torch.sigmoid(logits), y, weight=w)\n"
    "    b = nn.BCELoss(reduction='sum')(logits.sigmoid(), y)\n"
    "    return a + b\n"
)


def _nn502_violations(source: str):
    module = cst.parse_module(source)
    facts = collect_facts(module)
    rule = get_rule("NN502").rule_class()
    return module, list(rule.check(facts))


def test_sigmoid_bce_fix_rewrites_to_the_with_logits_loss_on_the_sigmoid_input() -> None:
    module, violations = _nn502_violations(_INLINE_BCE)
    fixes = [v.fix for v in violations]
    assert all(fix is not None for fix in fixes)
    edits = [edit for _, edit in fix_edits(module, _INLINE_BCE, "utf-8", False, fixes)]
    assert len(edits) == len(fixes)
    text = apply_edits(_INLINE_BCE.encode(), edits)[0].decode()
    assert "F.binary_cross_entropy_with_logits(logits, y, weight=w)" in text
    assert "nn.BCEWithLogitsLoss(reduction='sum')(logits, y)" in text


def test_sigmoid_bce_fix_is_unsafe_and_applied_only_with_unsafe_fixes() -> None:
    settings = LintSettings(enabled=frozenset({"NN502"}))
    safe_only = lint_source(_INLINE_BCE.encode(), "s.py", settings, fix=True)
    assert safe_only.fixed_source is None
    assert [f.code for f in safe_only.findings] == ["NN502", "NN502"]
    assert all(f.fix_applicability is Applicability.UNSAFE for f in safe_only.findings)
    unsafe = lint_source(_INLINE_BCE.encode(), "s.py", settings, fix=True, unsafe_fixes=True)
    assert unsafe.fixed_count == 2 and unsafe.findings == []


@pytest.mark.parametrize(
    "source",
    [
        # Through a local: the probabilities may be used elsewhere.
        "import torch\nimport torch.nn.functional as F\n\ndef step(z, y):\n"
        "    p = torch.sigmoid(z)\n    return F.binary_cross_entropy(p, y), p\n",
        # A bare imported name: the with-logits twin would need an import.
        "import torch\nfrom torch.nn.functional import binary_cross_entropy\n"
        "loss = binary_cross_entropy(torch.sigmoid(z), y)\n",
        # A reshape between the sigmoid and the loss.
        "import torch\nimport torch.nn.functional as F\n"
        "loss = F.binary_cross_entropy(torch.sigmoid(z).view(-1), y)\n",
        # The model's own sigmoid layer.
        "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())\n"
        "loss = nn.BCELoss()(net(x), y)\n",
    ],
)
def test_sigmoid_bce_offers_no_fix_where_the_pairing_is_not_local(source: str) -> None:
    _, violations = _nn502_violations(source)
    assert len(violations) == 1
    assert violations[0].fix is None


# ---------------------------------------------------------------------------------------------
# Options from pyproject.toml


def test_learning_rate_thresholds_come_from_pyproject(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.nnlint]\nselect = ['NN301']\n"
        "[tool.nnlint.learning-rate-too-high]\nsgd-threshold = 1.0\nadaptive-threshold = 0.05\n"
    )
    (tmp_path / "train.py").write_text(
        "import torch\nsgd = torch.optim.SGD(m.parameters(), lr=1.0)\n"
        "adam = torch.optim.Adam(m.parameters(), lr=0.05)\n"
    )
    result = CliRunner().invoke(cli, ["check", str(tmp_path), "--no-cache"])
    assert result.exit_code == 1, result.output
    assert result.output.count("NN301") == 2


def test_a_misspelt_learning_rate_option_is_a_config_error(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.nnlint.learning-rate-too-high]\nadam-threshold = 0.05\n"
    )
    (tmp_path / "train.py").write_text("import torch\n")
    result = CliRunner().invoke(cli, ["check", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2
    assert "adaptive-threshold" in result.output


# ---------------------------------------------------------------------------------------------
# What the extractor reads


def test_a_loss_object_is_followed_to_its_calls_in_every_scope_that_sees_it() -> None:
    facts = facts_of(
        "import torch\nimport torch.nn as nn\n\ncriterion = nn.CrossEntropyLoss()\n\n"
        "class Model(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.loss = nn.BCELoss()\n\n    def step(self, x, y):\n"
        "        return self.loss(torch.sigmoid(x), y)\n\n"
        "def train(x, y):\n    for _ in range(3):\n        if x is not None:\n"
        "            out = torch.softmax(x, 1)\n            loss = criterion(out, y)\n"
        "\ndef evaluate(criterion, x, y):\n    return criterion(torch.softmax(x, 1), y)\n"
    )
    losses = facts.family("training").losses
    found = [(a.spec.qualname, a.producer.activation, a.producer.via) for a in losses]
    # `evaluate`'s parameter shadows the module-level loss: not followed.
    assert found == [
        ("torch.nn.CrossEntropyLoss", "softmax", "local"),
        ("torch.nn.BCELoss", "sigmoid", "inline"),
    ]


def test_the_scan_numbers_statements_like_the_walker() -> None:
    # A reaching assignment is decided by comparing statement paths of the walker (for the
    # assignment) and of the loss-call scan (for the use): both must number alike.
    source = (
        "import torch\nimport torch.nn as nn\nclass A:\n    pass\n\n"
        "loss_fn = nn.CrossEntropyLoss()\n"
        "def f(x, y, flag):\n    try:\n        pass\n    finally:\n        pass\n"
        "    while flag:\n        if flag:\n            pass\n        elif x:\n"
        "            p = torch.softmax(x, 1)\n            return loss_fn(p, y)\n"
    )
    losses = facts_of(source).family("training").losses
    assert [a.producer.via for a in losses] == ["local"]


def test_enclosing_blocks_tells_an_if_from_its_else() -> None:
    source = (
        "import torch\n\ndef step(amp, scaler, loss, opt):\n    if amp:\n"
        "        scaler.scale(loss).backward()\n    else:\n        loss.backward()\n"
    )
    module = cst.parse_module(source)
    calls = collect_facts(module).family("training").loop_calls
    first, second = (enclosing_blocks(module, c.call)[-1][1] for c in calls)
    assert first is not second


def test_optimizer_steps_are_told_from_scheduler_and_environment_steps() -> None:
    facts = facts_of(
        "import torch\n\ndef loop(opt, optimizer_g, scaler, scheduler, env, lr_sched):\n"
        "    opt.step()\n    optimizer_g.step()\n    scaler.step(opt)\n    scheduler.step()\n"
        "    env.step(0)\n    lr_sched.step()\n"
    )
    steps = [c for c in facts.family("training").loop_calls if c.kind == "step"]
    assert [cst.Module(body=[]).code_for_node(c.target) for c in steps] == [
        "opt",
        "optimizer_g",
        "opt",
    ]


# ---------------------------------------------------------------------------------------------
# Precision guards found on public training code


def test_additive_attention_scores_are_not_a_single_unit_softmax() -> None:
    # bentrevett/pytorch-seq2seq and sgrvinod's captioning: `Linear(d, 1)` scores, squeezed,
    # softmaxed over the sequence.
    source = (
        "import torch.nn as nn\nimport torch.nn.functional as F\n\nclass Attention(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.full_att = nn.Linear(16, 1)\n        self.softmax = nn.Softmax(dim=1)\n\n"
        "    def forward(self, att):\n"
        "        return self.softmax(self.full_att(att).squeeze(2))\n"
    )
    assert findings(source, "NN503") == []


def test_a_gan_discriminator_is_reported_once_per_loss() -> None:
    source = (
        "import torch.nn as nn\n\nclass D(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.net = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())\n\n"
        "    def forward(self, x):\n        return self.net(x)\n\n"
        "d = D()\nadversarial = nn.BCELoss()\n"
        "real = adversarial(d(x), ones)\nfake = adversarial(d(g), zeros)\n"
    )
    found = findings(source, "NN502")
    assert [(f.line, f.code) for f in found] == [(13, "NN502")]
    assert "textbook form" in found[0].message


def test_amp_clipping_in_the_plain_branch_is_not_compared_with_the_amp_branch() -> None:
    # minGPT-ddp's trainer has the AMP bug in one branch; the plain branch is right.
    source = (
        "import torch\n\ndef step(model, opt, scaler, loss, amp):\n    if amp:\n"
        "        scaler.scale(loss).backward()\n"
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "        scaler.step(opt)\n    else:\n        loss.backward()\n"
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n        opt.step()\n"
    )
    assert [f.line for f in findings(source, "NN505")] == [6]


def test_a_commented_out_zero_grad_is_no_reset() -> None:
    source = (
        "import torch\n\ndef train(model, optimizer, loader):\n    for x in loader:\n"
        "        # optimizer.zero_grad()\n        model(x).sum().backward()\n"
        "        optimizer.step()\n"
    )
    assert [f.code for f in findings(source, "NN504")] == ["NN504"]
