"""The architecture family: for each model a file defines, the ordered path of layers it builds.

Sources understood (no code is imported or run; ``model_interpreter`` evaluates the code that
builds models over abstract values):

- PyTorch: ``nn.Sequential(...)`` with positional layers, an ``OrderedDict`` or ``*layers`` (a
  list built in the same function by appends, ``+=``, ``extend``, comprehensions, loops over
  ``range(N)`` or over a list of sizes), ``nn.ModuleList``/``ModuleDict`` applied in a
  ``forward`` loop, ``nn.Module`` subclasses whose ``__init__`` assigns layers and whose
  ``forward`` applies them (activations as modules, functions, tensor methods, or classes passed
  as arguments or defaults), helper functions and methods of the same file that return blocks,
  and instances of the file's own module classes inside others.
- Keras / tf.keras: ``Sequential([...])``, ``model.add(...)`` chains, the functional API
  (``x = Dense(64, activation="sigmoid")(x)`` through ``keras.Model(inputs, outputs)``),
  ``activation=`` strings and callables, ``Activation("tanh")`` layers, and ``Layer``/``Model``
  subclasses with ``call``.

Whatever comes from outside the file or from a value the code cannot know (a config, a numeric
parameter without a literal argument) is opaque or uncertain, and rules stay quiet on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import libcst as cst

from nnlint.extractors import Extractor, register_extractor
from nnlint.extractors.layers import KERAS_INPUT, KERAS_MODEL, SEQUENTIAL
from nnlint.extractors.model_interpreter import (
    BudgetExceeded,
    Frame,
    Instance,
    LocalFunction,
    ModelInterpreter,
    SeqModule,
    Tensor,
    iter_paths,
)
from nnlint.extractors.model_interpreter import _Return as _ReturnLike
from nnlint.extractors.model_interpreter import _Stop as _StopLike
from nnlint.facts import FileFacts
from nnlint.semantic import CallSite, Scope

LayerKind = Literal[
    "weight",  # Linear, Conv*, Dense, Conv*D, Embedding, ...
    "activation",  # ReLU, Sigmoid, Tanh, Softmax, GELU, ... (module, function or method)
    "norm",  # BatchNorm*, LayerNorm, GroupNorm, InstanceNorm*, RMSNorm, Keras *Normalization
    "dropout",
    "recurrent",  # LSTM, GRU, RNN and their Keras twins (gates are internal)
    "attention",
    "pooling",
    "reshape",  # Flatten, view, reshape, permute: no effect on gradient flow
    "other",  # a known layer of no interest (Identity, Upsample, ...)
    "opaque",  # something the extractor cannot see into (an imported block, an unknown call)
]
Framework = Literal["torch", "keras"]


@dataclass(frozen=True)
class Layer:
    """One step of a model's path, as written in the code."""

    kind: LayerKind
    name: str  # canonical qualified name (``torch.nn.Linear``) or the written name
    node: cst.CSTNode  # where the layer is constructed or applied
    # Activations: ``sigmoid``, ``tanh``, ``relu``, ``softmax``, ... Weight layers with a
    # fused activation (Keras ``Dense(64, activation="tanh")``): that activation.
    activation: str | None = None
    # Weight layers: the number of output units/channels when it is a literal.
    units: int | None = None
    # Where the layer is applied (``self.fc1(x)`` in ``forward``), when that is not ``node``.
    site: cst.CSTNode | None = None
    # Weight layers wrapped by ``spectral_norm``/``weight_norm``: normalized weights.
    normalized: bool = False

    @property
    def report_node(self) -> cst.CSTNode:
        """Where a finding about this layer points: its application, or its construction."""
        return self.site if self.site is not None else self.node

    @property
    def is_embedding(self) -> bool:
        return self.name.endswith((".Embedding", ".EmbeddingBag"))


@dataclass(frozen=True)
class ModelPath:
    """The ordered layers from a model's input to its output, with what the rules need to know
    about the path as a whole."""

    model: str  # class or variable name
    framework: Framework
    node: cst.CSTNode  # the class definition, the ``Sequential(...)`` call, ...
    layers: tuple[Layer, ...]
    residual: bool = False  # a skip connection (``out + identity``, concatenation) on the path
    # False when the extractor had to guess (a branch whose arms differ in layers that matter):
    # rules that need the exact sequence stay quiet.
    certain: bool = True

    @property
    def output_activation(self) -> str | None:
        """The activation applied last (after the last weight layer), if any."""
        for layer in reversed(self.layers):
            if layer.kind == "weight":
                return layer.activation
            if layer.kind == "activation":
                return layer.activation
        return None


def make_layer(
    kind: str,
    name: str,
    node: cst.CSTNode,
    activation: str | None = None,
    units: int | None = None,
) -> Layer:
    return Layer(kind, name, node, activation, units)  # type: ignore[arg-type]


_BUILDERS = SEQUENTIAL | KERAS_MODEL | KERAS_INPUT


@register_extractor
class ArchitectureExtractor(Extractor):
    family = "architecture"
    # Calls that build a model outside a module class: the functions holding them are run.
    qualnames = _BUILDERS
    method_names = frozenset({"add"})
    local_calls = True

    def __init__(self, facts: FileFacts) -> None:
        super().__init__(facts)
        self._root_scopes: dict[int, Scope] = {}
        # Calls of the file's own functions and classes: (callee name, root scope, statement).
        self._local_calls: list[tuple[str, Scope, int]] = []
        # Module-level statements (by index) that build a model.
        self._module_statements: set[int] = set()

    def on_call(self, site: CallSite) -> None:
        scope = site.scope
        # The outermost function (or the module) holding the call is where the model is built.
        while scope.parent is not None and scope.parent.kind == "function":
            scope = scope.parent
        statement = site.context.statement_path[0] if site.context.statement_path else -1
        if site.local_definition:
            self._local_calls.append((site.callee[0], scope, statement))
            return
        if site.qualname not in _BUILDERS and site.method_name == "add":
            if not _may_be_keras_add(site):
                return
        if scope.kind == "module":
            self._module_statements.add(statement)
        cls = scope.enclosing_class if scope.kind == "function" else None
        if cls is not None and _framework(cls) is not None:
            return  # methods of a model class run as part of their class
        # A method of another class (a base class from another file, a builder object): run it
        # on its own, without knowing `self`.
        self._root_scopes.setdefault(id(scope), scope)

    def finish(self) -> list[ModelPath]:
        facts = self.facts
        model_classes = [c for c in facts.classes if _framework(c) is not None]
        # A call of a model class or of a function that builds a model makes its caller a
        # builder too (`features = make_layers(CFG)`, `model = Net(depth=8)`).
        module = facts.module_scope
        builders = {
            name for name, scope in module.function_scopes.items() if id(scope) in self._root_scopes
        } | {c.name for c in model_classes if c.parent is module}
        changed = True
        while changed:  # a caller of a builder is a builder (`vgg11()` -> `_vgg()` -> `VGG`)
            changed = False
            for name, scope, statement in self._local_calls:
                if name not in builders:
                    continue
                if scope.kind == "module":
                    self._module_statements.add(statement)
                elif not (scope.enclosing_class and _framework(scope.enclosing_class)):
                    if id(scope) not in self._root_scopes:
                        self._root_scopes[id(scope)] = scope
                        if scope.parent is module:
                            builders.add(scope.name)
                            changed = True
        if self._module_statements:
            self._module_statements = _with_dependencies(module, self._module_statements)
            self._root_scopes.setdefault(id(module), module)
        if not model_classes and not self._root_scopes:
            return []
        interpreter = ModelInterpreter(
            facts.module_scope, facts.aliases, facts.module_binding_counts, make_layer, _framework
        )
        paths: list[ModelPath] = []
        try:
            for cls in model_classes:
                if cls.parent is None or cls.parent.kind != "module":
                    continue
                paths.extend(self._class_paths(interpreter, cls))
            for scope in self._root_scopes.values():
                self._run_root(interpreter, scope)
            for instance in list(interpreter.instances):
                if instance.explicit_args:
                    paths.extend(self._instance_paths(interpreter, instance))
        except (BudgetExceeded, RecursionError):
            pass
        for key, seq in interpreter.sequentials.items():
            if key in interpreter.owned_sequentials:
                continue
            try:
                tensor = interpreter.apply(seq, interpreter.fresh_tensor(), seq.origin)
            except (BudgetExceeded, RecursionError):
                break
            for out in iter_paths(tensor):
                paths.append(_path(_seq_name(seq), seq.framework, seq.origin, out))
        for node, outputs in interpreter.keras_models:
            for out in iter_paths(outputs):
                paths.append(_path("keras.Model", "keras", node, out))
        interpreter.release()
        return paths

    def _class_paths(self, interpreter: ModelInterpreter, cls: Scope) -> list[ModelPath]:
        instance = interpreter.instantiate_with_defaults(cls)
        if not isinstance(instance, Instance):
            return []
        return self._instance_paths(interpreter, instance)

    def _instance_paths(self, interpreter: ModelInterpreter, instance: Instance) -> list[ModelPath]:
        # `apply` finds `forward`/`call`, also in a same-file base class.
        out = interpreter.apply(instance, interpreter.fresh_tensor(), instance.cls.node)
        return [
            _path(instance.cls.name, instance.framework, instance.cls.node, tensor)  # type: ignore[arg-type]
            for tensor in iter_paths(out)
        ]

    def _run_root(self, interpreter: ModelInterpreter, scope: Scope) -> None:
        if isinstance(scope.node, cst.Lambda):
            # `lambda: make_model()` calls a builder: its body is one expression.
            interpreter.eval(scope.node.body, Frame({}, scope))
            return
        if scope.kind == "module" or isinstance(scope.node, cst.ClassDef):
            # Module level: the statements that build a model and those they read. A plain
            # class whose body calls a builder (`net = make_model()` as a class attribute, a
            # test's parametrize decorator): its body, run once as at import.
            body = scope.node.body  # type: ignore[attr-defined]
            if scope.kind == "module":
                body = [body[i] for i in sorted(self._module_statements) if 0 <= i < len(body)]
            try:
                interpreter.exec_block(body, Frame({}, scope))
            except (_ReturnLike, _StopLike):
                pass
            return
        if not isinstance(scope.node, cst.FunctionDef):  # pragma: no cover - no other scopes
            return
        cls = scope.enclosing_class
        owner = None
        if cls is not None and scope.first_param is not None:
            # A method of a plain class (a model builder object): give it a `self` whose
            # attributes and methods it can use.
            owner = Instance(cls, {}, cls.node, "object")
        function = LocalFunction(scope.node, scope, owner)  # type: ignore[arg-type]
        interpreter.run_function(function, [], {})


def _with_dependencies(module: Scope, statements: set[int]) -> set[int]:
    """Module-level statements to run: the builders and, transitively, the statements that
    assign the names they read (`layers = []`, `x = Dense(64)(x)`). Everything else at module
    level (large config tables, data loading) is not run; single assignments of constants are
    read lazily when a name needs them."""
    body = module.node.body  # type: ignore[attr-defined]
    wanted = set(statements)
    pending = list(statements)
    while pending:
        index = pending.pop()
        if not 0 <= index < len(body):
            continue
        for name in _names_read(body[index]):
            for assignment in module.assignments.get(name, ()):
                path = assignment.context.statement_path
                if path and path[0] < index and path[0] not in wanted:
                    wanted.add(path[0])
                    pending.append(path[0])
    return wanted


def _names_read(node: cst.CSTNode) -> set[str]:
    names: set[str] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            names.add(current.value)
        elif isinstance(current, (cst.FunctionDef, cst.ClassDef)):
            continue
        else:
            stack.extend(current.children)
    return names


def _may_be_keras_add(site: CallSite) -> bool:
    """``model.add(layer)``: one positional argument, a receiver that is a name or attribute."""
    return len(site.node.args) == 1 and site.receiver is not None


def _framework(cls: Scope) -> str | None:
    if cls.is_nn_module:
        return "torch"
    if cls.is_keras_layer:
        return "keras"
    return None


def _seq_name(seq: SeqModule) -> str:
    return "keras.Sequential" if seq.framework == "keras" else "nn.Sequential"


def _path(model: str, framework: str, node: cst.CSTNode, tensor: Tensor) -> ModelPath:
    return ModelPath(
        model=model,
        framework=framework,  # type: ignore[arg-type]
        node=node,
        layers=tensor.path,
        residual=tensor.residual,
        certain=tensor.certain,
    )
