"""NN505: gradient clipping that does nothing: after the step, before backward, or on
AMP-scaled gradients."""

from __future__ import annotations

from collections.abc import Iterator

from nnlint.catalog import EXPLODING_GRADIENTS
from nnlint.extractors.training import LoopCall
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._dropout import expression_text
from nnlint.rules._training import Dominance, calls_by_scope, same_iteration, training_facts
from nnlint.rules.base import Invalid, Rule, Violation


class MisplacedGradientClipping(Rule):
    """
    ## What it does
    Flags `clip_grad_norm_` / `clip_grad_value_` (torch's, and `accelerator.clip_grad_norm_`)
    in a training step where it cannot work:

    - after the optimizer `step()` that follows the last `backward()` of the iteration (the
      step already used the unclipped gradients);
    - before any `backward()` of the iteration, with the step after it (it clips the previous
      iteration's gradients, which are then reset or overwritten);
    - after `scaler.scale(loss).backward()` with no `scaler.unscale_(optimizer)` before it
      (torch's clipping then measures gradients multiplied by the loss scale, 65536 at the
      start, so the threshold is meaningless and the clip either does nothing or shrinks the
      update to almost zero).

    It compares calls written in the same function and the same loop iteration, and follows
    `if` branches: clipping in the `else` of an AMP branch is not compared with the AMP step.

    ## Why is this bad?
    Clipping is the guard against exploding gradients. Misplaced, it silently does nothing:
    a gradient spike reaches the weights unclipped and training diverges, although the code
    looks protected.

    ## Example
    ```python
    scaler.scale(loss).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    ```

    ## Use instead
    ```python
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    ```
    """

    code = "NN505"
    name = "misplaced-gradient-clipping"
    MESSAGE = (
        "Gradient clipping in a place where it does nothing; clip after backward() (and "
        "scaler.unscale_) and before step()"
    )
    severity = Severity.ERROR
    failure_mode = EXPLODING_GRADIENTS
    triggers = (b"clip_grad",)

    VALID = [
        "import torch\n\ndef step(model, opt, loss):\n    opt.zero_grad()\n    loss.backward()\n"
        "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    opt.step()\n",
        "import torch\n\ndef step(model, opt, scaler, loss):\n"
        "    scaler.scale(loss).backward()\n    scaler.unscale_(opt)\n"
        "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    scaler.step(opt)\n"
        "    scaler.update()\n",
        # AMP and plain branches.
        "import torch\nfrom torch.nn.utils import clip_grad_norm_\n\n"
        "def step(model, opt, scaler, loss, amp):\n    if amp:\n"
        "        scaler.scale(loss).backward()\n        scaler.unscale_(opt)\n"
        "        clip_grad_norm_(model.parameters(), 1.0)\n        scaler.step(opt)\n"
        "    else:\n        loss.backward()\n        clip_grad_norm_(model.parameters(), 1.0)\n"
        "        opt.step()\n",
        # Accelerate unscales by itself.
        "def step(accelerator, model, optimizer, loss):\n    accelerator.backward(loss)\n"
        "    accelerator.clip_grad_norm_(model.parameters(), 1.0)\n    optimizer.step()\n",
        # GAN: D's step, then G's clip after G's backward.
        "import torch\n\ndef train(D, G, opt_d, opt_g, loader):\n    for x in loader:\n"
        "        d_loss = D(x).mean()\n        d_loss.backward()\n        opt_d.step()\n"
        "        g_loss = D(G(x)).mean()\n        g_loss.backward()\n"
        "        torch.nn.utils.clip_grad_norm_(G.parameters(), 1.0)\n        opt_g.step()\n",
        # Accumulation: clip and step on the k-th micro-batch.
        "import torch\n\ndef train(model, optimizer, loader, k):\n"
        "    for i, x in enumerate(loader):\n        model(x).sum().backward()\n"
        "        if (i + 1) % k == 0:\n"
        "            torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)\n"
        "            optimizer.step()\n            optimizer.zero_grad()\n",
    ]
    INVALID = [
        Invalid(
            "import torch\n\ndef train(model, optimizer, loader):\n    for x in loader:\n"
            "        optimizer.zero_grad()\n        model(x).sum().backward()\n"
            "        optimizer.step()\n"
            "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n",
            line=8,
            column=9,
            end_line=8,
            end_column=64,
            message=(
                "`torch.nn.utils.clip_grad_norm_` runs after `optimizer.step()`: the step "
                "already used the unclipped gradients, so the clip does nothing; clip between "
                "`backward()` and `step()`"
            ),
        ),
        Invalid(
            "import torch.nn as nn\n\ndef train(model, optimizer, loader):\n    for x in loader:\n"
            "        optimizer.zero_grad()\n"
            "        nn.utils.clip_grad_norm_(model.parameters(), 5)\n"
            "        model(x).sum().backward()\n        optimizer.step()\n",
            line=6,
            column=9,
            end_line=6,
            end_column=56,
            message=(
                "`nn.utils.clip_grad_norm_` runs before `backward()`: it clips the previous "
                "iteration's gradients, not the ones the step will use; clip between "
                "`backward()` and `step()`"
            ),
        ),
        Invalid(
            "import torch\n\ndef step(model, opt, scaler, loss):\n"
            "    scaler.scale(loss).backward()\n"
            "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    scaler.step(opt)\n"
            "    scaler.update()\n",
            line=5,
            column=5,
            end_line=5,
            end_column=60,
            message=(
                "`torch.nn.utils.clip_grad_norm_` clips AMP-scaled gradients "
                "(`scaler.scale(loss).backward()`) without `scaler.unscale_(optimizer)` "
                "first: the norm includes the loss scale, so the threshold is meaningless; "
                "call `scaler.unscale_(optimizer)` before clipping"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        training = training_facts(facts)
        dominance = Dominance(facts.module)
        for group in calls_by_scope(training.loop_calls):
            unscales = [c for c in group if c.kind == "unscale"]
            for clip in (c for c in group if c.kind == "clip"):
                message = _misplaced(clip, group, unscales, dominance)
                if message is not None:
                    callee = expression_text(clip.call.node.func)
                    yield Violation(clip.call.node, f"`{callee}` {message}")


def _misplaced(
    clip: LoopCall, group: list[LoopCall], unscales: list[LoopCall], dominance: Dominance
) -> str | None:
    iteration = [c for c in group if c is not clip and same_iteration(c, clip)]
    backwards = [c for c in iteration if c.kind == "backward"]
    steps = [c for c in iteration if c.kind == "step"]
    if not backwards or not steps:
        return None
    before = [b for b in backwards if b.order < clip.order]
    after = [b for b in backwards if b.order > clip.order]
    if before and not after:
        for step in steps:
            # The step that follows the iteration's last backward, then the clip.
            if before[-1].order < step.order < clip.order and dominance.encloses(step, clip):
                return (
                    f"runs after `{expression_text(step.call.node.func)}()`: the step already "
                    "used the unclipped gradients, so the clip does nothing; clip between "
                    "`backward()` and `step()`"
                )
    if not before and after and any(s.order > after[0].order for s in steps):
        return (
            "runs before `backward()`: it clips the previous iteration's gradients, not the "
            "ones the step will use; clip between `backward()` and `step()`"
        )
    if clip.torch_clip and not any(u.order < clip.order for u in unscales):
        for backward in before:
            if backward.amp and dominance.encloses(backward, clip):
                return (
                    "clips AMP-scaled gradients (`scaler.scale(loss).backward()`) without "
                    "`scaler.unscale_(optimizer)` first: the norm includes the loss scale, so "
                    "the threshold is meaningless; call `scaler.unscale_(optimizer)` before "
                    "clipping"
                )
    return None
