"""NN504: a training loop that calls ``backward()`` and ``step()`` but never resets gradients."""

from __future__ import annotations

import re
from collections.abc import Iterator

from nnlint.catalog import NOT_LEARNING
from nnlint.extractors.training import LoopCall
from nnlint.facts import FileFacts
from nnlint.findings import Severity
from nnlint.rules._dropout import expression_text
from nnlint.rules._training import calls_by_scope, common_loop, inside_loop, training_facts
from nnlint.rules.base import Invalid, Rule, Violation
from nnlint.semantic import Loop

# Resets nnlint does not see as calls, or helpers that obviously reset: `p.grad = None`,
# `p.grad.data.zero_()`, `reset_grads(...)`, Chainer's `cleargrads()`, Paddle's `clear_grad()`.
_RESET_TEXT = re.compile(
    r"\.grad\s*=\s*None|\.grad\b[\w.]*\.zero_\(|zero_grad|set_to_none|clear_?grad|"
    r"reset_?grad|zero_?grads?\b"
)
_COMMENT = re.compile(r"#[^\n]*")
# Calls that receive the optimizer without resetting its gradients.
_HARMLESS_OPTIMIZER_USES = frozenset({"step", "unscale_", "update", "clip_grad_norm_"})


class MissingZeroGrad(Rule):
    """
    ## What it does
    Flags an optimizer `step()` in a training loop that also calls `backward()` but never
    resets the gradients inside that loop: no `optimizer.zero_grad()` / `model.zero_grad()`
    (with or without `set_to_none`), no `p.grad = None` or `p.grad.zero_()`, and no call of a
    function of the same file that does one of these. It understands nested loops (the reset
    must be inside the innermost loop that holds both calls), `if` branches (a reset inside
    `if (i + 1) % k == 0:` next to the step is gradient accumulation, done right),
    `accelerator.backward(loss)`, Lightning's `manual_backward`, and AMP's
    `scaler.scale(loss).backward()` / `scaler.step(optimizer)`.

    It stays quiet when the reset may happen in code it cannot see: a function defined
    elsewhere that receives the optimizer, `step()` on something not named like an optimizer
    (schedulers, environments, DeepSpeed engines, which zero gradients themselves), and when
    the loop builds the optimizer anew over tensors it also creates anew (`x = z.detach()`,
    then `SGD([x])`: fresh leaves whose gradient starts empty each iteration).

    ## Why is this bad?
    PyTorch adds every `backward()` into `.grad`; it never clears it by itself. Without a reset,
    the gradient used by step `t` is the sum of the gradients of all `t` iterations so far: the
    updates grow with every step, as if the learning rate kept increasing, until the loss
    diverges or turns into NaN. The model may still seem to learn for a while, which makes the
    bug easy to ship.

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    ```
    """

    code = "NN504"
    name = "missing-zero-grad"
    MESSAGE = (
        "Training loop steps the optimizer without resetting gradients: they accumulate across "
        "iterations; call `optimizer.zero_grad()` each iteration"
    )
    severity = Severity.ERROR
    failure_mode = NOT_LEARNING
    triggers = (b"backward(",)

    VALID = [
        "import torch\n\ndef train(model, opt, loader):\n    for x, y in loader:\n"
        "        opt.zero_grad()\n        model(x).sum().backward()\n        opt.step()\n",
        # Gradient accumulation: the reset sits next to the step.
        "import torch\n\ndef train(model, optimizer, loader, k):\n"
        "    for i, (x, y) in enumerate(loader):\n        loss = model(x).mean() / k\n"
        "        loss.backward()\n        if (i + 1) % k == 0:\n            optimizer.step()\n"
        "            optimizer.zero_grad(set_to_none=True)\n",
        # Full-batch accumulation: the step is per epoch, the reset in the epoch loop.
        "import torch\n\ndef train(model, optimizer, loader, epochs):\n"
        "    for epoch in range(epochs):\n        model.zero_grad()\n"
        "        for x, y in loader:\n            model(x).sum().backward()\n"
        "        optimizer.step()\n",
        # `p.grad = None` by hand.
        "import torch\n\ndef train(model, opt, loader):\n    for x in loader:\n"
        "        for p in model.parameters():\n            p.grad = None\n"
        "        model(x).sum().backward()\n        opt.step()\n",
        # A helper of this file resets.
        "import torch\n\ndef prepare(model):\n    model.zero_grad()\n\n"
        "def train(model, opt, loader):\n    for x in loader:\n        prepare(model)\n"
        "        model(x).sum().backward()\n        opt.step()\n",
        # An unknown function receives the optimizer: it may reset.
        "import torch\nfrom utils import before_batch\n\ndef train(model, opt, loader):\n"
        "    for x in loader:\n        before_batch(model, opt)\n"
        "        model(x).sum().backward()\n        opt.step()\n",
        # Schedulers and environments step too.
        "import torch\n\ndef train(model, opt, sched, loader):\n    for x in loader:\n"
        "        opt.zero_grad()\n        model(x).sum().backward()\n        opt.step()\n"
        "        sched.step()\n",
        # LBFGS: the closure resets; backward and step are not in one loop.
        "import torch\n\ndef train(model, optimizer, loader):\n    for x in loader:\n"
        "        def closure():\n            optimizer.zero_grad()\n"
        "            loss = model(x).sum()\n            loss.backward()\n            return loss\n"
        "        optimizer.step(closure)\n",
        # RPC training: distributed autograd keeps gradients per context.
        "import torch.distributed.autograd as dist_autograd\n\ndef train(model, opt, loader):\n"
        "    for x in loader:\n        with dist_autograd.context() as context_id:\n"
        "            loss = model(x).sum()\n"
        "            dist_autograd.backward(context_id, [loss])\n"
        "            opt.step(context_id)\n",
        # A new optimizer each iteration over a tensor made anew each iteration: the tensor's
        # gradient starts empty every time (latent optimisation in a diffusion sampler).
        "import torch\n\ndef edit(unet, latents, timesteps, loss_fn):\n"
        "    for t in timesteps:\n        x_in = latents.detach().clone()\n"
        "        x_in.requires_grad = True\n        opt = torch.optim.SGD([x_in], lr=0.1)\n"
        "        loss_fn(unet(x_in, t)).backward()\n        opt.step()\n"
        "        latents = x_in.detach()\n",
        # DeepSpeed's engine zeroes gradients in its own step.
        "import deepspeed\nimport torch\n\ndef train(engine, loader):\n    for x in loader:\n"
        "        loss = engine(x)\n        engine.backward(loss)\n        engine.step()\n",
    ]
    INVALID = [
        Invalid(
            "import torch\n\ndef train(model, optimizer, loader):\n    for x, y in loader:\n"
            "        loss = model(x).mean()\n        loss.backward()\n        optimizer.step()\n",
            line=7,
            column=9,
            end_line=7,
            end_column=25,
            message=(
                "`optimizer.step()` in a loop that calls `backward()`, with no `zero_grad()` "
                "in that loop: gradients accumulate across iterations, so every step applies "
                "a growing sum (updates blow up); call `optimizer.zero_grad()` each iteration"
            ),
        ),
        # The reset is outside the loop that steps.
        Invalid(
            "import torch\n\ndef train(model, optimizer, loader, epochs):\n"
            "    for epoch in range(epochs):\n        optimizer.zero_grad()\n"
            "        for x in loader:\n            model(x).sum().backward()\n"
            "            optimizer.step()\n",
            line=8,
            column=13,
            end_line=8,
            end_column=29,
            message=(
                "`optimizer.step()` in a loop that calls `backward()`, with no `zero_grad()` "
                "in that loop: gradients accumulate across iterations, so every step applies "
                "a growing sum (updates blow up); call `optimizer.zero_grad()` each iteration"
            ),
        ),
        # Rebuilt each iteration over a hand-listed tensor that is the model's own weight: its
        # gradient still adds up.
        Invalid(
            "import torch\n\ndef train(model, loader):\n    for x in loader:\n"
            "        w = model.weight\n        opt = torch.optim.SGD([w], lr=0.1)\n"
            "        model(x).sum().backward()\n        opt.step()\n",
            line=8,
            column=9,
            end_line=8,
            end_column=19,
            message=(
                "`opt.step()` in a loop that calls `backward()`, with no `zero_grad()` in that "
                "loop: gradients accumulate across iterations, so every step applies a growing "
                "sum (updates blow up); call `opt.zero_grad()` each iteration"
            ),
        ),
        # Rebuilt each iteration, but over the model's parameters: their gradients still add up.
        Invalid(
            "import torch\n\ndef train(model, loader):\n    for x in loader:\n"
            "        opt = torch.optim.SGD([p for p in model.parameters()], lr=0.1)\n"
            "        model(x).sum().backward()\n        opt.step()\n",
            line=7,
            column=9,
            end_line=7,
            end_column=19,
            message=(
                "`opt.step()` in a loop that calls `backward()`, with no `zero_grad()` in that "
                "loop: gradients accumulate across iterations, so every step applies a growing "
                "sum (updates blow up); call `opt.zero_grad()` each iteration"
            ),
        ),
        # AMP.
        Invalid(
            "import torch\n\nscaler = torch.cuda.amp.GradScaler()\n\n"
            "def train(model, opt, loader):\n    for x in loader:\n"
            "        with torch.autocast('cuda'):\n            loss = model(x).sum()\n"
            "        scaler.scale(loss).backward()\n        scaler.step(opt)\n"
            "        scaler.update()\n",
            line=10,
            column=9,
            end_line=10,
            end_column=25,
            message=(
                "`scaler.step()` in a loop that calls `backward()`, with no `zero_grad()` in "
                "that loop: gradients accumulate across iterations, so every step applies a "
                "growing sum (updates blow up); call `opt.zero_grad()` each iteration"
            ),
        ),
        # Accelerate, at module level.
        Invalid(
            "import torch\nfrom accelerate import Accelerator\n\naccelerator = Accelerator()\n"
            "for batch in loader:\n    loss = model(**batch).loss\n"
            "    accelerator.backward(loss)\n    optimizer.step()\n    lr_scheduler.step()\n",
            line=8,
            column=5,
            end_line=8,
            end_column=21,
            message=(
                "`optimizer.step()` in a loop that calls `backward()`, with no `zero_grad()` "
                "in that loop: gradients accumulate across iterations, so every step applies "
                "a growing sum (updates blow up); call `optimizer.zero_grad()` each iteration"
            ),
        ),
    ]

    def check(self, facts: FileFacts) -> Iterator[Violation]:
        training = training_facts(facts)
        resetting_functions = {
            call.context.scope.name
            for call in training.loop_calls
            if call.kind in ("zero_grad", "grad_reset") and call.context.scope.kind == "function"
        }
        for group in calls_by_scope(training.loop_calls):
            backwards = [c for c in group if c.kind == "backward"]
            resets = [c for c in group if c.kind in ("zero_grad", "grad_reset")]
            for step in (c for c in group if c.kind == "step"):
                loop = _unreset_loop(step, backwards, resets)
                if loop is None:
                    continue
                # Without comments: a commented-out `zero_grad()` is no reset.
                text = _COMMENT.sub("", facts.module.code_for_node(loop.node))
                if _RESET_TEXT.search(text) or _calls_any(text, resetting_functions):
                    continue
                if step.target is not None and (
                    _passes_optimizer(text, step.target) or _fresh_each_iteration(text, step.target)
                ):
                    continue
                optimizer = expression_text(step.target) if step.target is not None else "it"
                yield Violation(
                    step.call.node,
                    f"`{expression_text(step.call.node.func)}()` in a loop that calls "
                    "`backward()`, with no `zero_grad()` in that loop: gradients accumulate "
                    "across iterations, so every step applies a growing sum (updates blow up); "
                    f"call `{optimizer}.zero_grad()` each iteration",
                )


def _unreset_loop(step: LoopCall, backwards: list[LoopCall], resets: list[LoopCall]) -> Loop | None:
    """The innermost loop holding ``step`` and a ``backward()``, when no reset is in it."""
    for backward in backwards:
        loop = common_loop(step, backward)
        if loop is None:
            continue
        if any(inside_loop(reset, loop) for reset in resets):
            return None
        return loop
    return None


def _calls_any(text: str, names: set[str]) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\(", text) for name in names)


def _fresh_each_iteration(text: str, optimizer) -> bool:  # type: ignore[no-untyped-def]
    """Whether the loop builds the optimizer anew over tensors it also creates anew
    (`x = z.detach().clone()`, then `opt = SGD([x], ...)`): each iteration steps fresh leaves
    whose `.grad` starts empty, so nothing can accumulate (diffusers' pix2pix-zero latent
    optimisation). An optimizer rebuilt over `model.parameters()` still accumulates."""
    name = re.escape(expression_text(optimizer))
    built = re.search(rf"^[ \t]*{name}\s*=\s*[\w.]+\(\s*[\[(]([^\])]*)[\])]", text, re.MULTILINE)
    if built is None:
        return False
    tensors = [item.strip() for item in built.group(1).split(",") if item.strip()]
    before = text[: built.start()]
    return bool(tensors) and all(
        item.isidentifier()
        and re.search(
            rf"^[ \t]*{re.escape(item)}\s*=[^=][^\n]*{_FRESH_TENSOR}", before, re.MULTILINE
        )
        for item in tensors
    )


# What makes a new leaf tensor (one whose `.grad` starts empty): `w = model.weight` does not.
_FRESH_TENSOR = (
    r"(?:\.detach\(|\.clone\(|\bParameter\(|\btorch\.(?:zeros|ones|rand|randn|randint|empty|"
    r"full|tensor|as_tensor|normal|linspace|arange)\w*\()"
)


def _passes_optimizer(text: str, optimizer) -> bool:  # type: ignore[no-untyped-def]
    """Whether the loop hands the optimizer to some call (other than stepping it)."""
    name = re.escape(expression_text(optimizer))
    for match in re.finditer(r"([\w.]+)\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
        callee, args = match.group(1), match.group(2)
        if callee.rsplit(".", 1)[-1] in _HARMLESS_OPTIMIZER_USES:
            continue
        if re.search(rf"(?<![\w.]){name}(?![\w.(\[])", args):
            return True
    return False
