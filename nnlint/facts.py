"""The intermediate model ("facts") that the single traversal collects and every rule reads.

Rules never walk the tree: they read the typed facts here. Adding a rule family means adding a
fact type and its extractor module under ``nnlint/extractors/`` (registered with
``register_extractor``), never another pass over the file or an edit of the walker.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Literal

import libcst as cst

from nnlint.imports import AliasTable
from nnlint.semantic import CallSite, Scope

Number = int | float | bool


# ---------------------------------------------------------------------------------------------
# Dropout


@dataclass(frozen=True)
class DropoutSpec:
    """How one dropout API takes its rate and its training flag (checked against torch 2.13,
    Keras 3 and TensorFlow 2 signatures)."""

    qualname: str
    framework: str
    kind: Literal["layer", "functional"]
    positional_rate: str  # the parameter name of the rate's positional slot
    rate_index: int  # its position
    keywords: tuple[str, ...]  # keywords that carry the rate (``keep_prob`` means 1 - rate)
    training_index: int | None = None  # position of ``training`` for functional torch dropout
    training_default: bool | None = None  # its default; None when required or absent


def _torch_specs() -> list[DropoutSpec]:
    specs = [
        DropoutSpec(f"torch.nn.{n}", "torch", "layer", "p", 0, ("p",))
        for n in (
            "Dropout",
            "Dropout1d",
            "Dropout2d",
            "Dropout3d",
            "AlphaDropout",
            "FeatureAlphaDropout",
        )
    ]
    for name, default in (
        ("dropout", True),
        ("dropout1d", True),
        ("dropout2d", True),
        ("dropout3d", True),
        # Unlike F.dropout, these two default to training=False.
        ("alpha_dropout", False),
        ("feature_alpha_dropout", False),
    ):
        specs.append(
            DropoutSpec(
                f"torch.nn.functional.{name}", "torch", "functional", "p", 1, ("p",), 2, default
            )
        )
    # ATen ops: ``torch.dropout(input, p, train)`` (``train`` is required).
    for name in ("dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout"):
        specs.append(DropoutSpec(f"torch.{name}", "torch", "functional", "p", 1, ("p",), 2, None))
    return specs


def _keras_specs() -> list[DropoutSpec]:
    # All of these take ``rate`` first and reject rates outside [0, 1] at construction.
    names = (
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "AlphaDropout",
        "GaussianDropout",
    )
    return [DropoutSpec(f"keras.layers.{n}", "keras", "layer", "rate", 0, ("rate",)) for n in names]


def _tensorflow_specs() -> list[DropoutSpec]:
    return [
        # TF2: ``tf.nn.dropout(x, rate, ...)``; ``keep_prob=`` survives only as a keyword.
        DropoutSpec(
            "tensorflow.nn.dropout", "tensorflow", "functional", "rate", 1, ("rate", "keep_prob")
        ),
        # TF1: ``tf.compat.v1.nn.dropout(x, keep_prob, ..., rate=None)``.
        DropoutSpec(
            "tensorflow.compat.v1.nn.dropout",
            "tensorflow",
            "functional",
            "keep_prob",
            1,
            ("keep_prob", "rate"),
        ),
        # TF1 layers API: ``tf.layers.dropout(inputs, rate=0.5, noise_shape=None, seed=None,
        # training=False, name=None)``: without ``training`` it never drops anything.
        *(
            DropoutSpec(name, "tensorflow", "functional", "rate", 1, ("rate",), 4, False)
            for name in ("tensorflow.layers.dropout", "tensorflow.compat.v1.layers.dropout")
        ),
    ]


# Calls that exist in TensorFlow 1 only (not in TF2, where they live under tf.compat.v1): a file
# that makes one is TF1 code, where ``tf.nn.dropout(x, 0.9)`` passes keep_prob, not rate.
TF1_MARKERS: frozenset[str] = frozenset(
    f"tensorflow.{name}"
    for name in (
        "placeholder",
        "Session",
        "InteractiveSession",
        "get_variable",
        "variable_scope",
        "global_variables_initializer",
        "train.AdamOptimizer",
        "train.GradientDescentOptimizer",
        "train.MomentumOptimizer",
        "train.RMSPropOptimizer",
        "train.AdagradOptimizer",
        "layers.dense",
        "layers.conv2d",
        "layers.dropout",
    )
)


DROPOUT_SPECS: dict[str, DropoutSpec] = {
    s.qualname: s for s in (*_torch_specs(), *_keras_specs(), *_tensorflow_specs())
}


@dataclass(frozen=True)
class RateArgument:
    """The rate argument of a dropout site as written, and its literal value when known."""

    param: str  # "p", "rate" or "keep_prob"
    node: cst.BaseExpression
    keyword: bool  # passed as ``param=...`` (else positionally)
    value: Number | None  # literal value (through module constants); None when not a literal
    constant: str | None = None  # the module constant it came through (``DROP``), if any

    @property
    def drop_probability(self) -> float | None:
        """The probability of dropping a unit (``1 - keep_prob`` for ``keep_prob``)."""
        if self.value is None:
            return None
        return 1 - self.value if self.param == "keep_prob" else float(self.value)


@dataclass(frozen=True)
class DropoutSite:
    """A dropout layer construction or functional dropout call."""

    call: CallSite
    spec: DropoutSpec
    rate: RateArgument | None  # None when the default rate is used or it can't be located
    has_training_arg: bool  # ``training=`` (or ``train``) passed, or can't tell (``*args``)
    # ``training=False`` written as a literal: the call never drops, whatever its rate.
    training_off: bool = False

    @property
    def node(self) -> cst.Call:
        return self.call.node

    @property
    def callee_text(self) -> str:
        return ".".join(self.call.callee)

    @property
    def in_test_function(self) -> bool:
        """Inside a ``test*`` function or method: tests pin boundary rates on purpose (that
        rate 1 zeroes the output, that p=0 is the identity)."""
        return self.call.scope.in_test_function

    @property
    def in_keras_call(self) -> bool:
        """Directly inside ``call`` of a Keras ``Layer``/``Model`` subclass."""
        scope = self.call.scope
        cls = scope.enclosing_class
        return (
            scope.kind == "function" and scope.name == "call" and bool(cls and cls.is_keras_layer)
        )

    @property
    def in_module_forward(self) -> bool:
        """Directly inside ``forward`` of an ``nn.Module`` subclass."""
        scope = self.call.scope
        cls = scope.enclosing_class
        return (
            scope.kind == "function" and scope.name == "forward" and bool(cls and cls.is_nn_module)
        )


@dataclass
class FileFacts:
    """Everything the traversal collected from one file: the shared semantic layer and, under
    ``families``, what each registered extractor made of it."""

    module: cst.Module
    aliases: AliasTable
    module_scope: Scope
    # Module-level names assigned exactly once, to a number literal.
    constants: dict[str, Number] = field(default_factory=dict)
    # Module-level name -> how many times it is bound (imports, assignments, `global` rebinds).
    module_binding_counts: dict[str, int] = field(default_factory=dict)
    calls: list[CallSite] = field(default_factory=list)
    classes: list[Scope] = field(default_factory=list)
    # extractor family -> its facts (what ``Extractor.finish`` returned).
    families: dict[str, Any] = field(default_factory=dict)
    # The extractors that made them (facts may resolve lazily through them).
    extractors: list[Any] = field(default_factory=list)

    def release(self) -> None:
        """Break the reference cycles of the scope graph (a scope and its parent, an assignment
        and its scope), so that the syntax tree they hold is freed by reference counting as
        soon as the engine drops it, instead of waiting for a cyclic GC pass over the whole
        tree (about 0.06 CPU-s per large file)."""
        pending = [self.module_scope, *self.classes]
        seen: set[int] = set()
        while pending:
            scope = pending.pop()
            if id(scope) in seen:
                continue
            seen.add(id(scope))
            pending.extend(scope.function_scopes.values())
            pending.extend(scope.classes.values())
            for table in (
                scope.assignments,
                scope.attributes,
                scope.functions,
                scope.classes,
                scope.function_scopes,
            ):
                table.clear()
            scope.parent = None
        self.calls.clear()
        self.classes.clear()
        self.families.clear()
        for extractor in self.extractors:
            # Lazy facts keep closures over their extractor: cycles through the facts.
            vars(extractor).clear()
        self.extractors.clear()

    def family(self, name: str) -> Any:
        """The facts of one extractor family (KeyError if no such extractor ran)."""
        return self.families[name]

    @property
    def dropout_sites(self) -> list[DropoutSite]:
        return self.families.get("dropout", [])


# ---------------------------------------------------------------------------------------------
# Literals


def number_literal(node: cst.BaseExpression) -> Number | None:
    """The value of a number literal (``1``, ``0.``, ``.0``, ``1e0``, ``-0.1``, ``(1.0)``,
    ``True``), or None for anything else. Parentheses live on the node in libcst."""
    if isinstance(node, (cst.Integer, cst.Float)):
        try:
            value = ast.literal_eval(node.value)
        except (ValueError, SyntaxError):  # pragma: no cover - the parser already checked it
            return None
        return value if isinstance(value, (int, float)) else None
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        inner = number_literal(node.expression)
        if inner is None:
            return None
        return -inner if isinstance(node.operator, cst.Minus) else +inner
    return None
