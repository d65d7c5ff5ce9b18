"""Helpers shared by the training-code rules (learning rate, losses, the loop, initialisation)."""

from __future__ import annotations

import libcst as cst

from nnlint.extractors.training import TrainingFacts
from nnlint.facts import FileFacts
from nnlint.rules._dropout import expression_text
from nnlint.semantic import CallSite


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
