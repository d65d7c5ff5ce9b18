"""The import-alias table and how the walker resolves callees through it."""

from __future__ import annotations

import libcst as cst
import pytest

from nnlint.imports import AliasTable, canonical_name, dotted_parts, framework_of
from nnlint.walker import collect_facts


def table(source: str) -> AliasTable:
    aliases = AliasTable()
    for statement in cst.parse_module(source).body:
        for small in getattr(statement, "body", ()):
            if isinstance(small, cst.Import):
                aliases.add_import(small)
            elif isinstance(small, cst.ImportFrom):
                aliases.add_import_from(small)
    return aliases


@pytest.mark.parametrize(
    ("source", "callee", "expected"),
    [
        ("import torch.nn as nn", "nn.Dropout", "torch.nn.Dropout"),
        ("from torch import nn", "nn.Dropout", "torch.nn.Dropout"),
        ("from torch.nn import Dropout as D", "D", "torch.nn.Dropout"),
        ("import torch.nn.functional as F", "F.dropout", "torch.nn.functional.dropout"),
        ("from torch.nn import functional as F", "F.dropout", "torch.nn.functional.dropout"),
        ("import torch", "torch.nn.functional.dropout", "torch.nn.functional.dropout"),
        ("import torch.nn", "torch.nn.Dropout", "torch.nn.Dropout"),
        ("from keras import layers", "layers.Dropout", "keras.layers.Dropout"),
        ("import tensorflow.keras.layers as L", "L.Dropout", "keras.layers.Dropout"),
        ("from tensorflow import keras", "keras.layers.Dropout", "keras.layers.Dropout"),
        ("import tensorflow as tf", "tf.keras.layers.Dropout", "keras.layers.Dropout"),
        ("import tensorflow as tf", "tf.nn.dropout", "tensorflow.nn.dropout"),
        ("import tensorflow.compat.v1 as tf", "tf.nn.dropout", "tensorflow.compat.v1.nn.dropout"),
        ("import tensorflow.compat.v2 as tf", "tf.nn.dropout", "tensorflow.nn.dropout"),
        ("import tf_keras as keras", "keras.layers.Dropout", "keras.layers.Dropout"),
        ("from torch.nn.modules.dropout import Dropout", "Dropout", "torch.nn.Dropout"),
        ("from .layers import Dropout", "Dropout", ".layers.Dropout"),
    ],
)
def test_alias_table_resolves_dotted_callee(source: str, callee: str, expected: str) -> None:
    assert table(source).resolve(tuple(callee.split("."))) == expected


def test_unimported_name_resolves_to_nothing() -> None:
    assert table("import torch").resolve(("nn", "Dropout")) is None


def test_conflicting_imports_make_a_name_ambiguous() -> None:
    aliases = table("from torch import nn\nfrom mylib import nn")
    assert aliases.resolve(("nn", "Dropout")) is None


def test_equivalent_imports_in_try_except_stay_resolvable() -> None:
    source = (
        "try:\n    from keras import layers\nexcept ImportError:\n"
        "    from tensorflow.keras import layers\n"
    )
    aliases = AliasTable()
    module = cst.parse_module(source)
    try_node = module.body[0]
    aliases.add_import_from(try_node.body.body[0].body[0])
    aliases.add_import_from(try_node.handlers[0].body.body[0].body[0])
    assert aliases.resolve(("layers", "Dropout")) == "keras.layers.Dropout"


def test_star_import_resolves_only_known_names() -> None:
    aliases = table("from torch.nn import *")
    known = {"torch.nn.Dropout"}
    assert aliases.resolve(("Dropout",), known) == "torch.nn.Dropout"
    assert aliases.resolve(("Linear",), known) is None


def test_canonical_name_and_framework() -> None:
    assert canonical_name("tensorflow.keras.layers.Dropout") == "keras.layers.Dropout"
    assert canonical_name("tensorflow.kerasx.y") == "tensorflow.kerasx.y"
    assert framework_of("torch.nn.Dropout") == "torch"
    assert framework_of("keras.layers.Dropout") == "keras"
    assert framework_of("tensorflow.nn.dropout") == "tensorflow"
    assert framework_of("numpy.random") is None


def test_dotted_parts_rejects_non_names() -> None:
    expr = cst.parse_expression("get()(x).Dropout")
    assert dotted_parts(expr) is None
    assert dotted_parts(cst.parse_expression("a.b.c")) == ("a", "b", "c")


# -- resolution through the walker (scopes and constants) -------------------------------------


def facts(source: str):
    return collect_facts(cst.parse_module(source))


def test_import_inside_function_is_used() -> None:
    result = facts("def build():\n    import torch.nn as nn\n    return nn.Dropout(0.1)\n")
    assert [s.spec.qualname for s in result.dropout_sites] == ["torch.nn.Dropout"]


def test_parameter_shadowing_an_alias_is_not_resolved() -> None:
    result = facts("import torch.nn.functional as F\ndef f(F, x):\n    return F.dropout(x, 0.0)\n")
    assert result.dropout_sites == []


def test_module_constant_assigned_once_is_known() -> None:
    result = facts("import torch.nn as nn\nDROP = 0.0\nnn.Dropout(DROP)\n")
    assert result.constants == {"DROP": 0.0}
    assert result.dropout_sites[0].rate.value == 0.0
    assert result.dropout_sites[0].rate.constant == "DROP"


@pytest.mark.parametrize(
    "rebinding",
    [
        "DROP = 0.5\n",
        "DROP += 0.1\n",
        "for DROP in (0.1, 0.2):\n    pass\n",
        "def f():\n    global DROP\n    DROP = 0.3\n",
        "from config import DROP\n",
    ],
)
def test_reassigned_module_name_is_not_a_constant(rebinding: str) -> None:
    result = facts(f"import torch.nn as nn\nDROP = 0.0\n{rebinding}nn.Dropout(DROP)\n")
    assert "DROP" not in result.constants
    assert result.dropout_sites[0].rate.value is None


def test_class_attribute_shadows_module_constant_in_class_body() -> None:
    source = "import torch.nn as nn\nP = 1.0\nclass M:\n    P = 0.5\n    d = nn.Dropout(P)\n"
    assert facts(source).dropout_sites[0].rate.value is None


def test_local_variable_shadows_module_constant() -> None:
    source = "import torch.nn as nn\nP = 1.0\ndef f():\n    P = g()\n    return nn.Dropout(P)\n"
    assert facts(source).dropout_sites[0].rate.value is None


def test_same_file_subclass_of_module_is_a_module() -> None:
    source = (
        "import torch.nn as nn\nclass A(nn.Module):\n    pass\nclass B(A):\n    pass\n"
        "class C(object):\n    pass\nclass D(Unknown):\n    pass\n"
    )
    result = facts(source)
    assert {c.name: c.is_nn_module for c in result.classes} == {
        "A": True,
        "B": True,
        "C": False,
        "D": False,
    }


def test_lightning_module_counts_as_module() -> None:
    result = facts("import lightning as L\nclass M(L.LightningModule):\n    pass\n")
    assert result.classes[0].is_nn_module
