"""The training family: optimizer constructions with their learning rate, losses and what they are
fed, the training-loop calls (``backward``, ``step``, ``zero_grad``, gradient clipping, AMP
unscaling) and weight initialisation, bound from each call's arguments."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from nnlint.extractors import Extractor, register_extractor
from nnlint.extractors.architecture import Layer, ModelPath
from nnlint.facts import FileFacts, Number, number_literal
from nnlint.imports import dotted_parts
from nnlint.semantic import (
    Assignment,
    BoundArguments,
    CallSite,
    Context,
    Scope,
    Signature,
    bind_arguments,
)
from nnlint.walker import child_nodes

# ---------------------------------------------------------------------------------------------
# Optimizers

OptimizerFamily = Literal["sgd", "adaptive"]


@dataclass(frozen=True)
class OptimizerSpec:
    """Where an optimizer takes its learning rate, and which threshold family it belongs to."""

    qualname: str
    family: OptimizerFamily
    signature: Signature


def _optimizer_specs() -> dict[str, OptimizerSpec]:
    specs: dict[str, OptimizerSpec] = {}
    # torch.optim: ``Optimizer(params, lr=..., ...)``. Adadelta and LBFGS (usual lr 1.0) and
    # Rprop (a step size, not a learning rate) are left out on purpose.
    torch_sgd = ("SGD", "ASGD")
    torch_adaptive = ("Adam", "AdamW", "RMSprop", "Adagrad", "NAdam", "RAdam", "Adamax")
    torch_adaptive += ("SparseAdam",)
    torch_signature = Signature(("params", "lr"))
    for names, family in ((torch_sgd, "sgd"), (torch_adaptive, "adaptive")):
        for name in names:
            q = f"torch.optim.{name}"
            specs[q] = OptimizerSpec(q, family, torch_signature)  # type: ignore[arg-type]
    # Keras 2/3 (also ``tf.keras``, ``tf.optimizers``): ``learning_rate`` first, ``lr`` in Keras 2.
    keras_signature = Signature(("learning_rate",), aliases=(("lr", "learning_rate"),))
    keras_sgd = ("SGD",)
    keras_adaptive = ("Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Adamax", "Lion")
    for prefix in (
        "keras.optimizers.",
        "keras.optimizers.legacy.",
        "keras.optimizers.experimental.",
        "tensorflow.optimizers.",
    ):
        for names, family in ((keras_sgd, "sgd"), (keras_adaptive, "adaptive")):
            for name in names:
                q = prefix + name
                specs[q] = OptimizerSpec(q, family, keras_signature)  # type: ignore[arg-type]
    # TF1: ``tf.train.AdamOptimizer(learning_rate, ...)``.
    tf1 = {
        "GradientDescentOptimizer": "sgd",
        "MomentumOptimizer": "sgd",
        "AdamOptimizer": "adaptive",
        "RMSPropOptimizer": "adaptive",
        "AdagradOptimizer": "adaptive",
    }
    tf1_signature = Signature(("learning_rate",))
    for prefix in ("tensorflow.train.", "tensorflow.compat.v1.train."):
        for name, family in tf1.items():
            q = prefix + name
            specs[q] = OptimizerSpec(q, family, tf1_signature)  # type: ignore[arg-type]
    return specs


OPTIMIZER_SPECS: dict[str, OptimizerSpec] = _optimizer_specs()


@dataclass(frozen=True)
class LearningRate:
    """A learning rate whose value nnlint knows: a literal, a module constant or a local
    assigned once from a literal in the same function."""

    node: cst.BaseExpression  # the argument as written
    value: float
    via: str | None = None  # the constant or local name it came through


@dataclass(frozen=True)
class OptimizerSite:
    call: CallSite
    spec: OptimizerSpec
    lr: LearningRate | None
    # The parameters are tensors listed by hand (``Adam([image], lr=0.1)``), not a model's
    # ``parameters()``: feature visualisation, style transfer, a toy regression.
    tensors: bool = False
    # A ``LambdaLR``/``MultiplicativeLR`` multiplies the learning rate by a schedule, so the
    # literal is a base scale (the Transformer's Noam schedule uses ``lr=1``).
    scaled_by_schedule: bool = False


# ---------------------------------------------------------------------------------------------
# Losses

# What a loss expects its prediction to be.
Expects = Literal["logits", "probabilities"]
# The activation a loss applies itself (for ``logits``) or assumes was applied (``probabilities``).
LossActivation = Literal["softmax", "sigmoid"]


@dataclass(frozen=True)
class LossSpec:
    qualname: str
    framework: Literal["torch", "tensorflow", "keras"]
    kind: Literal["module", "functional"]
    expects: Expects
    activation: LossActivation
    # Where the prediction is passed when the loss is applied: its parameter name and position
    # (for a module, in ``loss_module(prediction, target)``).
    prediction: str
    signature: Signature
    # Keras losses: whether ``from_logits`` switches ``expects`` (default False).
    keras_from_logits: bool = False


def _loss_specs() -> dict[str, LossSpec]:
    specs: list[LossSpec] = []
    applied = Signature(("input", "target"))
    for name, expects, activation in (
        ("CrossEntropyLoss", "logits", "softmax"),
        ("BCEWithLogitsLoss", "logits", "sigmoid"),
        ("BCELoss", "probabilities", "sigmoid"),
    ):
        specs.append(
            LossSpec(f"torch.nn.{name}", "torch", "module", expects, activation, "input", applied)
        )
    for name, expects, activation in (
        ("cross_entropy", "logits", "softmax"),
        ("binary_cross_entropy_with_logits", "logits", "sigmoid"),
        ("binary_cross_entropy", "probabilities", "sigmoid"),
    ):
        specs.append(
            LossSpec(
                f"torch.nn.functional.{name}",
                "torch",
                "functional",
                expects,
                activation,
                "input",
                applied,
            )
        )
    # TF2: ``(labels, logits)``; TF1 takes ``_sentinel`` first (so positional use is TF2's).
    for prefix, tf_nn in (
        ("tensorflow.nn.", Signature(("labels", "logits"))),
        ("tensorflow.compat.v1.nn.", Signature(("_sentinel", "labels", "logits"))),
    ):
        for name, activation in (
            ("softmax_cross_entropy_with_logits", "softmax"),
            ("softmax_cross_entropy_with_logits_v2", "softmax"),
            ("sparse_softmax_cross_entropy_with_logits", "softmax"),
            ("sigmoid_cross_entropy_with_logits", "sigmoid"),
        ):
            specs.append(
                LossSpec(
                    prefix + name, "tensorflow", "functional", "logits", activation, "logits", tf_nn
                )
            )
    tf_losses = Signature(("labels", "logits"), aliases=(("onehot_labels", "labels"),))
    tf_multi = Signature(("multi_class_labels", "logits"))
    for prefix in ("tensorflow.losses.", "tensorflow.compat.v1.losses."):
        for name, activation, signature in (
            ("softmax_cross_entropy", "softmax", tf_losses),
            ("sparse_softmax_cross_entropy", "softmax", tf_losses),
            ("sigmoid_cross_entropy", "sigmoid", tf_multi),
        ):
            specs.append(
                LossSpec(
                    prefix + name,
                    "tensorflow",
                    "functional",
                    "logits",
                    activation,
                    "logits",
                    signature,
                )
            )
    # Keras: ``from_logits=True`` makes the loss apply the activation itself.
    keras_module = Signature(("from_logits",))
    for name, activation in (
        ("CategoricalCrossentropy", "softmax"),
        ("SparseCategoricalCrossentropy", "softmax"),
        ("BinaryCrossentropy", "sigmoid"),
    ):
        specs.append(
            LossSpec(
                f"keras.losses.{name}",
                "keras",
                "module",
                "probabilities",
                activation,
                "y_pred",
                keras_module,
                keras_from_logits=True,
            )
        )
    # ``keras.backend.categorical_crossentropy(target, output, from_logits=False)`` too.
    keras_functional = Signature(
        ("y_true", "y_pred", "from_logits"), aliases=(("target", "y_true"), ("output", "y_pred"))
    )
    for prefix in ("keras.losses.", "keras.metrics.", "keras.backend."):
        for name, activation in (
            ("categorical_crossentropy", "softmax"),
            ("sparse_categorical_crossentropy", "softmax"),
            ("binary_crossentropy", "sigmoid"),
        ):
            specs.append(
                LossSpec(
                    prefix + name,
                    "keras",
                    "functional",
                    "probabilities",
                    activation,
                    "y_pred",
                    keras_functional,
                    keras_from_logits=True,
                )
            )
    return {s.qualname: s for s in specs}


LOSS_SPECS: dict[str, LossSpec] = _loss_specs()

# How a loss spelt as a string in ``model.compile(loss=...)`` reads.
KERAS_LOSS_STRINGS: dict[str, LossActivation] = {
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
}


@dataclass(frozen=True)
class Producer:
    """Where a prediction's last activation was applied: ``F.softmax(x)``, ``x.sigmoid()``,
    ``nn.Softmax(dim=1)(x)``, or the last layer of a model defined in the file."""

    activation: str  # "softmax", "sigmoid", "relu", ...
    node: cst.CSTNode  # the activation call, or the model's output layer
    # The activation's input when it is a call written inline (for a fix), else None.
    inner: cst.BaseExpression | None = None
    via: Literal["inline", "local", "model"] = "inline"
    model: str | None = None  # the model's name when it came through a model


@dataclass(frozen=True)
class LossApplication:
    """A loss applied to a prediction: ``F.cross_entropy(pred, y)``, ``criterion(pred, y)``."""

    spec: LossSpec
    construction: CallSite  # the loss module's construction, or the functional call itself
    call: cst.Call  # the call that receives the prediction
    prediction: cst.BaseExpression | None
    producer: Producer | None  # what the prediction's last activation is, if nnlint can tell
    from_logits: bool | None = None  # Keras ``from_logits`` when it is a literal


@dataclass(frozen=True)
class KerasCompile:
    """``model.compile(loss=...)``: the loss's activation, whether it takes logits, and the
    model's output activation when the model is defined in the file."""

    call: CallSite
    loss_node: cst.BaseExpression
    loss_activation: LossActivation
    loss_name: str
    from_logits: bool
    output: Producer | None
    output_units: int | None


# ---------------------------------------------------------------------------------------------
# Training-loop calls

LoopCallKind = Literal["backward", "step", "zero_grad", "grad_reset", "clip", "unscale"]


@dataclass(frozen=True)
class LoopCall:
    kind: LoopCallKind
    call: CallSite
    # For ``step``: the optimizer as written (``optimizer`` in ``optimizer.step()`` and in
    # ``scaler.step(optimizer)``). For ``backward``: whether the loss went through an AMP
    # ``scaler.scale(loss)``. For ``clip``: whether it is torch's own (AMP needs ``unscale_``).
    target: cst.BaseExpression | None = None
    amp: bool = False
    torch_clip: bool = False

    @property
    def order(self) -> int:
        return self.call.order

    @property
    def context(self) -> Context:
        return self.call.context


# ---------------------------------------------------------------------------------------------
# Initialisation

InitKind = Literal["constant", "normal", "uniform"]


@dataclass(frozen=True)
class LayerOwner:
    """The layer whose parameter an init sets."""

    # Its canonical class name when nnlint knows it (``torch.nn.Linear``).
    layer: str | None = None
    # torch: set on every module of a type (``for m in self.modules()`` or an ``apply``
    # function under ``if isinstance(m, nn.Linear):``) rather than on one named layer.
    every_module: bool = False
    # torch: where the layer is constructed (``nn.Linear(...)`` assigned to ``self.fc``).
    layer_node: cst.CSTNode | None = None


@dataclass(frozen=True)
class InitSite:
    """A weight or bias set by an init function or in-place tensor method, or a Keras
    ``kernel_initializer``/``bias_initializer``. The layer it belongs to is resolved on first
    use (finding the enclosing ``isinstance`` test walks the tree): rules ask for it only
    after the cheap checks (parameter, kind, value)."""

    call: CallSite  # the init call, or the Keras layer construction
    node: cst.CSTNode  # what to point at
    parameter: Literal["weight", "bias"]
    kind: InitKind
    value: float | None = None  # constant
    scale: float | None = None  # std (normal) or largest |bound| (uniform)
    # Keras: the layer's fused activation (``Dense(64, activation="relu", ...)``).
    activation: str | None = None
    resolve_owner: Callable[[], LayerOwner] = field(default=LayerOwner, compare=False, repr=False)
    _owner: list[LayerOwner] = field(default_factory=list, compare=False, repr=False)

    @property
    def owner(self) -> LayerOwner:
        if not self._owner:
            self._owner.append(self.resolve_owner())
        return self._owner[0]

    @property
    def layer(self) -> str | None:
        return self.owner.layer

    @property
    def every_module(self) -> bool:
        return self.owner.every_module

    @property
    def layer_node(self) -> cst.CSTNode | None:
        return self.owner.layer_node


@dataclass
class TrainingFacts:
    optimizers: list[OptimizerSite] = field(default_factory=list)
    losses: list[LossApplication] = field(default_factory=list)
    compiles: list[KerasCompile] = field(default_factory=list)
    loop_calls: list[LoopCall] = field(default_factory=list)
    inits: list[InitSite] = field(default_factory=list)
    # Keras ``Dense(1, activation="softmax")``: a softmax over one unit.
    single_unit_softmax: list[CallSite] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Expression helpers


def literal_value(node: cst.BaseExpression, scope: Scope, facts: FileFacts) -> Number | None:
    """A number literal, a module constant, or a local assigned exactly once (from a literal,
    unconditionally) in the same function and not a parameter."""
    value = number_literal(node)
    if value is not None or not isinstance(node, cst.Name):
        return value
    name = node.value
    found = scope.lookup(name)
    if found is None:
        return None
    owner, assignments = found
    if owner.kind == "module":
        return facts.constants.get(name)
    if owner is not scope or name in owner.parameters or len(assignments) != 1:
        return None
    only = assignments[0]
    if only.kind not in ("assign", "annassign") or only.context.conditional:
        return None
    return number_literal(only.value)


def string_value(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _reaching_assignment(scope: Scope, name: str, use: Context) -> tuple[Scope, Assignment] | None:
    """The assignment of ``name`` that the use at ``use`` reads, when nnlint can tell: the last
    one before it in the same function, in a block that encloses the use (not in an ``if``
    branch the use is outside of). Module names: the only assignment."""
    found = scope.lookup(name)
    if found is None:
        return None
    owner, assignments = found
    if not assignments:
        return None
    if owner is not scope:
        if len(assignments) != 1 or name in owner.parameters:
            return None
        return owner, assignments[0]
    if name in owner.parameters:
        return None
    before = [a for a in assignments if a.context.statement_path < use.statement_path]
    if not before:
        return None
    last = before[-1]
    path = last.context.statement_path
    if path[:-1] != use.statement_path[: len(path) - 1]:
        return None  # inside a branch or loop body that the use is not in
    if len(path) <= len(use.statement_path) and path == use.statement_path[: len(path)]:
        return None  # the use is inside the assigning statement itself
    return owner, last


# Calls that keep a tensor's values (and so its activation): reshapes, casts, device moves.
_PASS_THROUGH_METHODS = frozenset(
    {
        "view",
        "reshape",
        "squeeze",
        "unsqueeze",
        "flatten",
        "float",
        "double",
        "half",
        "contiguous",
        "to",
        "cuda",
        "cpu",
        "view_as",
        "permute",
        "transpose",
        "type",
        "clone",
    }
)
# Wrappers of a model that keep its output: ``.to(device)``, ``.cuda()``, ``DataParallel(m)``.
_MODEL_WRAPPER_METHODS = frozenset({"to", "cuda", "cpu", "float", "double", "half", "train"})
_MODEL_WRAPPERS = frozenset(
    {"torch.nn.DataParallel", "torch.nn.parallel.DistributedDataParallel", "torch.compile"}
)

_SOFTMAX_FUNCTIONS = frozenset(
    {
        "torch.softmax",
        "torch.nn.functional.softmax",
        "tensorflow.nn.softmax",
        "tensorflow.math.softmax",
        "keras.activations.softmax",
        "keras.ops.softmax",
    }
)
_SIGMOID_FUNCTIONS = frozenset(
    {
        "torch.sigmoid",
        "torch.nn.functional.sigmoid",
        "torch.special.expit",
        "tensorflow.sigmoid",
        "tensorflow.nn.sigmoid",
        "tensorflow.math.sigmoid",
        "keras.activations.sigmoid",
        "keras.ops.sigmoid",
    }
)
# Schedulers whose factor multiplies the optimizer's learning rate at every step.
_MULTIPLYING_SCHEDULERS = frozenset(
    {"torch.optim.lr_scheduler.LambdaLR", "torch.optim.lr_scheduler.MultiplicativeLR"}
)
_ACTIVATION_MODULES = {"torch.nn.Softmax": "softmax", "torch.nn.Sigmoid": "sigmoid"}


@register_extractor
class TrainingExtractor(Extractor):
    """Reads optimizers, losses, training-loop calls and initialisation (see the module doc)."""

    family = "training"
    qualnames = (
        frozenset(OPTIMIZER_SPECS)
        | frozenset(LOSS_SPECS)
        | frozenset(
            {
                "torch.nn.utils.clip_grad_norm_",
                "torch.nn.utils.clip_grad_value_",
                "torch.nn.utils.clip_grad_norm",
                "torch.nn.utils.clip_grad.clip_grad_norm_",
                "torch.nn.utils.clip_grad.clip_grad_value_",
            }
        )
        | frozenset(f"torch.nn.init.{n}" for n in ("zeros_", "ones_", "constant_"))
        | frozenset(f"torch.nn.init.{n}" for n in ("normal_", "uniform_", "trunc_normal_"))
        | frozenset(f"keras.layers.{n}" for n in ("Dense", "Conv1D", "Conv2D", "Conv3D"))
        | frozenset({"torch.nn.Sequential"})
        | _MULTIPLYING_SCHEDULERS
    )
    method_names = frozenset(
        {
            "backward",
            "manual_backward",
            "step",
            "zero_grad",
            "zero_",
            "fill_",
            "normal_",
            "uniform_",
            "clip_grad_norm_",
            "clip_grad_value_",
            "unscale_",
            "compile",
        }
    )

    def __init__(self, facts: FileFacts) -> None:
        super().__init__(facts)
        self.result = TrainingFacts()
        self._loss_sites: list[tuple[CallSite, LossSpec]] = []
        self._compiles: list[CallSite] = []
        self._keras_layers: list[CallSite] = []
        self._calls_index: _CallIndex | None = None
        self._schedulers: list[CallSite] = []

    def on_call(self, site: CallSite) -> None:
        qualname = site.qualname or ""
        if qualname in OPTIMIZER_SPECS:
            self._optimizer(site, OPTIMIZER_SPECS[qualname])
        elif qualname in LOSS_SPECS:
            self._loss_sites.append((site, LOSS_SPECS[qualname]))
        elif qualname.startswith("keras.layers."):
            self._keras_layers.append(site)
        elif qualname == "torch.nn.Sequential":
            self._sequential(site)
        elif qualname in _MULTIPLYING_SCHEDULERS:
            self._schedulers.append(site)
        elif qualname.startswith("torch.nn.init."):
            self._torch_init(site, qualname.rsplit(".", 1)[1], site.node.args[:1])
        elif qualname.startswith("torch.nn.utils.clip_grad"):
            self._loop(site, "clip", torch_clip=True)
        else:
            self._method(site)

    def finish(self) -> TrainingFacts:
        if self._schedulers:
            self._mark_scheduled_optimizers()
        for site, spec in self._loss_sites:
            self._loss(site, spec)
        for site in self._keras_layers:
            self._keras_layer(site)
        for site in self._compiles:
            self._compile(site)
        return self.result

    # -- optimizers -------------------------------------------------------------------------

    def _optimizer(self, site: CallSite, spec: OptimizerSpec) -> None:
        bound = bind_arguments(site.node, spec.signature)
        key = "lr" if "lr" in spec.signature.positional else "learning_rate"
        node = bound.get(key)
        lr = None
        if node is not None:
            value = literal_value(node, site.scope, self.facts)
            if value is not None and not isinstance(value, bool):
                via = node.value if isinstance(node, cst.Name) else None
                lr = LearningRate(node, float(value), via)
        params = bound.get("params")
        tensors = isinstance(params, (cst.List, cst.Tuple)) and all(
            isinstance(e.value, (cst.Name, cst.Attribute, cst.Subscript)) for e in params.elements
        )
        self.result.optimizers.append(OptimizerSite(site, spec, lr, tensors=tensors))

    def _mark_scheduled_optimizers(self) -> None:
        """Optimizers handed to a ``LambdaLR``/``MultiplicativeLR`` in the same scope."""
        scheduled: set[tuple[int, str]] = set()
        for site in self._schedulers:
            target = bind_arguments(site.node, Signature(("optimizer", "lr_lambda"))).get(
                "optimizer"
            )
            parts = dotted_parts(target) if target is not None else None
            if parts is not None:
                scheduled.add((id(site.scope), ".".join(parts)))
        optimizers = self.result.optimizers
        for index, optimizer in enumerate(optimizers):
            target = optimizer.call.assigned_to
            parts = dotted_parts(target) if target is not None else None
            if parts is not None and (id(optimizer.call.scope), ".".join(parts)) in scheduled:
                optimizers[index] = dataclasses.replace(optimizer, scaled_by_schedule=True)

    # -- training-loop calls ----------------------------------------------------------------

    def _loop(self, site: CallSite, kind: LoopCallKind, **extra: object) -> None:
        self.result.loop_calls.append(LoopCall(kind, site, **extra))  # type: ignore[arg-type]

    def _method(self, site: CallSite) -> None:
        name = site.method_name
        receiver = site.receiver
        if name in ("backward", "manual_backward"):
            amp = (
                isinstance(receiver, cst.Call)
                and isinstance(receiver.func, cst.Attribute)
                and receiver.func.attr.value == "scale"
            )
            if name == "backward" and receiver is None:
                return  # a function named backward, not autograd
            if (site.qualname or "").startswith("torch.distributed.autograd."):
                return  # RPC training: gradients live in a per-iteration context
            self._loop(site, "backward", amp=amp)
        elif name == "step":
            target = _optimizer_of_step(site)
            if target is not None:
                self._loop(site, "step", target=target, amp=_is_scaler(receiver))
        elif name == "zero_grad":
            self._loop(site, "zero_grad")
        elif name in ("clip_grad_norm_", "clip_grad_value_"):
            # ``accelerator.clip_grad_norm_`` unscales AMP gradients itself.
            self._loop(site, "clip")
        elif name == "unscale_":
            self._loop(site, "unscale")
        elif name == "compile":
            if receiver is not None:
                self._compiles.append(site)
        elif receiver is not None:
            self._tensor_method(site, name, receiver)

    # -- initialisation ---------------------------------------------------------------------

    def _tensor_method(self, site: CallSite, name: str, receiver: cst.BaseExpression) -> None:
        """``m.weight.data.zero_()``, ``m.weight.data.normal_(0, 1)``, ``p.grad.zero_()``."""
        parts = dotted_parts(receiver)
        if parts is None:
            return
        if name == "zero_" and "grad" in parts[1:]:
            self._loop(site, "grad_reset")
            return
        layer_parts = parts[:-1] if parts[-1] == "data" else parts
        if len(layer_parts) < 2 or layer_parts[-1] not in ("weight", "bias"):
            return
        args = [a for a in site.node.args if not a.star]
        if name == "zero_":
            self._init(site, layer_parts, "constant", value=0.0)
        elif name == "fill_" and args:
            value = literal_value(args[0].value, site.scope, self.facts)
            if value is not None:
                self._init(site, layer_parts, "constant", value=float(value))
        elif name == "normal_":
            bound = bind_arguments(site.node, Signature(("mean", "std")))
            self._scaled_init(site, layer_parts, "normal", bound)
        elif name == "uniform_":
            bound = bind_arguments(site.node, Signature(("from", "to")))
            self._scaled_init(site, layer_parts, "uniform", bound, low="from", high="to")

    def _torch_init(self, site: CallSite, name: str, first: object) -> None:
        call = site.node
        signature = {
            "zeros_": Signature(("tensor",)),
            "ones_": Signature(("tensor",)),
            "constant_": Signature(("tensor", "val")),
            "normal_": Signature(("tensor", "mean", "std")),
            "trunc_normal_": Signature(("tensor", "mean", "std", "a", "b")),
            "uniform_": Signature(("tensor", "a", "b")),
        }[name]
        bound = bind_arguments(call, signature)
        tensor = bound.get("tensor")
        parts = dotted_parts(tensor) if tensor is not None else None
        if parts is None:
            return
        layer_parts = parts[:-1] if parts[-1] == "data" else parts
        if len(layer_parts) < 2 or layer_parts[-1] not in ("weight", "bias"):
            return
        if name in ("zeros_", "ones_"):
            self._init(site, layer_parts, "constant", value=0.0 if name == "zeros_" else 1.0)
        elif name == "constant_":
            node = bound.get("val")
            value = literal_value(node, site.scope, self.facts) if node is not None else None
            if value is not None:
                self._init(site, layer_parts, "constant", value=float(value))
        elif name == "uniform_":
            self._scaled_init(site, layer_parts, "uniform", bound, low="a", high="b")
        else:
            self._scaled_init(site, layer_parts, "normal", bound)

    def _scaled_init(
        self,
        site: CallSite,
        layer_parts: tuple[str, ...],
        kind: InitKind,
        bound: BoundArguments,
        *,
        low: str = "",
        high: str = "",
    ) -> None:
        if kind == "normal":
            node = bound.get("std")
            if node is None:
                return  # the default std is 1.0 but nobody writes normal_(w) for weights
            value = literal_value(node, site.scope, self.facts)
            if value is None:
                return
            scale = abs(float(value))
        else:
            values = []
            for key in (low, high):
                node = bound.get(key)
                if node is None:
                    return
                value = literal_value(node, site.scope, self.facts)
                if value is None:
                    return
                values.append(abs(float(value)))
            scale = max(values)
        self._init(site, layer_parts, kind, scale=scale)

    def _init(
        self,
        site: CallSite,
        layer_parts: tuple[str, ...],
        kind: InitKind,
        *,
        value: float | None = None,
        scale: float | None = None,
    ) -> None:
        self.result.inits.append(
            InitSite(
                call=site,
                node=site.node,
                parameter=layer_parts[-1],  # type: ignore[arg-type]
                kind=kind,
                value=value,
                scale=scale,
                resolve_owner=lambda: self._layer_of(site, layer_parts[:-1]),
            )
        )

    def _layer_of(self, site: CallSite, owner: tuple[str, ...]) -> LayerOwner:
        """The class of the module ``owner`` names (``self.fc``, ``m``), whether ``m`` runs
        over every module of a model (``for m in self.modules()`` or an ``apply`` function),
        and the layer's construction when it is one call."""
        scope = site.scope
        if len(owner) == 2 and owner[0] == scope.first_param:
            cls = scope.enclosing_class
            if cls is not None:
                values = cls.attributes.get(owner[1], [])
                if len(values) == 1 and isinstance(values[0].value, cst.Call):
                    value = values[0].value
                    return LayerOwner(self._resolve_callee(value), False, value)
            return LayerOwner()
        if len(owner) != 1:
            return LayerOwner()
        name = owner[0]
        every = False
        for loop in site.context.loops:
            if _binds(loop.target, name) and _iterates_modules(loop.iterable):
                every = True
        if not every and name in scope.parameters and scope.kind == "function":
            # ``def init_weights(m): ...`` passed to ``model.apply`` (or a method
            # ``_init_weights(self, module)``): its only parameter besides ``self``.
            others = [p for p in scope.parameters if p != "self"]
            every = others == [name]
        found = _reaching_assignment(scope, name, site.context)
        if found is not None and isinstance(found[1].value, cst.Call):
            value = found[1].value
            return LayerOwner(self._resolve_callee(value), False, value)
        layer, exact = _isinstance_layer(self.facts, site, name)
        return LayerOwner(layer, every and exact and layer is not None)

    def _resolve_callee(self, call: cst.Call) -> str | None:
        parts = dotted_parts(call.func)
        return self.facts.aliases.resolve(parts) if parts else None

    def _keras_layer(self, site: CallSite) -> None:
        """``Dense(1, activation="softmax")`` and ``kernel_initializer``/``bias_initializer``."""
        qualname = site.qualname or ""
        is_dense = qualname == "keras.layers.Dense"
        bound = bind_arguments(site.node, _DENSE if is_dense else _CONV)
        activation = _activation_name(bound.get("activation"))
        units_node = bound.get("units") if is_dense else bound.get("filters")
        units = number_literal(units_node) if units_node is not None else None
        if is_dense and activation == "softmax" and units == 1 and not isinstance(units, bool):
            self.result.single_unit_softmax.append(site)
        for parameter, key in (("weight", "kernel_initializer"), ("bias", "bias_initializer")):
            node = bound.get(key)
            if node is None:
                continue
            init = _keras_initializer(node, site, self.facts)
            if init is None:
                continue
            kind, value, scale = init
            self.result.inits.append(
                InitSite(
                    call=site,
                    node=node,
                    parameter=parameter,  # type: ignore[arg-type]
                    kind=kind,
                    value=value,
                    scale=scale,
                    activation=activation,
                    resolve_owner=functools.partial(LayerOwner, qualname),
                )
            )

    def _sequential(self, site: CallSite) -> None:
        """``nn.Sequential(..., nn.Linear(h, 1), nn.Softmax(dim=-1))``: a softmax over one unit.
        Only adjacent arguments of one ``Sequential``: in ``forward`` a reshape between the two
        is invisible to the model path, and attention does exactly that (scores of shape
        ``(B, T, 1)`` squeezed, then a softmax over the sequence)."""
        previous: cst.BaseExpression | None = None
        for arg in site.node.args:
            if arg.star or arg.keyword is not None:
                previous = None
                continue
            value = arg.value
            if isinstance(value, cst.Call) and isinstance(previous, cst.Call):
                layer = self._resolve_callee(previous)
                activation = self._resolve_callee(value)
                if layer == "torch.nn.Linear" and activation == "torch.nn.Softmax":
                    units = bind_arguments(previous, Signature(("in_features", "out_features")))
                    dim = bind_arguments(value, Signature(("dim",))).get("dim")
                    out = units.get("out_features")
                    if (
                        out is not None
                        and number_literal(out) == 1
                        and dim is not None
                        and number_literal(dim) == -1
                    ):
                        self.result.single_unit_softmax.append(
                            dataclasses.replace(site, node=value)
                        )
            previous = value

    # -- losses -----------------------------------------------------------------------------

    def _loss(self, site: CallSite, spec: LossSpec) -> None:
        if spec.kind == "functional":
            self._apply_loss(spec, site, site.node, site.context)
            return
        if spec.framework == "keras":
            return  # Keras loss objects are read where ``compile`` uses them
        if site.applied_by is not None:
            self._apply_loss(spec, site, site.applied_by, site.context)
            return
        target = site.assigned_to
        if target is None:
            return
        for call, context in self._index().calls_of(target, site.scope):
            self._apply_loss(spec, site, call, context)

    def _apply_loss(
        self, spec: LossSpec, construction: CallSite, call: cst.Call, context: Context
    ) -> None:
        signature = spec.signature if spec.kind == "functional" else Signature(("input", "target"))
        bound = bind_arguments(call, signature)
        prediction = bound.get(spec.prediction)
        from_logits = None
        if spec.keras_from_logits:
            node = bound.get("from_logits")
            literal = number_literal(node) if node is not None else False
            from_logits = literal if isinstance(literal, bool) else None
        producer = (
            self.producer_of(prediction, context, depth=0) if prediction is not None else None
        )
        self.result.losses.append(
            LossApplication(spec, construction, call, prediction, producer, from_logits)
        )

    def _compile(self, site: CallSite) -> None:
        bound = bind_arguments(site.node, Signature(("optimizer", "loss")))
        loss = bound.get("loss")
        if loss is None:
            return
        from_logits = False
        name = string_value(loss)
        if name is None and isinstance(loss, cst.Call):
            qualname = self._resolve_callee(loss) or ""
            spec = LOSS_SPECS.get(qualname)
            if spec is None or spec.framework != "keras" or spec.kind != "module":
                return
            name = _snake(qualname.rsplit(".", 1)[1])
            bound_loss = bind_arguments(loss, spec.signature)
            flag = bound_loss.get("from_logits")
            literal = number_literal(flag) if flag is not None else False
            if not isinstance(literal, bool):
                return  # a flag nnlint cannot read
            from_logits = literal
        elif name is None and isinstance(loss, (cst.Attribute, cst.Name)):
            qualname = self._resolve_callee(cst.Call(func=loss)) or ""
            spec = LOSS_SPECS.get(qualname)
            if spec is None or spec.kind != "functional" or spec.framework != "keras":
                return
            name = qualname.rsplit(".", 1)[1]
        if name not in KERAS_LOSS_STRINGS:
            return
        output, units = self._keras_output(site)
        self.result.compiles.append(
            KerasCompile(site, loss, KERAS_LOSS_STRINGS[name], name, from_logits, output, units)
        )

    def _keras_output(self, site: CallSite) -> tuple[Producer | None, int | None]:
        """The output activation (and units) of the Keras model being compiled."""
        receiver = site.receiver
        if receiver is None:
            return None, None
        return self.model_output(receiver, site.context, framework="keras")

    def model_output(
        self, model: cst.BaseExpression, context: Context, *, framework: str | None = None
    ) -> tuple[Producer | None, int | None]:
        """The activation every path of ``model`` (a model object of this file) ends with, and
        the units of its last weight layer; None when the paths disagree or end in something
        nnlint cannot see through."""
        paths = self.model_paths_of(model, context)
        if not paths or (framework is not None and paths[0].framework != framework):
            return None, None
        outputs = [_output_layer(path) for path in paths]
        # Every path (branches of `forward`) must end in the same activation.
        if any(o is None for o in outputs) or len({o[1] for o in outputs if o}) != 1:
            return None, None
        found = outputs[0]
        assert found is not None
        layer, activation, units = found
        name = _model_name(paths[0], model)
        return Producer(activation, layer.report_node, None, "model", name), units

    # -- value flow -------------------------------------------------------------------------

    def producer_of(
        self, expr: cst.BaseExpression, context: Context, *, depth: int
    ) -> Producer | None:
        """What activation ``expr`` is the output of, when the file says so."""
        if depth > 4:
            return None
        expr = _strip_pass_through(expr)
        if isinstance(expr, cst.Name):
            found = _reaching_assignment(context.scope, expr.value, context)
            if found is None:
                return None
            assignment = found[1]
            if assignment.kind not in ("assign", "annassign", "walrus"):
                return None
            inner = self.producer_of(assignment.value, assignment.context, depth=depth + 1)
            if inner is None or inner.via == "model":
                return inner
            return Producer(inner.activation, inner.node, None, "local")
        if not isinstance(expr, cst.Call):
            return None
        activation, inner = self._activation_call(expr)
        if activation is not None:
            return Producer(activation, expr, inner, "inline")
        return self.model_output(expr.func, context)[0]

    def _activation_call(self, call: cst.Call) -> tuple[str | None, cst.BaseExpression | None]:
        """``F.softmax(x)`` -> ("softmax", x); ``x.sigmoid()`` -> ("sigmoid", x);
        ``nn.Softmax(dim=1)(x)`` -> ("softmax", x)."""
        func = call.func
        args = [a for a in call.args if a.keyword is None and not a.star]
        if isinstance(func, cst.Call):
            qualname = self._resolve_callee(func)
            activation = _ACTIVATION_MODULES.get(qualname or "")
            return activation, (args[0].value if activation and args else None)
        parts = dotted_parts(func)
        if parts is None:
            if isinstance(func, cst.Attribute) and func.attr.value in ("softmax", "sigmoid"):
                return func.attr.value, None
            return None, None
        qualname = None
        if not (len(parts) == 1 and self.facts.module_scope.binds_locally(parts[0])):
            qualname = self.facts.aliases.resolve(parts)
        if qualname in _SOFTMAX_FUNCTIONS:
            return "softmax", args[0].value if args else None
        if qualname in _SIGMOID_FUNCTIONS:
            return "sigmoid", args[0].value if args else None
        if qualname is None and len(parts) >= 2 and parts[-1] in ("softmax", "sigmoid"):
            # A tensor method: ``logits.softmax(dim=-1)``, ``out.sigmoid()``.
            receiver = func.value if isinstance(func, cst.Attribute) else None
            if parts[0] not in self.facts.aliases:
                return parts[-1], receiver
        return None, None

    def model_paths_of(self, expr: cst.BaseExpression, context: Context) -> list[ModelPath]:
        """The architecture paths of the model ``expr`` is, when the model is defined in this
        file: ``model`` bound to ``Net()`` or ``nn.Sequential(...)``, ``self.net`` assigned so
        in ``__init__``, ``self`` in a model's own method."""
        paths = self.facts.families.get("architecture") or []
        if not paths:
            return []
        value: cst.BaseExpression | None = expr
        for _ in range(4):
            value = _strip_model_wrappers(value, self.facts) if value is not None else None
            if value is None:
                return []
            found = [path for path in paths if path.node is value]
            if found:
                return found
            if isinstance(value, cst.Call):
                parts = dotted_parts(value.func)
                if parts is None or len(parts) != 1:
                    return []
                return [
                    path
                    for path in paths
                    if path.model == parts[0] and isinstance(path.node, cst.ClassDef)
                ]
            if isinstance(value, cst.Name):
                cls = context.scope.enclosing_class
                if value.value == context.scope.first_param and cls is not None:
                    # ``self(x)`` in ``training_step``: the model is the class itself.
                    return [path for path in paths if path.node is cls.node]
                reaching = _reaching_assignment(context.scope, value.value, context)
                if reaching is None:
                    return []
                value, context = reaching[1].value, reaching[1].context
                continue
            parts = dotted_parts(value)
            scope = context.scope
            if parts is not None and len(parts) == 2 and parts[0] == scope.first_param:
                cls = scope.enclosing_class
                values = cls.attributes.get(parts[1], []) if cls is not None else []
                if len(values) != 1:
                    return []
                value, context = values[0].value, values[0].context
                continue
            return []
        return []

    def _index(self) -> _CallIndex:
        if self._calls_index is None:
            self._calls_index = _CallIndex(self.facts)
        return self._calls_index


# ---------------------------------------------------------------------------------------------
# Finding the calls of a loss module (``criterion(pred, y)``): the walker records calls by their
# callee's last name, and a loss object can have any name, so the scopes that can see it are
# scanned once, lazily, for files that construct a loss module.


class _CallIndex:
    def __init__(self, facts: FileFacts) -> None:
        self._facts = facts
        self._scopes: dict[int, Scope] = {}
        self._collect_scopes(facts.module_scope)
        self._scanned: dict[int, list[tuple[cst.Call, Context]]] = {}

    def _collect_scopes(self, scope: Scope) -> None:
        self._scopes[id(scope.node)] = scope
        for child in (*scope.function_scopes.values(), *scope.classes.values()):
            self._collect_scopes(child)

    def calls_of(
        self, target: cst.BaseExpression, scope: Scope
    ) -> Iterator[tuple[cst.Call, Context]]:
        """Calls of the object bound to ``target`` (a name in ``scope`` or ``self.attr``)."""
        if isinstance(target, cst.Name):
            name = target.value
            roots = [scope]
            for call, context in self._calls_in(roots):
                func = call.func
                if isinstance(func, cst.Name) and func.value == name:
                    found = context.scope.lookup(name)
                    if found is not None and found[0] is scope:
                        yield call, context
            return
        parts = dotted_parts(target)
        cls = scope.enclosing_class
        if parts is None or len(parts) != 2 or cls is None or parts[0] != scope.first_param:
            return
        for call, context in self._calls_in(list(cls.function_scopes.values())):
            fparts = dotted_parts(call.func)
            if fparts == (context.scope.first_param, parts[1]) and fparts[0] is not None:
                yield call, context

    def _calls_in(self, scopes: list[Scope]) -> Iterator[tuple[cst.Call, Context]]:
        for scope in scopes:
            key = id(scope.node)
            if key not in self._scanned:
                base = (
                    ()
                    if scope.kind == "module"
                    else _statement_path_of(self._facts.module, scope.node)
                )
                calls = list(self._scan_scope(scope, base)) if base is not None else []
                self._scanned[key] = calls
            yield from self._scanned[key]

    def _scan_scope(
        self, scope: Scope, base: tuple[int, ...]
    ) -> Iterator[tuple[cst.Call, Context]]:
        node = scope.node
        if isinstance(node, cst.Module):
            yield from self._scan_block(node.body, scope, ())
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            body = node.body
            if isinstance(body, cst.IndentedBlock):
                yield from self._scan_block(body.body, scope, base)
            else:
                yield from self._scan_node(body, scope, base)

    def _scan_block(
        self, statements: object, scope: Scope, path: tuple[int, ...]
    ) -> Iterator[tuple[cst.Call, Context]]:
        for index, statement in enumerate(statements):  # type: ignore[arg-type]
            yield from self._scan_node(statement, scope, (*path, index))

    def _scan_node(
        self, node: cst.CSTNode, scope: Scope, path: tuple[int, ...]
    ) -> Iterator[tuple[cst.Call, Context]]:
        stack: list[cst.CSTNode] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                child = self._scopes.get(id(current))
                if child is not None and child is not scope:
                    yield from self._scan_scope(child, path)
                continue
            if isinstance(current, cst.IndentedBlock):
                yield from self._scan_block(current.body, scope, path)
                continue
            if isinstance(current, cst.Call):
                yield current, Context(scope=scope, statement_path=path)
            stack.extend(reversed(list(child_nodes(current))))


def _statement_path_of(module: cst.Module, target: cst.CSTNode) -> tuple[int, ...] | None:
    """The statement path (the walker's numbering) of the block that holds ``target``'s body."""

    def search(statements: object, path: tuple[int, ...]) -> tuple[int, ...] | None:
        for index, statement in enumerate(statements):  # type: ignore[arg-type]
            if statement is target:
                return (*path, index)
            found = inside(statement, (*path, index))
            if found is not None:
                return found
        return None

    def inside(node: cst.CSTNode, path: tuple[int, ...]) -> tuple[int, ...] | None:
        for child in child_nodes(node):
            if child is target:
                return path
            if isinstance(child, cst.IndentedBlock):
                found = search(child.body, path)
            elif isinstance(child, (cst.BaseCompoundStatement, cst.Else, cst.ExceptHandler)):
                found = inside(child, path)
            elif isinstance(child, (cst.Finally, cst.If)):
                found = inside(child, path)
            else:
                found = None
            if found is not None:
                return found
        return None

    return search(module.body, ())


# ---------------------------------------------------------------------------------------------
# Small syntax helpers


# Keras 2/3 ``Dense(units, activation, use_bias, kernel_initializer, bias_initializer, ...)`` and
# ``ConvND(filters, kernel_size, strides, padding, ..., activation=..., ...)``.
_DENSE = Signature(("units", "activation", "use_bias", "kernel_initializer", "bias_initializer"))
_CONV = Signature(
    ("filters", "kernel_size"),
    keyword_only=("activation", "kernel_initializer", "bias_initializer"),
)


def _activation_name(node: cst.BaseExpression | None) -> str | None:
    """``"relu"``, ``tf.nn.relu``, ``keras.activations.relu`` -> ``relu``."""
    if node is None:
        return None
    text = string_value(node)
    if text is not None:
        return text.lower()
    parts = dotted_parts(node)
    return parts[-1].lower() if parts else None


def _output_layer(path: ModelPath) -> tuple[Layer, str, int | None] | None:
    """The layer that gives ``path`` its output activation, that activation, and the units of
    the last weight layer; None when the path ends linear or in something opaque."""
    units = None
    found: tuple[Layer, str] | None = None
    for layer in reversed(path.layers):
        if layer.kind in ("dropout", "reshape"):
            continue
        if found is None:
            if layer.kind == "activation" and layer.activation is not None:
                found = (layer, layer.activation)
                continue
            if layer.kind == "weight" and layer.activation is not None:
                return layer, layer.activation, layer.units
            return None
        if layer.kind == "weight":
            units = layer.units
        break
    return (found[0], found[1], units) if found is not None else None


def _model_name(path: ModelPath, written: cst.BaseExpression) -> str:
    """A class's name, or the model object as the code writes it (``model``, ``self.net``)."""
    if isinstance(path.node, cst.ClassDef):
        return path.model
    parts = dotted_parts(written)
    return ".".join(parts) if parts else path.model


def _strip_pass_through(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``out.view(-1)`` -> ``out``; ``out.squeeze(1).float()`` -> ``out``; ``out[:, 0]`` stays."""
    while (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in _PASS_THROUGH_METHODS
    ):
        expr = expr.func.value
    return expr


def _strip_model_wrappers(expr: cst.BaseExpression, facts: FileFacts) -> cst.BaseExpression:
    """``Net().to(device)`` -> ``Net()``; ``nn.DataParallel(net)`` -> ``net``."""
    for _ in range(4):
        if not isinstance(expr, cst.Call):
            return expr
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value in _MODEL_WRAPPER_METHODS:
            expr = func.value
            continue
        parts = dotted_parts(func)
        qualname = facts.aliases.resolve(parts) if parts else None
        if qualname in _MODEL_WRAPPERS and expr.args and expr.args[0].keyword is None:
            expr = expr.args[0].value
            continue
        return expr
    return expr


def _is_scaler(node: cst.BaseExpression | None) -> bool:
    parts = dotted_parts(node) if node is not None else None
    return parts is not None and "scaler" in parts[-1].lower()


_OPTIMIZER_NAME = re.compile(r"opt", re.IGNORECASE)
_NOT_OPTIMIZER = re.compile(r"sched|lr_|warmup|env", re.IGNORECASE)


def _optimizer_of_step(site: CallSite) -> cst.BaseExpression | None:
    """The optimizer an ``x.step()`` call steps: ``optimizer.step()``, ``self.opt_g.step()``,
    ``scaler.step(optimizer)``; None for schedulers, environments and anything unclear."""
    receiver = site.receiver
    if receiver is None:
        return None
    if _is_scaler(receiver):
        args = [a for a in site.node.args if a.keyword is None and not a.star]
        return args[0].value if args else None
    parts = dotted_parts(receiver)
    if parts is None:
        return None
    last = parts[-1]
    if _OPTIMIZER_NAME.search(last) and not _NOT_OPTIMIZER.search(last):
        return receiver
    return None


def _binds(target: cst.BaseExpression | None, name: str) -> bool:
    """Whether a loop target binds ``name`` (``m`` in ``for m in ...`` or ``for n, m in ...``)."""
    if isinstance(target, cst.Name):
        return target.value == name
    if isinstance(target, (cst.Tuple, cst.List)):
        return any(_binds(element.value, name) for element in target.elements)
    return False


def _iterates_modules(iterable: cst.BaseExpression) -> bool:
    """``self.modules()``, ``model.named_modules()``, ``net.children()``."""
    return (
        isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Attribute)
        and iterable.func.attr.value in ("modules", "named_modules", "children", "named_children")
    )


def _isinstance_layer(facts: FileFacts, site: CallSite, name: str) -> tuple[str | None, bool]:
    """The layer class an enclosing ``if isinstance(name, X)`` proves (when every class in
    ``X`` is the same kind: weight layers or norms), and whether that test alone decides that
    the call runs (no other condition joined to it or nested inside it: `'fc' in n and
    isinstance(...)`, `if cfg.zero_init:` select some layers only)."""
    test, exact = _enclosing_isinstance(facts.module, site, name)
    if test is None:
        return None, False
    return _layer_class(facts, test), exact


def _layer_class(facts: FileFacts, test: cst.BaseExpression) -> str | None:
    classes = test.elements if isinstance(test, cst.Tuple) else None
    nodes = [e.value for e in classes] if classes is not None else [test]
    names = []
    for node in nodes:
        parts = dotted_parts(node)
        qualname = facts.aliases.resolve(parts) if parts else None
        if qualname is None:
            return None
        names.append(qualname)
    kinds = {layer_kind(n) for n in names}
    if len(kinds) != 1:
        return None
    return names[0]


def layer_kind(qualname: str) -> str:
    """``weight`` for Linear/Conv/Dense, ``norm`` for normalisation layers, ``other`` else."""
    last = qualname.rsplit(".", 1)[-1]
    if re.fullmatch(r"(Lazy)?(Linear|Conv(Transpose)?[123]d|Bilinear)|Dense|Conv[123]D", last):
        return "weight"
    if "Norm" in last:
        return "norm"
    return "other"


def _enclosing_isinstance(
    module: cst.Module, site: CallSite, name: str
) -> tuple[cst.BaseExpression | None, bool]:
    """The class argument of the innermost ``if isinstance(name, X):`` (or ``elif``) whose
    body holds the call, and whether it is the innermost condition and the whole test."""
    innermost = True
    for statement, block in reversed(enclosing_blocks(module, site)):
        if isinstance(statement, (cst.If, cst.Else)):
            if isinstance(statement, cst.If) and block is statement.body:
                test = _isinstance_test(statement.test, name)
                if test is not None:
                    return test, innermost and not isinstance(statement.test, cst.BooleanOperation)
            innermost = False
    return None, False


def enclosing_blocks(module: cst.Module, site: CallSite) -> list[tuple[cst.CSTNode, cst.BaseSuite]]:
    """The compound statements around a call, outermost first, each with the block of it that
    holds the call (an ``if``'s body or ``else``, a loop's body...). The statement path says
    which statement to enter at each level; which of its blocks is found by containment, since
    an ``if`` and its ``else`` share a path."""
    target = site.node
    chain: list[tuple[cst.CSTNode, cst.BaseSuite]] = []
    statements: object = module.body
    for index in site.context.statement_path:
        try:
            statement = statements[index]  # type: ignore[index]
        except (IndexError, TypeError):
            break
        if not isinstance(statement, cst.BaseCompoundStatement):
            break
        found = None
        node: cst.CSTNode | None = statement
        while isinstance(node, cst.If):  # an if/elif/else chain: one block per branch
            if _contains(node.body, target):
                found = (node, node.body)
                break
            node = node.orelse
            if isinstance(node, cst.Else):
                if _contains(node.body, target):
                    found = (node, node.body)
                break
        if found is None and not isinstance(statement, cst.If):
            for candidate in _blocks_of(statement):
                if _contains(candidate, target):
                    found = (statement, candidate)
                    break
        if found is None:
            break
        chain.append(found)
        if not isinstance(found[1], cst.IndentedBlock):
            break
        statements = found[1].body
    return chain


def _blocks_of(statement: cst.BaseCompoundStatement) -> Iterator[cst.BaseSuite]:
    yield statement.body
    for extra in ("orelse", "finalbody"):
        value = getattr(statement, extra, None)
        if value is not None and hasattr(value, "body"):
            yield value.body
    for handler in getattr(statement, "handlers", ()):
        yield handler.body


def _contains(root: cst.CSTNode, target: cst.CSTNode) -> bool:
    stack = [root]
    while stack:
        node = stack.pop()
        if node is target:
            return True
        stack.extend(child_nodes(node))
    return False


def _isinstance_test(test: cst.BaseExpression, name: str) -> cst.BaseExpression | None:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _isinstance_test(test.left, name) or _isinstance_test(test.right, name)
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "isinstance"
        and len(test.args) == 2
        and isinstance(test.args[0].value, cst.Name)
        and test.args[0].value.value == name
    ):
        return test.args[1].value
    if (
        isinstance(test, cst.Comparison)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, (cst.Is, cst.Equal))
        and isinstance(test.left, cst.Call)
        and dotted_parts(test.left.func) == ("type",)
        and test.left.args
        and isinstance(test.left.args[0].value, cst.Name)
        and test.left.args[0].value.value == name
    ):
        return test.comparisons[0].comparator
    return None


def _keras_initializer(
    node: cst.BaseExpression, site: CallSite, facts: FileFacts
) -> tuple[InitKind, float | None, float | None] | None:
    """``"zeros"``, ``initializers.Constant(-1.0)``, ``RandomNormal(stddev=1.0)``."""
    text = string_value(node)
    if text is not None:
        key = text.lower()
        if key in ("zeros", "zero"):
            return "constant", 0.0, None
        if key in ("ones", "one"):
            return "constant", 1.0, None
        return None
    if not isinstance(node, cst.Call):
        return None
    parts = dotted_parts(node.func)
    qualname = facts.aliases.resolve(parts) if parts else None
    if qualname is None or not qualname.startswith("keras.initializers."):
        return None
    name = qualname.rsplit(".", 1)[1]
    if name in ("Zeros", "zeros"):
        return "constant", 0.0, None
    if name in ("Ones", "ones"):
        return "constant", 1.0, None
    if name in ("Constant", "constant"):
        bound = bind_arguments(node, Signature(("value",)))
        value_node = bound.get("value")
        value = literal_value(value_node, site.scope, facts) if value_node is not None else None
        return ("constant", float(value), None) if value is not None else None
    if name in ("RandomNormal", "TruncatedNormal"):
        bound = bind_arguments(node, Signature(("mean", "stddev")))
        std = bound.get("stddev")
        value = literal_value(std, site.scope, facts) if std is not None else None
        return ("normal", None, abs(float(value))) if value is not None else None
    if name == "RandomUniform":
        bound = bind_arguments(node, Signature(("minval", "maxval")))
        values = []
        for key in ("minval", "maxval"):
            item = bound.get(key)
            value = literal_value(item, site.scope, facts) if item is not None else None
            if value is None:
                return None
            values.append(abs(float(value)))
        return "uniform", None, max(values)
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("cross_entropy", "crossentropy")
