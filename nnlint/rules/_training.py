"""Helpers shared by the training-code rules (learning rate, losses, the loop, initialisation)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import libcst as cst

from nnlint.extractors.training import (
    InitSite,
    LoopCall,
    LossApplication,
    TrainingFacts,
    enclosing_blocks,
)
from nnlint.facts import FileFacts
from nnlint.rules._dropout import expression_text
from nnlint.semantic import CallSite, Loop


def training_facts(facts: FileFacts) -> TrainingFacts:
    """The training family's facts (empty when the extractor did not run)."""
    found = facts.families.get("training")
    return found if found is not None else TrainingFacts()


def callee_text(site: CallSite) -> str:
    """``optim.Adam``, ``nn.CrossEntropyLoss``: the callee as written."""
    return ".".join(site.callee)


def call_summary(node: cst.CSTNode) -> str:
    """``F.softmax(...)`` for a call, the text for anything else: one short line."""
    if isinstance(node, cst.Call):
        return " ".join(expression_text(node.func).split()) + "(...)"
    return " ".join(expression_text(node).split())


def calls_by_scope(calls: list[LoopCall]) -> list[list[LoopCall]]:
    """Training-loop calls grouped by the function (or module) they are written in, each group
    in source order."""
    groups: dict[int, list[LoopCall]] = {}
    for call in calls:
        groups.setdefault(id(call.context.scope), []).append(call)
    return [sorted(group, key=lambda c: c.order) for group in groups.values()]


def common_loop(first: LoopCall, second: LoopCall) -> Loop | None:
    """The innermost ``for``/``while`` loop around both calls (comprehensions don't count)."""
    found = None
    for a, b in zip(first.context.loops, second.context.loops):
        if a.node is not b.node:
            break
        if a.kind != "comprehension":
            found = a
    return found


def inside_loop(call: LoopCall, loop: Loop) -> bool:
    return any(enclosing.node is loop.node for enclosing in call.context.loops)


def same_iteration(call: LoopCall, anchor: LoopCall) -> bool:
    """Whether ``call`` runs in the same iteration of ``anchor``'s innermost loop (inside that
    loop, possibly in a loop nested in it), or both are outside any loop."""
    loops = [loop for loop in anchor.context.loops if loop.kind != "comprehension"]
    if not loops:
        return not any(loop.kind != "comprehension" for loop in call.context.loops)
    return inside_loop(call, loops[-1])


class Dominance:
    """Whether one call always runs when another does, as far as the blocks around them tell:
    ``a`` dominates ``b`` when ``a``'s innermost block encloses ``b`` (``a`` is not in an
    ``if`` branch or loop body that ``b`` is outside of). Blocks are found lazily per call."""

    def __init__(self, module: cst.Module) -> None:
        self._module = module
        self._blocks: dict[int, list[cst.CSTNode]] = {}

    def blocks(self, call: LoopCall) -> list[cst.CSTNode]:
        key = id(call.call.node)
        if key not in self._blocks:
            chain = enclosing_blocks(self._module, call.call)
            self._blocks[key] = [self._module, *(block for _, block in chain)]
        return self._blocks[key]

    def encloses(self, a: LoopCall, b: LoopCall) -> bool:
        innermost = self.blocks(a)[-1]
        return any(block is innermost for block in self.blocks(b))


# Keras activations of hidden layers (an output layer is linear, sigmoid or softmax).
HIDDEN_ACTIVATIONS = frozenset(
    {
        "relu",
        "relu6",
        "elu",
        "selu",
        "gelu",
        "swish",
        "silu",
        "tanh",
        "leaky_relu",
        "softplus",
        "mish",
    }
)


def init_target(init: InitSite) -> str:
    """``m.weight``, ``kernel_initializer="zeros"``: what an init finding names."""
    if isinstance(init.node, cst.Call) and init.node is init.call.node:
        return call_summary(init.node)
    key = "kernel_initializer" if init.parameter == "weight" else "bias_initializer"
    return f"{key}={' '.join(expression_text(init.node).split())}"


def once_per_model(applications: Iterable[LossApplication]) -> Iterator[LossApplication]:
    """Loss applications, keeping only the first of those that pair the same loss object with
    the output of the same model (a GAN applies its loss to the discriminator three times; the
    fix is in one place)."""
    seen: set[tuple[str, str]] = set()
    for application in applications:
        producer = application.producer
        if producer is not None and producer.via == "model" and producer.model is not None:
            construction = application.construction
            # A loss module by its construction; a functional loss by its name.
            loss = (
                str(id(construction.node))
                if application.spec.kind == "module"
                else application.spec.qualname
            )
            key = (loss, producer.model)
            if key in seen:
                continue
            seen.add(key)
        yield application
