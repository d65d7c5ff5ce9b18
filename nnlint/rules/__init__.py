"""The rule registry: every nnlint rule, one module per rule, listed explicitly (deterministic)."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from functools import lru_cache

from nnlint.rules.base import Rule, RuleMeta

# One module per rule, named ``nn<code>_<name>``. Adding a rule = adding its module here.
RULE_MODULES: tuple[str, ...] = (
    "nn001_syntax_error",
    "nn002_internal_error",
    "nn003_unused_noqa",
    "nn004_file_not_linted",
    "nn101_sigmoid_stack",
    "nn102_collapsing_linear_layers",
    "nn201_deep_stack_without_normalization",
    "nn202_init_scale_too_large",
    "nn301_learning_rate_too_high",
    "nn302_negative_bias_before_relu",
    "nn303_constant_weight_init",
    "nn401_dropout_rate_one",
    "nn402_dropout_rate_zero",
    "nn403_dropout_rate_out_of_range",
    "nn404_functional_dropout_ignores_training",
    "nn501_probabilities_to_logits_loss",
    "nn502_sigmoid_before_bce_loss",
    "nn503_output_cannot_learn_loss",
    "nn504_missing_zero_grad",
    "nn505_misplaced_gradient_clipping",
)

# Emitted by the engine itself, never by a rule's ``check``.
META_CODES: frozenset[str] = frozenset({"NN001", "NN002", "NN003", "NN004"})
SYNTAX_ERROR = "NN001"
INTERNAL_ERROR = "NN002"
NOT_LINTED = "NN004"


def _rule_classes_in(module_name: str) -> list[type[Rule]]:
    module = importlib.import_module(f"{__name__}.{module_name}")
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Rule)
        and value is not Rule
        and value.__module__ == module.__name__
    ]


@lru_cache(maxsize=1)
def _registry() -> tuple[RuleMeta, ...]:
    metas: list[RuleMeta] = []
    for module_name in RULE_MODULES:
        classes = _rule_classes_in(module_name)
        if len(classes) != 1:
            raise RuntimeError(f"nnlint.rules.{module_name} must define exactly one Rule")
        meta = RuleMeta.from_rule(classes[0])
        if meta.code in META_CODES:
            # The engine emits these itself; there is nothing to run.
            meta = dataclasses.replace(meta, rule_class=None)
        metas.append(meta)
    codes = [m.code for m in metas]
    names = [m.name for m in metas]
    if len(set(codes)) != len(codes) or len(set(names)) != len(names):
        raise RuntimeError("duplicate rule code or name in nnlint.rules")
    return tuple(sorted(metas, key=lambda m: m.code))


def all_rules() -> list[RuleMeta]:
    """Every rule, sorted by code (NN001-NN004 meta-diagnostics included)."""
    return list(_registry())


def get_rule(code_or_name: str) -> RuleMeta:
    """Look a rule up by code (``NN401``, any case) or name (``dropout-rate-one``).

    Raises KeyError with a message naming the closest known codes/names.
    """
    wanted = code_or_name.strip()
    for meta in _registry():
        if wanted.upper() == meta.code or wanted.lower() == meta.name:
            return meta
    known = [m.code for m in _registry()] + [m.name for m in _registry()]
    close = difflib.get_close_matches(wanted, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(
        f"unknown rule {code_or_name!r}{hint} (`nnlint rules` lists them: "
        f"{', '.join(m.code for m in _registry())})"
    )


__all__ = [
    "INTERNAL_ERROR",
    "META_CODES",
    "NOT_LINTED",
    "SYNTAX_ERROR",
    "Rule",
    "RuleMeta",
    "all_rules",
    "get_rule",
]
