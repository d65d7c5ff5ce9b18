"""The dropout family: every dropout layer construction and functional dropout call, with its rate
and training flag bound from the call's arguments."""

from __future__ import annotations

import dataclasses

import libcst as cst

from nnlint.extractors import Extractor, register_extractor
from nnlint.facts import (
    DROPOUT_SPECS,
    TF1_MARKERS,
    DropoutSite,
    DropoutSpec,
    Number,
    RateArgument,
    number_literal,
)
from nnlint.semantic import CallSite, Scope, Signature, bind_arguments


def _signature(spec: DropoutSpec) -> Signature:
    """The positional slots a spec knows (the rate's, and ``training``'s for functional torch
    dropout), the keywords that carry the rate, and ``training``/``train``."""
    positional = ["input"] * (spec.rate_index + 1)
    positional[spec.rate_index] = spec.positional_rate
    if spec.training_index is not None:
        positional += ["_"] * (spec.training_index + 1 - len(positional))
        positional[spec.training_index] = "training"
    keywords = tuple(k for k in (*spec.keywords, "training") if k not in positional)
    return Signature(tuple(positional), keywords, aliases=(("train", "training"),))


_SIGNATURES: dict[str, Signature] = {q: _signature(s) for q, s in DROPOUT_SPECS.items()}


@register_extractor
class DropoutExtractor(Extractor):
    family = "dropout"
    qualnames = frozenset(DROPOUT_SPECS) | TF1_MARKERS

    def __init__(self, facts) -> None:  # type: ignore[no-untyped-def]
        super().__init__(facts)
        self._sites: list[CallSite] = []
        self._tf1 = False

    def on_call(self, site: CallSite) -> None:
        if site.qualname in TF1_MARKERS:
            self._tf1 = True
        if site.qualname in DROPOUT_SPECS:
            self._sites.append(site)

    def finish(self) -> list[DropoutSite]:
        constants = self.facts.constants
        return [
            _dropout_site(site, DROPOUT_SPECS[site.qualname or ""], constants, self._tf1)
            for site in self._sites
        ]


def _dropout_site(
    site: CallSite, spec: DropoutSpec, constants: dict[str, Number], tf1: bool
) -> DropoutSite:
    bound = bind_arguments(site.node, _SIGNATURES[spec.qualname])
    rate: RateArgument | None = None
    for keyword in spec.keywords:
        if keyword in bound.keywords:
            rate = _rate_argument(keyword, bound.values[keyword], True, site.scope, constants)
            break
    else:
        node = bound.values.get(spec.positional_rate)
        if node is not None and spec.positional_rate not in bound.keywords:
            rate = _rate_argument(spec.positional_rate, node, False, site.scope, constants)
            if spec.qualname == "tensorflow.nn.dropout" and (tf1 or rate.value == 1):
                # TF1's second parameter is keep_prob, TF2's is rate. Read it as TF1's in TF1
                # code, and for a literal 1 anywhere: TF2 rejects rate=1, so code that runs
                # with it is TF1 code keeping every unit.
                rate = dataclasses.replace(rate, param="keep_prob")
    training = bound.values.get("training")
    if spec.training_index is None and "training" not in bound.keywords:
        training = None
    return DropoutSite(
        call=site,
        spec=spec,
        rate=rate,
        has_training_arg=bound.unknown or training is not None,
        training_off=training is not None and number_literal(training) is False,
    )


def _rate_argument(
    param: str,
    node: cst.BaseExpression,
    keyword: bool,
    scope: Scope,
    constants: dict[str, Number],
) -> RateArgument:
    value = number_literal(node)
    constant = None
    if value is None and isinstance(node, cst.Name) and not scope.binds_locally(node.value):
        value = constants.get(node.value)
        constant = node.value if value is not None else None
    return RateArgument(param=param, node=node, keyword=keyword, value=value, constant=constant)
