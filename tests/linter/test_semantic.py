"""The engine's shared semantic layer and extractor registry: what every rule family builds on."""

from __future__ import annotations

import libcst as cst
import pytest

from nnlint.extractors import Extractor, register_extractor, unregister_extractor
from nnlint.positions import node_spans
from nnlint.semantic import Signature, bind_arguments
from nnlint.walker import collect_facts


def facts_of(source: str):
    return collect_facts(cst.parse_module(source))


def test_a_new_extractor_registers_without_editing_the_walker() -> None:
    class OptimizerSteps(Extractor):
        family = "test-optimizer-steps"
        qualnames = frozenset({"torch.optim.SGD"})
        method_names = frozenset({"step"})

        def __init__(self, facts) -> None:
            super().__init__(facts)
            self.seen: list[str] = []

        def on_call(self, site) -> None:
            self.seen.append(site.qualname or ".".join(site.callee))

        def finish(self) -> list[str]:
            return self.seen

    register_extractor(OptimizerSteps)
    try:
        facts = facts_of(
            "from torch import optim as O\nopt = O.SGD(params, lr=0.1)\n"
            "for x in data:\n    opt.step()\n"
        )
        assert facts.family("test-optimizer-steps") == ["torch.optim.SGD", "opt.step"]
    finally:
        unregister_extractor(OptimizerSteps)
    assert "test-optimizer-steps" not in facts_of("import torch\n").families


def test_registering_two_extractors_for_one_family_is_refused() -> None:
    class Twin(Extractor):
        family = "dropout"

    with pytest.raises(ValueError, match="already registered"):
        register_extractor(Twin)


def test_name_assignments_keep_list_building_in_order() -> None:
    facts = facts_of(
        "import torch.nn as nn\n\ndef build(n):\n    layers = []\n"
        "    for _ in range(n):\n        layers.append(nn.Linear(8, 8))\n"
        "        layers += [nn.Tanh()]\n    layers.extend([nn.Linear(8, 1)])\n"
        "    layers.insert(0, nn.Flatten())\n    return nn.Sequential(*layers)\n"
    )
    scope = facts.module_scope.function_scopes["build"]
    kinds = [a.kind for a in scope.assignments["layers"]]
    assert kinds == ["assign", "append", "augassign", "extend", "insert"]
    append = scope.assignments["layers"][1]
    assert [loop.kind for loop in append.context.loops] == ["for"]
    assert cst.Module([]).code_for_node(append.context.loops[0].iterable) == "range(n)"
    assert scope.assignments["layers"][3].context.loops == ()


def test_self_attributes_are_recorded_per_class() -> None:
    facts = facts_of(
        "import torch.nn as nn\n\nclass Net(nn.Module):\n    def __init__(me):\n"
        "        super().__init__()\n        me.fc = nn.Linear(4, 4)\n"
        "        me.blocks = nn.ModuleList()\n        me.blocks.append(nn.ReLU())\n"
        "    def forward(me, x):\n        return me.fc(x)\n"
    )
    (cls,) = facts.classes
    assert cls.is_nn_module
    assert sorted(cls.attributes) == ["blocks", "fc"]
    assert [a.kind for a in cls.attributes["blocks"]] == ["assign", "append"]
    assert set(cls.functions) == {"__init__", "forward"}


def test_call_context_has_loops_statement_path_and_branch_flags() -> None:
    class Calls(Extractor):
        family = "test-calls"
        method_names = frozenset({"backward"})

        def __init__(self, facts) -> None:
            super().__init__(facts)
            self.sites = []

        def on_call(self, site) -> None:
            self.sites.append(site)

        def finish(self):
            return self.sites

    register_extractor(Calls)
    try:
        facts = facts_of(
            "import torch\n\ndef train(model, data):\n    model.train()\n"
            "    for epoch in range(3):\n        while True:\n"
            "            loss = model(data)\n            if epoch > 1:\n"
            "                loss.backward()\n"
            "\nif __name__ == '__main__':\n    loss.backward()\n"
        )
        inner, main = facts.family("test-calls")
    finally:
        unregister_extractor(Calls)
    assert [loop.kind for loop in inner.context.loops] == ["for", "while"]
    assert inner.context.statement_path == (1, 1, 0, 1, 0)
    assert inner.context.conditional
    assert not main.context.conditional  # the main guard runs the script
    assert inner.order < main.order


def test_comprehension_loops_and_assignment_targets() -> None:
    class Linears(Extractor):
        family = "test-linears"
        qualnames = frozenset({"torch.nn.Linear", "keras.layers.Dense"})

        def __init__(self, facts) -> None:
            super().__init__(facts)
            self.sites = []

        def on_call(self, site) -> None:
            self.sites.append(site)

        def finish(self):
            return self.sites

    register_extractor(Linears)
    try:
        facts = facts_of(
            "import torch.nn as nn\nfrom keras import layers\n"
            "blocks = [nn.Linear(8, 8) for _ in range(4)]\nhead = nn.Linear(8, 1)\n"
            "y = layers.Dense(3)(x)\n"
        )
        comp, head, dense = facts.family("test-linears")
    finally:
        unregister_extractor(Linears)
    assert [loop.kind for loop in comp.context.loops] == ["comprehension"]
    assert comp.assigned_to is None
    assert isinstance(head.assigned_to, cst.Name) and head.assigned_to.value == "head"
    assert dense.applied_by is not None and dense.qualname == "keras.layers.Dense"


def test_bind_arguments_matches_python() -> None:
    sig = Signature(
        ("params", "lr", "momentum"), ("weight_decay",), aliases=(("learning_rate", "lr"),)
    )
    call = cst.parse_expression("SGD(ps, 0.1, weight_decay=1e-4)")
    bound = bind_arguments(call, sig)
    assert cst.Module([]).code_for_node(bound.get("lr")) == "0.1"
    assert "lr" not in bound.keywords and "weight_decay" in bound.keywords
    assert not bound.unknown and bound.get("momentum") is None
    aliased = bind_arguments(cst.parse_expression("SGD(ps, learning_rate=3)"), sig)
    assert "lr" in aliased.keywords
    starred = bind_arguments(cst.parse_expression("SGD(*args, lr=1)"), sig)
    assert starred.unknown and starred.passed("momentum") and starred.get("params") is None
    extra = bind_arguments(cst.parse_expression("SGD(ps, nesterov=True)"), sig)
    assert set(extra.extra_keywords) == {"nesterov"}


def test_statement_spans_end_where_libcst_says() -> None:
    source = "import torch\nfor i in range(3):\n    x = 1\n    y = f(x)\n    z = g(y)\nw = 1\n"
    module = cst.parse_module(source)
    loop = module.body[1]
    last = loop.body.body[2]
    spans = node_spans(module, [loop, last])
    assert (spans[id(loop)].line, spans[id(loop)].column) == (2, 1)
    assert (spans[id(loop)].end_line, spans[id(loop)].end_column) == (5, 13)
    assert (spans[id(last)].line, spans[id(last)].end_column) == (5, 13)


@pytest.mark.parametrize(
    "source",
    [
        "if a == 0:\n    x = 0\n"
        + "".join(f"elif a == {i}:\n    x = {i}\n" for i in range(1, 600)),
        "y = x" + ".f()" * 600 + "\n",
        "y = " + " and ".join(["a"] * 1200) + "\n",
        "y = x" + "[0]" * 1200 + "\n",
        "y = " + " + ".join(["a"] * 1200) + "\n",
    ],
    ids=["elif-chain", "method-chain", "and-chain", "subscript-chain", "plus-chain"],
)
def test_deeply_nested_code_is_walked_without_recursion_error(source: str) -> None:
    module = cst.parse_module("import torch.nn as nn\n" + source + "d = nn.Dropout(1.0)\n")
    facts = collect_facts(module)
    assert len(facts.dropout_sites) == 1
