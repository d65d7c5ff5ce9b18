"""A small abstract interpreter that reads what model code builds, without importing or running it.

It evaluates the parts of a file that build models (``__init__`` and ``forward``/``call`` of module
classes, functions that build ``nn.Sequential``/Keras models, helpers they call) over abstract
values: literals, layers, containers, instances of the file's own module classes, and symbolic
tensors that carry the path of layers applied to them. Whatever it cannot know (a config value, a
parameter without a literal default, an imported helper) becomes ``UNKNOWN`` or an opaque layer,
and the paths it touches are marked uncertain: the rules stay quiet rather than guess.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst

from nnlint.extractors.layers import (
    FRESH_TENSORS,
    FUNCTIONAL_ACTIVATIONS,
    FUNCTIONAL_KINDS,
    KERAS_ACTIVATION_STRINGS,
    KERAS_INPUT,
    KERAS_MERGES,
    KERAS_MODEL,
    METHOD_ACTIVATIONS,
    MODULE_LISTS,
    NORM_WRAPPERS,
    PASSTHROUGH_METHODS,
    SEQUENTIAL,
    TORCH_CONCAT,
    layer_info,
)
from nnlint.imports import AliasTable, dotted_parts
from nnlint.semantic import Scope

if TYPE_CHECKING:  # the data model lives in architecture.py, which imports this module
    from nnlint.extractors.architecture import Layer

MAX_LOOP_ITERATIONS = 256
# Stands for "no source node" on opaque layers made from values that have none.
_NOWHERE = cst.Name("_")
MAX_CALL_DEPTH = 12
STEP_BUDGET = 60_000


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


class BudgetExceeded(Exception):
    """The file asked for more interpretation than a lint should spend: give up on it."""


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Stop(Exception):
    """``raise``: the rest of the function does not run."""


class _Break(_Stop):
    """``break``: the loop ends."""


class _Continue(_Stop):
    """``continue``: the next iteration starts."""


# ---------------------------------------------------------------------------------------------
# Abstract values


@dataclass(frozen=True)
class Ref:
    """A name from an import, resolved to its canonical qualified name (``torch.nn.Tanh``)."""

    qualname: str


@dataclass(frozen=True)
class LocalClass:
    scope: Scope


@dataclass(frozen=True)
class LocalFunction:
    node: cst.FunctionDef
    scope: Scope  # the function's own scope
    owner: Instance | None = None  # bound method


@dataclass(frozen=True)
class PyList:
    items: tuple[Any, ...]
    is_tuple: bool = False
    certain: bool = True


@dataclass(frozen=True)
class PyDict:
    items: tuple[tuple[Any, Any], ...]
    certain: bool = True

    def get(self, key: Any) -> Any:
        for k, v in self.items:
            if k == key and not isinstance(k, _Unknown):
                return v
        return UNKNOWN


@dataclass(frozen=True)
class LayerModule:
    layer: Layer


@dataclass(frozen=True)
class SeqModule:
    """``nn.Sequential`` / ``keras.Sequential``: applies its children in order."""

    children: tuple[Any, ...]
    origin: cst.CSTNode
    framework: str
    certain: bool = True
    serial: int = 0  # one per construction: `model.add(...)` keeps it


@dataclass(frozen=True)
class ListModule:
    """``nn.ModuleList`` / ``nn.ModuleDict``: holds modules; ``forward`` decides the order."""

    children: tuple[Any, ...]
    certain: bool = True
    keys: tuple[Any, ...] | None = None  # ModuleDict: the key of each child


@dataclass(eq=False)
class Instance:
    """An instance of one of the file's own module classes."""

    cls: Scope
    attrs: dict[str, Any]
    origin: cst.CSTNode
    framework: str
    explicit_args: bool = False


@dataclass(frozen=True)
class KerasModel:
    outputs: Any  # Tensor or PyList of tensors


@dataclass(frozen=True)
class Tensor:
    """A symbolic tensor: the layers applied to it since the input it came from (``root``)."""

    root: int
    path: tuple[Layer, ...] = ()
    residual: bool = False
    certain: bool = True

    def then(self, layer: Layer) -> Tensor:
        return dataclasses.replace(self, path=(*self.path, layer))


Value = Any
_ATOMS = (int, float, str, bool, type(None))


def _is_atom(value: Value) -> bool:
    return isinstance(value, _ATOMS)


# ---------------------------------------------------------------------------------------------
# Frames


@dataclass
class Frame:
    locals: dict[str, Value]
    scope: Scope | None
    self_obj: Instance | None = None
    returns: list[Value] = field(default_factory=list)
    certain: bool = True

    def copy(self) -> Frame:
        frame = Frame(dict(self.locals), self.scope, self.self_obj, list(self.returns))
        frame.certain = self.certain
        return frame


def _join(a: Value, b: Value) -> tuple[Value, bool]:
    """Merge two values that an undecidable branch left; the bool says whether they agree in
    everything the architecture rules look at."""
    if a is b or (type(a) is type(b) and _is_atom(a) and a == b):
        return a, True
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if _same_significant(a.path, b.path):
            longer = a if len(a.path) >= len(b.path) else b
            return dataclasses.replace(longer, residual=a.residual or b.residual), True
        longer = a if len(a.path) >= len(b.path) else b
        return dataclasses.replace(longer, certain=False), False
    if isinstance(a, PyList) and isinstance(b, PyList):
        if len(a.items) == len(b.items):
            same = all(_join(x, y)[1] for x, y in zip(a.items, b.items))
            if same:
                return a, True
        longer = a if len(a.items) >= len(b.items) else b
        return dataclasses.replace(longer, certain=False), False
    if isinstance(a, SeqModule) and isinstance(b, SeqModule) and a.origin is b.origin:
        if len(a.children) == len(b.children) and all(
            _join(x, y)[1] for x, y in zip(a.children, b.children)
        ):
            return a, True
        return dataclasses.replace(a, certain=False), False
    if isinstance(a, LayerModule) and isinstance(b, LayerModule):
        same = (a.layer.kind, a.layer.name, a.layer.activation) == (
            b.layer.kind,
            b.layer.name,
            b.layer.activation,
        )
        return (a, True) if same else (UNKNOWN, False)
    return UNKNOWN, False


_SIGNIFICANT = frozenset({"weight", "activation", "norm", "recurrent", "attention", "opaque"})


def _same_significant(a: Sequence[Layer], b: Sequence[Layer]) -> bool:
    def key(path: Sequence[Layer]) -> list[tuple[str, str | None]]:
        return [(x.kind, x.activation) for x in path if x.kind in _SIGNIFICANT]

    return key(a) == key(b)


# ---------------------------------------------------------------------------------------------
# The interpreter


class ModelInterpreter:
    """Evaluates model-building code of one file. ``make_layer`` builds the data model's
    ``Layer`` (kept outside to avoid an import cycle)."""

    def __init__(
        self,
        module_scope: Scope,
        aliases: AliasTable,
        module_binding_counts: dict[str, int],
        make_layer: Callable[..., Layer],
        is_model_class: Callable[[Scope], str | None],
    ) -> None:
        self.module_scope = module_scope
        self.aliases = aliases
        self.binding_counts = module_binding_counts
        self.make_layer = make_layer
        self.model_framework = is_model_class
        self.steps = 0
        self.depth = 0
        self._globals: dict[str, Value] = {}
        self._evaluating_globals: set[str] = set()
        # Containers and models built while interpreting, by the node that creates them.
        self.sequentials: dict[int, SeqModule] = {}
        self.keras_models: list[tuple[cst.Call, Value]] = []
        self.instances: list[Instance] = []
        # Sequentials built while a class's __init__ runs belong to that class's path.
        self.in_class_init = 0
        self.owned_sequentials: set[int] = set()
        self._root = 0
        self._serial = 0
        # (class, arguments) -> the instance built (with the arguments kept alive, since the
        # key holds their ids); id(instance) -> what its forward does to a fresh input.
        self._instance_cache: dict[tuple[Any, ...], tuple[Instance, Any, Any]] = {}
        self._forward_cache: dict[int, tuple[Tensor, Value]] = {}

    def release(self) -> None:
        """Drop what the interpretation built. Instances refer to themselves (a bound method
        stored in an attribute), and those cycles would keep the syntax tree alive until a
        cyclic GC pass."""
        for instance in self.instances:
            instance.attrs.clear()
        for instance, _, _ in self._instance_cache.values():
            instance.attrs.clear()
        self.instances.clear()
        self._instance_cache.clear()
        self._forward_cache.clear()
        self.sequentials.clear()
        self.keras_models.clear()
        self._globals.clear()

    # -- budget and roots ---------------------------------------------------------------------

    def tick(self, amount: int = 1) -> None:
        self.steps += amount
        if self.steps > STEP_BUDGET:
            raise BudgetExceeded

    def fresh_tensor(self) -> Tensor:
        self._root += 1
        return Tensor(root=self._root)

    # -- names --------------------------------------------------------------------------------

    def lookup_global(self, name: str) -> Value:
        if name in self._globals:
            return self._globals[name]
        scope = self.module_scope
        value: Value = UNKNOWN
        if name in scope.classes:
            value = LocalClass(scope.classes[name])
        elif name in scope.functions and name in scope.function_scopes:
            value = LocalFunction(scope.functions[name], scope.function_scopes[name])
        elif name in self.aliases:
            qualname = self.aliases.lookup(name)
            value = Ref(qualname) if qualname else UNKNOWN
        elif name in ("range", "len", "list", "tuple", "enumerate", "zip", "reversed", "int"):
            value = Ref(f"builtins.{name}")
        elif name in ("True", "False", "None"):
            value = {"True": True, "False": False, "None": None}[name]
        else:
            assignments = scope.assignments.get(name, [])
            if (
                self.binding_counts.get(name) == 1
                and len(assignments) == 1
                and assignments[0].kind in ("assign", "annassign")
                and name not in self._evaluating_globals
            ):
                self._evaluating_globals.add(name)
                try:
                    value = self.eval(assignments[0].value, Frame({}, scope))
                    if isinstance(value, (Tensor, SeqModule, Instance)):
                        value = UNKNOWN  # a global model object is no constant
                finally:
                    self._evaluating_globals.discard(name)
        self._globals[name] = value
        return value

    def lookup(self, name: str, frame: Frame) -> Value:
        if name in frame.locals:
            return frame.locals[name]
        if frame.scope is not None and frame.scope.kind == "function":
            # A name bound in this function but not (yet) in the frame: unknown here.
            if name in frame.scope.local_names:
                return UNKNOWN
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        return self.lookup_global(name)

    # -- expressions --------------------------------------------------------------------------

    def eval(self, node: cst.BaseExpression, frame: Frame) -> Value:
        self.tick()
        handler = _EXPRESSIONS.get(type(node))
        if handler is None:
            return UNKNOWN
        return handler(self, node, frame)

    def _eval_name(self, node: cst.Name, frame: Frame) -> Value:
        return self.lookup(node.value, frame)

    def _eval_integer(self, node: cst.Integer, frame: Frame) -> Value:
        text = node.value.replace("_", "")
        try:
            return int(text, 0)
        except ValueError:
            return UNKNOWN

    def _eval_float(self, node: cst.Float, frame: Frame) -> Value:
        try:
            return float(node.value.replace("_", ""))
        except ValueError:
            return UNKNOWN

    def _eval_string(self, node: cst.SimpleString, frame: Frame) -> Value:
        # libcst's `evaluated_value` runs `ast.literal_eval`; plain literals are most of them.
        text = node.value
        quote = text[-1:]
        if text[:1] == quote and "\\" not in text and len(text) >= 2:
            if text[:3] == quote * 3:
                return text[3:-3] if len(text) >= 6 else UNKNOWN
            return text[1:-1]
        try:
            return node.evaluated_value
        except Exception:  # noqa: BLE001 - an odd literal is just unknown
            return UNKNOWN

    def _eval_attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        parts = dotted_parts(node)
        if parts is not None and ".".join(parts) in frame.locals:
            # An object stored on another object (`tf.model = keras.Sequential()`).
            return frame.locals[".".join(parts)]
        if parts is not None and parts[0] not in frame.locals and parts[0] != "self":
            head = self.lookup(parts[0], frame)
            if isinstance(head, Ref):
                return Ref(_join_name(head.qualname, parts[1:]))
        return self.member(self.eval(node.value, frame), node.attr.value)

    def member(self, base: Value, name: str) -> Value:
        """``base.name`` for an evaluated ``base``."""
        if isinstance(base, Instance):
            if name in base.attrs:
                return base.attrs[name]
            method = _find_method(base.cls, name, self)
            if method is not None:
                return LocalFunction(method[0], method[1], owner=base)
            return UNKNOWN
        if isinstance(base, Ref):
            return Ref(_join_name(base.qualname, (name,)))
        if isinstance(base, LocalClass):
            method = _find_method(base.scope, name, self)
            if method is not None:
                return LocalFunction(method[0], method[1])
        return UNKNOWN

    def _eval_sequence(self, node: cst.List | cst.Tuple, frame: Frame) -> Value:
        items: list[Value] = []
        certain = True
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                inner = self.eval(element.value, frame)
                if isinstance(inner, (PyList, SeqModule, ListModule)):
                    items.extend(_children(inner))
                    certain = certain and _certain(inner)
                else:
                    return PyList(tuple(items), isinstance(node, cst.Tuple), certain=False)
            else:
                items.append(self.eval(element.value, frame))
        return PyList(tuple(items), isinstance(node, cst.Tuple), certain)

    def _eval_dict(self, node: cst.Dict, frame: Frame) -> Value:
        items = []
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                return PyDict(tuple(items), certain=False)
            items.append((self.eval(element.key, frame), self.eval(element.value, frame)))
        return PyDict(tuple(items))

    def _eval_subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.eval(node.value, frame)
        if isinstance(base, Tensor):
            return base
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            if isinstance(base, (PyList, ListModule, SeqModule)) and len(node.slice) == 1:
                return self._slice(base, node.slice[0].slice, frame)
            return UNKNOWN
        key = self.eval(node.slice[0].slice.value, frame)
        if isinstance(base, PyDict):
            return base.get(key)
        if isinstance(base, (PyList, ListModule, SeqModule)) and isinstance(key, int):
            items = _children(base)
            if -len(items) <= key < len(items):
                return items[key]
        if isinstance(base, ListModule) and isinstance(key, str) and base.keys is not None:
            if base.certain and key in base.keys:
                return base.children[base.keys.index(key)]
        return UNKNOWN

    def _slice(self, base: Value, sl: cst.BaseSlice, frame: Frame) -> Value:
        if not isinstance(sl, cst.Slice):
            return UNKNOWN
        bounds = []
        for part in (sl.lower, sl.upper, sl.step):
            value = None if part is None else self.eval(part, frame)
            if value is not None and not isinstance(value, int):
                return UNKNOWN
            bounds.append(value)
        items = _children(base)[slice(*bounds)]
        if isinstance(base, PyList):
            return dataclasses.replace(base, items=tuple(items))
        if isinstance(base, SeqModule):
            return dataclasses.replace(base, children=tuple(items))
        return ListModule(tuple(items), _certain(base))

    def _eval_unary(self, node: cst.UnaryOperation, frame: Frame) -> Value:
        value = self.eval(node.expression, frame)
        if isinstance(node.operator, cst.Not):
            return UNKNOWN if not _is_atom(value) else not value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(node.operator, cst.Minus):
                return -value
            if isinstance(node.operator, cst.Plus):
                return value
        if isinstance(value, Tensor):
            return value
        return UNKNOWN

    def _eval_boolean(self, node: cst.BooleanOperation, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        if not _is_atom(left):
            right = self.eval(node.right, frame)
            if isinstance(node.operator, cst.Or) and left is not UNKNOWN:
                return left  # `x or default`: an object is truthy
            return UNKNOWN if left is UNKNOWN else right
        if isinstance(node.operator, cst.And):
            return self.eval(node.right, frame) if left else left
        return left if left else self.eval(node.right, frame)

    def _eval_comparison(self, node: cst.Comparison, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        result = True
        for target in node.comparisons:
            right = self.eval(target.comparator, frame)
            op = target.operator
            if isinstance(op, (cst.Is, cst.IsNot)) and (left is None or right is None):
                other = right if left is None else left
                if other is UNKNOWN:
                    return UNKNOWN
                same = other is None
                outcome = same if isinstance(op, cst.Is) else not same
            elif isinstance(op, (cst.In, cst.NotIn)):
                if not _is_atom(left) or not isinstance(right, (PyList, PyDict, str)):
                    return UNKNOWN
                if isinstance(right, PyList):
                    if not right.certain or any(not _is_atom(i) for i in right.items):
                        return UNKNOWN
                    inside = left in right.items
                elif isinstance(right, PyDict):
                    inside = any(k == left for k, _ in right.items)
                else:
                    inside = isinstance(left, str) and left in right
                outcome = inside if isinstance(op, cst.In) else not inside
            else:
                if not (_is_atom(left) and _is_atom(right)):
                    return UNKNOWN
                try:
                    outcome = _COMPARE[type(op)](left, right)
                except (KeyError, TypeError):
                    return UNKNOWN
            if not outcome:
                result = False
            left = right
        return result

    def _eval_binary(self, node: cst.BinaryOperation, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        op = type(node.operator)
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            return self._tensor_binary(node, op, left, right)
        if isinstance(left, PyList) and isinstance(right, PyList) and op is cst.Add:
            return PyList(left.items + right.items, left.is_tuple, left.certain and right.certain)
        if op is cst.Multiply:
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, PyList) and isinstance(count, int) and 0 <= count <= 512:
                    return dataclasses.replace(seq, items=seq.items * count)
        if _is_atom(left) and _is_atom(right) and left is not None and right is not None:
            try:
                return _ARITHMETIC[op](left, right)
            except (KeyError, TypeError, ZeroDivisionError, ValueError, OverflowError):
                return UNKNOWN
        return UNKNOWN

    def _tensor_binary(self, node: cst.CSTNode, op: type, left: Value, right: Value) -> Value:
        if not (isinstance(left, Tensor) and isinstance(right, Tensor)):
            return left if isinstance(left, Tensor) else right
        if op in (cst.Add, cst.Subtract):
            return merge_tensors([left, right], skip=True)
        if op is cst.Multiply:
            # Gating (`sigmoid(gate) * x`, GLU, SE blocks): the gate is a side branch.
            gated = [t for t in (left, right) if not _ends_saturating(t)]
            if len(gated) == 1:
                return gated[0]
            return merge_tensors([left, right], skip=False)
        return merge_tensors(
            [left, right], skip=False, opaque=self.make_layer("opaque", "op", node)
        )

    def _eval_ifexp(self, node: cst.IfExp, frame: Frame) -> Value:
        test = self.eval(node.test, frame)
        if _is_atom(test):
            return self.eval(node.body if test else node.orelse, frame)
        if isinstance(test, (Tensor, Instance, LayerModule, SeqModule, Ref, LocalClass)):
            return self.eval(node.body, frame)
        value, _ = _join(self.eval(node.body, frame), self.eval(node.orelse, frame))
        return value

    def _eval_comprehension(self, node: cst.ListComp | cst.GeneratorExp, frame: Frame) -> Value:
        results: list[Value] = []
        certain = True

        def run(clause: cst.CompFor, inner: Frame) -> None:
            nonlocal certain
            iterable = self.eval(clause.iter, inner)
            items = self.iterate(iterable)
            if items is None:
                certain = False
                return
            for item in items:
                self.tick()
                if not self.bind(clause.target, item, inner):
                    certain = False
                    return
                keep = True
                for condition in clause.ifs:
                    test = self.eval(condition.test, inner)
                    if not _is_atom(test):
                        certain = False
                        return
                    keep = keep and bool(test)
                if not keep:
                    continue
                if clause.inner_for_in is not None:
                    run(clause.inner_for_in, inner)
                else:
                    results.append(self.eval(node.elt, inner))

        try:
            run(node.for_in, frame.copy())
        finally:
            # `run` calls itself through its closure cell: empty the cell, or the cycle keeps
            # the interpreter (and the syntax tree) alive until a cyclic GC pass.
            run = None  # type: ignore[assignment]
        return PyList(tuple(results), certain=certain)

    def _eval_lambda(self, node: cst.Lambda, frame: Frame) -> Value:
        return UNKNOWN

    # -- calls --------------------------------------------------------------------------------

    def _eval_call(self, node: cst.Call, frame: Frame) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute):
            receiver = self.eval(func.value, frame)
            name = func.attr.value
            if isinstance(receiver, Tensor):
                return self._tensor_method(node, receiver, name)
            if name in ("values", "items", "keys") and not node.args:
                view = _dict_view(receiver, name)
                if view is not None:
                    return view
            if isinstance(receiver, (PyList, SeqModule, ListModule)) and name in _MUTATORS:
                self._mutate(node, func.value, receiver, name, frame)
                return None
            if name == "__init__" and isinstance(func.value, cst.Call):
                return self._super_init(node, frame)
            callee = self.member(receiver, name)
        else:
            callee = self.eval(func, frame)
        return self.call(callee, node, frame)

    def args(self, node: cst.Call, frame: Frame) -> tuple[list[Value], dict[str, Value], bool]:
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        complete = True
        for arg in node.args:
            if arg.star == "*":
                value = self.eval(arg.value, frame)
                if isinstance(value, PyList) and value.certain:
                    positional.extend(value.items)
                elif isinstance(value, (SeqModule, ListModule)):
                    positional.extend(value.children)
                else:
                    complete = False
            elif arg.star == "**":
                value = self.eval(arg.value, frame)
                if isinstance(value, PyDict) and value.certain:
                    keywords.update({k: v for k, v in value.items if isinstance(k, str)})
                else:
                    complete = False
            elif arg.keyword is not None:
                keywords[arg.keyword.value] = self.eval(arg.value, frame)
            else:
                positional.append(self.eval(arg.value, frame))
        return positional, keywords, complete

    def call(self, callee: Value, node: cst.Call, frame: Frame) -> Value:
        if isinstance(callee, Ref):
            return self._call_ref(callee.qualname, node, frame)
        if isinstance(callee, LocalClass):
            return self._instantiate(callee.scope, node, frame)
        if isinstance(callee, LocalFunction):
            positional, keywords, complete = self.args(node, frame)
            if not complete:
                return UNKNOWN
            return self.run_function(callee, positional, keywords)
        positional, keywords, _ = self.args(node, frame)
        tensors = [v for v in positional if isinstance(v, Tensor)]
        if isinstance(callee, (LayerModule, SeqModule, Instance, KerasModel)) and positional:
            return self.apply(callee, positional[0], node, positional[1:], keywords)
        if tensors:
            name = _callee_text(node.func)
            return merge_tensors(tensors, skip=False).then(
                self.make_layer("norm" if _looks_like_norm(name) else "opaque", name, node)
            )
        return UNKNOWN

    def apply(
        self,
        module: Value,
        inputs: Value,
        node: cst.CSTNode | None,
        rest: Sequence[Value] = (),
        keywords: dict[str, Value] | None = None,
    ) -> Value:
        """Call a module object on ``inputs`` (a tensor, or a list for merges)."""
        self.tick()
        if isinstance(module, LayerModule):
            layer = module.layer
            if layer.name in KERAS_MERGES or layer.name.endswith(".Concatenate"):
                tensors = (
                    [t for t in _children(inputs) if isinstance(t, Tensor)]
                    if isinstance(inputs, PyList)
                    else []
                )
                if tensors:
                    return merge_tensors(tensors, skip=True)
                return UNKNOWN
            if isinstance(inputs, PyList):
                tensors = [t for t in inputs.items if isinstance(t, Tensor)]
                inputs = merge_tensors(tensors, skip=False) if tensors else UNKNOWN
            if not isinstance(inputs, Tensor):
                return UNKNOWN
            applied = dataclasses.replace(layer, site=node)
            return inputs.then(applied)
        if isinstance(module, SeqModule):
            module = self.latest(module)
            value = inputs
            for child in module.children:
                # A Sequential applies its children where they are written.
                value = self.apply(child, value, None)
                if not isinstance(value, Tensor):
                    return value
            if not module.certain and isinstance(value, Tensor):
                value = dataclasses.replace(value, certain=False)
            return value
        if isinstance(module, Instance):
            if _looks_like_norm(module.cls.name) and isinstance(inputs, Tensor):
                # The file's own normalization layer (`class BatchNorm(nn.Module)`).
                return inputs.then(self.make_layer("norm", module.cls.name, node or module.origin))
            method = _find_method(module.cls, "forward", self) or _find_method(
                module.cls, "call", self
            )
            if method is None:
                if isinstance(inputs, Tensor):
                    where = node or module.origin
                    return inputs.then(self.make_layer("opaque", module.cls.name, where))
                return UNKNOWN
            forward = LocalFunction(method[0], method[1], owner=module)
            if not isinstance(inputs, Tensor) or rest or keywords:
                return self.run_function(forward, [inputs, *rest], keywords or {})
            # What forward adds to one input does not depend on the layers before it: work
            # it out once per instance and append it to every input.
            delta = self._forward_cache.get(id(module))
            if delta is None:
                start = self.fresh_tensor()
                out = self.run_function(forward, [start], {})
                delta = (start, out)
                self._forward_cache[id(module)] = delta
            start, out = delta
            if not isinstance(out, Tensor) or out.root != start.root:
                return (
                    out if not isinstance(out, Tensor) else dataclasses.replace(out, certain=False)
                )
            return Tensor(
                inputs.root,
                inputs.path + out.path,
                residual=inputs.residual or out.residual,
                certain=inputs.certain and out.certain,
            )
        if isinstance(inputs, Tensor):
            where = node or getattr(module, "origin", None) or _NOWHERE
            return inputs.then(self.make_layer("opaque", type(module).__name__, where))
        return UNKNOWN

    def _tensor_method(self, node: cst.Call, tensor: Tensor, name: str) -> Value:
        if name in METHOD_ACTIVATIONS:
            return tensor.then(self.make_layer("activation", name, node, METHOD_ACTIVATIONS[name]))
        if name in PASSTHROUGH_METHODS:
            return tensor
        if name in ("size", "dim", "numel", "item", "tolist", "numpy"):
            return UNKNOWN
        if name in ("add", "add_"):
            return dataclasses.replace(tensor, residual=True)
        return tensor.then(self.make_layer("opaque", name, node))

    def _call_ref(self, qualname: str, node: cst.Call, frame: Frame) -> Value:
        if qualname.startswith("builtins."):
            return self._builtin(qualname[9:], node, frame)
        positional, keywords, complete = self.args(node, frame)
        info = layer_info(qualname)
        if info is not None:
            return LayerModule(self._layer(qualname, info, node, positional, keywords))
        if qualname in SEQUENTIAL:
            return self._sequential(qualname, node, positional, keywords, complete)
        if qualname in MODULE_LISTS:
            items: tuple[Value, ...] = ()
            certain = complete
            if positional:
                first = positional[0]
                if isinstance(first, PyList):
                    items, certain = first.items, certain and first.certain
                elif isinstance(first, PyDict):
                    items, certain = tuple(v for _, v in first.items), certain and first.certain
                    keys = tuple(k for k, _ in first.items)
                    return ListModule(items, certain, keys)
                else:
                    certain = False
            return ListModule(items, certain, () if qualname.endswith("Dict") else None)
        if qualname in ("collections.OrderedDict", "builtins.dict"):
            if positional and isinstance(positional[0], PyList):
                pairs = [
                    (p.items[0], p.items[1])
                    for p in positional[0].items
                    if isinstance(p, PyList) and len(p.items) == 2
                ]
                return PyDict(tuple(pairs), certain=positional[0].certain)
            return PyDict((), certain=not positional)
        if qualname in KERAS_INPUT:
            return self.fresh_tensor()
        if qualname in KERAS_MODEL:
            outputs = keywords.get("outputs", positional[1] if len(positional) > 1 else UNKNOWN)
            self.keras_models.append((node, outputs))
            return KerasModel(outputs)
        if qualname in NORM_WRAPPERS:
            if positional and isinstance(positional[0], LayerModule):
                return LayerModule(dataclasses.replace(positional[0].layer, normalized=True))
            return UNKNOWN
        if qualname in KERAS_MERGES:
            # Functional forms: `layers.add([a, b])`, `layers.concatenate([a, b])`.
            if positional and isinstance(positional[0], PyList):
                tensors = [t for t in positional[0].items if isinstance(t, Tensor)]
                if tensors:
                    return merge_tensors(tensors, skip=True)
            return UNKNOWN
        tensors = [v for v in positional if isinstance(v, Tensor)]
        for value in positional:
            if isinstance(value, PyList):
                tensors.extend(t for t in value.items if isinstance(t, Tensor))
        if not tensors:
            return UNKNOWN
        if qualname in FRESH_TENSORS:
            return self.fresh_tensor()  # `torch.randn_like(x)`: new values, not x's path
        if qualname in TORCH_CONCAT:
            return merge_tensors(tensors, skip=len(tensors) > 1)
        if qualname in FUNCTIONAL_ACTIVATIONS:
            act = FUNCTIONAL_ACTIVATIONS[qualname]
            return tensors[0].then(self.make_layer("activation", qualname, node, act))
        kind = FUNCTIONAL_KINDS.get(qualname)
        if kind is not None:
            if kind == "reshape":
                return tensors[0]
            return tensors[0].then(self.make_layer(kind, qualname, node))
        return merge_tensors(tensors, skip=False).then(
            self.make_layer("norm" if _looks_like_norm(qualname) else "opaque", qualname, node)
        )

    def _builtin(self, name: str, node: cst.Call, frame: Frame) -> Value:
        positional, _, complete = self.args(node, frame)
        if not complete:
            return UNKNOWN
        if name == "range" and 1 <= len(positional) <= 3:
            if all(isinstance(v, int) and not isinstance(v, bool) for v in positional):
                values = range(*positional)
                if len(values) > MAX_LOOP_ITERATIONS * 4:
                    return UNKNOWN
                return PyList(tuple(values))
            return UNKNOWN
        if name == "len" and len(positional) == 1:
            value = positional[0]
            if isinstance(value, (PyList, ListModule, SeqModule, PyDict)) and _certain(value):
                return len(_children(value)) if not isinstance(value, PyDict) else len(value.items)
            return UNKNOWN
        if name in ("list", "tuple") and len(positional) == 1:
            value = positional[0]
            if isinstance(value, (PyList, ListModule, SeqModule)):
                return PyList(tuple(_children(value)), name == "tuple", _certain(value))
            return UNKNOWN
        if name == "reversed" and len(positional) == 1 and isinstance(positional[0], PyList):
            return dataclasses.replace(positional[0], items=tuple(reversed(positional[0].items)))
        if name == "enumerate" and len(positional) == 1:
            items = self.iterate(positional[0])
            if items is None:
                return UNKNOWN
            return PyList(tuple(PyList((i, v), True) for i, v in enumerate(items)))
        if name == "zip" and positional:
            lists = [self.iterate(v) for v in positional]
            if any(items is None for items in lists):
                return UNKNOWN
            return PyList(tuple(PyList(tuple(t), True) for t in zip(*lists)))  # type: ignore[misc]
        if name == "int" and len(positional) == 1 and isinstance(positional[0], (int, float)):
            return int(positional[0])
        return UNKNOWN

    def _layer(
        self,
        qualname: str,
        info: tuple[str, str | None],
        node: cst.Call,
        positional: list[Value],
        keywords: dict[str, Value],
    ) -> Layer:
        kind, activation = info
        if qualname.endswith(".Activation"):
            activation = _activation_name(
                positional[0] if positional else keywords.get("activation")
            )
        if kind == "weight" and qualname.startswith("keras."):
            fused = keywords.get("activation", None)
            if fused is None and qualname.endswith((".Dense",)) and len(positional) > 1:
                fused = positional[1]
            activation = _activation_name(fused) if fused is not None else None
        if qualname.endswith(".LeakyReLU"):
            slope = keywords.get("negative_slope", positional[0] if positional else 0.01)
            if slope == 0:
                activation = "relu"
        units = None
        if kind == "weight":
            first = (
                positional[1]
                if qualname.startswith("torch.") and len(positional) > 1
                else (positional[0] if positional else None)
            )
            units = first if isinstance(first, int) and not isinstance(first, bool) else None
        return self.make_layer(kind, qualname, node, activation, units)

    def _sequential(
        self,
        qualname: str,
        node: cst.Call,
        positional: list[Value],
        keywords: dict[str, Value],
        complete: bool,
    ) -> Value:
        framework = "keras" if qualname.startswith("keras") else "torch"
        certain = complete
        children: list[Value] = []
        if framework == "keras":
            layers = positional[0] if positional else keywords.get("layers")
            if isinstance(layers, PyList):
                children, certain = list(layers.items), certain and layers.certain
            elif layers is not None:
                certain = False
        elif len(positional) == 1 and isinstance(positional[0], PyDict):
            children = [v for _, v in positional[0].items]
            certain = certain and positional[0].certain
        else:
            children = list(positional)
        # `keras.Input(...)` as the first item of a Sequential only declares the input shape.
        children = [c for c in children if c is not None and not isinstance(c, Tensor)]
        if any(c is UNKNOWN for c in children):
            certain = False
        self._serial += 1
        seq = SeqModule(tuple(children), node, framework, certain, self._serial)
        self._track(seq)
        return seq

    def latest(self, value: Value) -> Value:
        """A Sequential is one mutable object: every reference sees the layers added through
        any other (`model = self.model; model.add(...)`)."""
        if isinstance(value, SeqModule):
            return self.sequentials.get(value.serial, value)
        return value

    def _track(self, seq: SeqModule) -> None:
        key = seq.serial
        self.sequentials[key] = seq
        if self.in_class_init:
            self.owned_sequentials.add(key)

    def _mutate(
        self, node: cst.Call, target: cst.BaseExpression, receiver: Value, name: str, frame: Frame
    ) -> None:
        positional, keywords, complete = self.args(node, frame)
        receiver = self.latest(receiver)
        items = list(_children(receiver))
        certain = _certain(receiver) and complete and frame.certain
        if name in ("append", "add") and positional:
            items.append(positional[0])
        elif name == "add_module" and len(positional) >= 2:
            items.append(positional[1])
        elif name == "extend" and positional:
            extra = positional[0]
            if isinstance(extra, (PyList, SeqModule, ListModule)):
                items.extend(_children(extra))
                certain = certain and _certain(extra)
            else:
                certain = False
        elif name == "insert" and len(positional) >= 2 and isinstance(positional[0], int):
            items.insert(positional[0], positional[1])
        else:
            certain = False
        if isinstance(receiver, PyList):
            new: Value = PyList(tuple(items), receiver.is_tuple, certain)
        elif isinstance(receiver, SeqModule):
            new = dataclasses.replace(receiver, children=tuple(items), certain=certain)
            self._track(new)
        else:
            new = ListModule(tuple(items), certain)
        self.assign(target, new, frame)

    def _super_init(self, node: cst.Call, frame: Frame) -> Value:
        """``super().__init__(...)``: run a same-file base class's ``__init__`` on self."""
        instance = frame.self_obj
        if instance is None:
            return None
        for base in instance.cls.bases:
            parts = dotted_parts(base)
            if parts and len(parts) == 1 and parts[0] in self.module_scope.classes:
                base_scope = self.module_scope.classes[parts[0]]
                init = _find_method(base_scope, "__init__", self)
                if init is not None and base_scope is not instance.cls:
                    positional, keywords, complete = self.args(node, frame)
                    if complete:
                        self.run_function(
                            LocalFunction(init[0], init[1], owner=instance), positional, keywords
                        )
                break
        return None

    def _instantiate(self, cls: Scope, node: cst.CSTNode, frame: Frame | None) -> Value:
        framework = self.model_framework(cls)
        if framework is None:
            return UNKNOWN
        explicit = isinstance(node, cst.Call) and bool(node.args)
        init = _find_method(cls, "__init__", self)
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        if init is not None and isinstance(node, cst.Call) and frame is not None:
            positional, keywords, complete = self.args(node, frame)
            if not complete:
                return UNKNOWN
        # The same class built with the same arguments builds the same layers (twelve
        # identical transformer blocks): build it once.
        key = _call_key(cls, positional, keywords)
        if key is not None and key in self._instance_cache:
            return self._instance_cache[key][0]
        instance = Instance(cls, {}, node, framework, explicit_args=explicit)
        if key is not None:
            self._instance_cache[key] = (instance, positional, keywords)
        if init is not None:
            self.in_class_init += 1
            try:
                self.run_function(
                    LocalFunction(init[0], init[1], owner=instance), positional, keywords
                )
            finally:
                self.in_class_init -= 1
        build = _find_method(cls, "build", self) if framework == "keras" else None
        if build is not None:
            self.in_class_init += 1
            try:
                self.run_function(LocalFunction(build[0], build[1], owner=instance), [UNKNOWN], {})
            finally:
                self.in_class_init -= 1
        self.instances.append(instance)
        return instance

    def instantiate_with_defaults(self, cls: Scope) -> Value:
        return self._instantiate(cls, cls.node, None)

    # -- functions ----------------------------------------------------------------------------

    def run_function(
        self, function: LocalFunction, positional: Sequence[Value], keywords: dict[str, Value]
    ) -> Value:
        if self.depth >= MAX_CALL_DEPTH:
            return UNKNOWN
        node = function.node
        frame = Frame({}, function.scope, function.owner)
        params = node.params
        ordered = [*params.posonly_params, *params.params]
        values = list(positional)
        if function.owner is not None and ordered:
            frame.locals[ordered[0].name.value] = function.owner
            ordered = ordered[1:]
        for param in ordered:
            name = param.name.value
            if values:
                frame.locals[name] = values.pop(0)
            elif name in keywords:
                frame.locals[name] = keywords.pop(name)
            else:
                frame.locals[name] = self.default(param, function.scope)
        for param in params.kwonly_params:
            name = param.name.value
            frame.locals[name] = (
                keywords.pop(name) if name in keywords else self.default(param, function.scope)
            )
        if isinstance(params.star_arg, cst.Param):
            frame.locals[params.star_arg.name.value] = PyList(tuple(values), True)
        if isinstance(params.star_kwarg, cst.Param):
            frame.locals[params.star_kwarg.name.value] = PyDict(tuple(keywords.items()))
        self.depth += 1
        try:
            self.exec_block(node.body, frame)
        except _Return as ret:
            frame.returns.append(ret.value)
        except _Stop:
            pass
        finally:
            self.depth -= 1
        if not frame.returns:
            return None
        value = frame.returns[0]
        for other in frame.returns[1:]:
            value, _ = _join(value, other)
        return value

    def default(self, param: cst.Param, scope: Scope) -> Value:
        """A parameter's value when the caller did not pass it: its default when that is a
        class, a function, a string, a bool or None; numbers (a depth, a width) are unknown,
        since a model is usually built with other values than the defaults."""
        if param.default is None:
            return UNKNOWN
        value = self.eval(param.default, Frame({}, scope.parent))
        if _holds_numbers(value):
            # `depth=8`, `hidden=(64, 64, 64)`: the depth comes from a parameter.
            return UNKNOWN
        return value

    # -- statements ---------------------------------------------------------------------------

    def exec_block(self, block: cst.BaseSuite | Sequence[cst.CSTNode], frame: Frame) -> None:
        if isinstance(block, cst.IndentedBlock):
            statements: Sequence[cst.CSTNode] = block.body
        elif isinstance(block, cst.SimpleStatementSuite):
            statements = block.body
        else:
            statements = block  # type: ignore[assignment]
        for statement in statements:
            self.exec_statement(statement, frame)

    def exec_statement(self, node: cst.CSTNode, frame: Frame) -> None:
        self.tick()
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self.exec_statement(small, frame)
            return
        handler = _STATEMENTS.get(type(node))
        if handler is not None:
            handler(self, node, frame)

    def _exec_assign(self, node: cst.Assign, frame: Frame) -> None:
        value = self.eval(node.value, frame)
        for target in node.targets:
            self.assign(target.target, value, frame)

    def _exec_ann_assign(self, node: cst.AnnAssign, frame: Frame) -> None:
        if node.value is not None:
            self.assign(node.target, self.eval(node.value, frame), frame)

    def _exec_aug_assign(self, node: cst.AugAssign, frame: Frame) -> None:
        current = self.eval(node.target, frame)
        value = self.eval(node.value, frame)
        op = {cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract}.get(type(node.operator))
        result: Value = UNKNOWN
        if isinstance(current, Tensor) or isinstance(value, Tensor):
            result = self._tensor_binary(node, op or cst.Multiply, current, value)
        elif op is cst.Add and isinstance(current, PyList) and isinstance(value, PyList):
            result = PyList(
                current.items + value.items,
                current.is_tuple,
                current.certain and value.certain and frame.certain,
            )
        elif (
            op is cst.Add
            and isinstance(current, (SeqModule, ListModule))
            and isinstance(value, PyList)
        ):
            result = ListModule(current.children + value.items, value.certain and frame.certain)
        elif _is_atom(current) and _is_atom(value) and op is not None:
            try:
                result = _ARITHMETIC[op](current, value)
            except (TypeError, ValueError):
                result = UNKNOWN
        self.assign(node.target, result, frame)

    def _exec_expr(self, node: cst.Expr, frame: Frame) -> None:
        self.eval(node.value, frame)

    def _exec_return(self, node: cst.Return, frame: Frame) -> None:
        raise _Return(None if node.value is None else self.eval(node.value, frame))

    def _exec_stop(self, node: cst.CSTNode, frame: Frame) -> None:
        raise _Stop

    def _exec_break(self, node: cst.CSTNode, frame: Frame) -> None:
        raise _Break

    def _exec_continue(self, node: cst.CSTNode, frame: Frame) -> None:
        raise _Continue

    def _exec_if(self, node: cst.If, frame: Frame) -> None:
        test = self.eval(node.test, frame)
        if isinstance(test, (Tensor, Instance, LayerModule, SeqModule, Ref, LocalClass)):
            test = True  # an object is truthy
        if _is_atom(test):
            if test:
                self.exec_block(node.body, frame)
            elif isinstance(node.orelse, cst.If):
                self._exec_if(node.orelse, frame)
            elif node.orelse is not None:
                self.exec_block(node.orelse.body, frame)
            return
        self._exec_both(
            lambda f: self.exec_block(node.body, f),
            lambda f: self._exec_else(node.orelse, f),
            frame,
        )

    def _exec_else(self, orelse: cst.If | cst.Else | None, frame: Frame) -> None:
        if isinstance(orelse, cst.If):
            self._exec_if(orelse, frame)
        elif orelse is not None:
            self.exec_block(orelse.body, frame)

    def _exec_both(
        self, first: Callable[[Frame], None], second: Callable[[Frame], None], frame: Frame
    ) -> None:
        """An undecidable branch: run both arms on copies and keep what they agree on."""
        outcomes: list[tuple[Frame, bool]] = []  # (frame, finished by return/raise)
        stops: list[type[_Stop]] = []
        # Containers are mutable objects: each arm starts from the same state, and the
        # states they leave are joined like the frames.
        before = dict(self.sequentials)
        after: list[dict[int, SeqModule]] = []
        for arm in (first, second):
            self.sequentials = dict(before)
            branch = frame.copy()
            finished = False
            try:
                arm(branch)
            except _Return as ret:
                branch.returns.append(ret.value)
                finished = True
                stops.append(_Stop)
            except _Stop as stop:
                finished = True
                stops.append(type(stop))
            outcomes.append((branch, finished))
            after.append(self.sequentials)
        self.sequentials = _join_sequentials(*after)
        (a, a_done), (b, b_done) = outcomes
        frame.returns = a.returns + [r for r in b.returns if r not in a.returns]
        if a_done and b_done:
            frame.locals = a.locals
            raise stops[0] if stops[0] is stops[1] else _Stop
        live = [f for f, done in outcomes if not done]
        if len(live) == 1:
            frame.locals = live[0].locals
            return
        merged: dict[str, Value] = {}
        for name in set(a.locals) | set(b.locals):
            left, right = a.locals.get(name, UNKNOWN), b.locals.get(name, UNKNOWN)
            merged[name], _ = _join(left, right)
        # (attributes an arm set were set on the shared instance: nothing to merge there)
        frame.locals = merged

    def _exec_for(self, node: cst.For, frame: Frame) -> None:
        iterable = self.eval(node.iter, frame)
        items = self.iterate(iterable)
        if items is None or len(items) > MAX_LOOP_ITERATIONS:
            # Unknown repetitions: run the body once, and nothing it builds is certain.
            saved = frame.certain
            frame.certain = False
            self.bind(node.target, UNKNOWN, frame)
            # (what the body assigns or appends is marked uncertain as it happens; values the
            # loop leaves alone, such as layers built before a weight-init loop, stay certain)
            try:
                self._run_loop_body(node.body, frame)
            finally:
                frame.certain = saved
            return
        for item in items:
            self.bind(node.target, item, frame)
            if not self._run_loop_body(node.body, frame):
                break

    def _run_loop_body(self, body: cst.BaseSuite, frame: Frame) -> bool:
        """Run one iteration; False when it ends the loop (``break``; a ``raise`` ends the
        function and propagates)."""
        try:
            self.exec_block(body, frame)
        except _Continue:
            return True
        except _Break:
            return False
        return True

    def _exec_while(self, node: cst.While, frame: Frame) -> None:
        saved = frame.certain
        frame.certain = False
        try:
            self._run_loop_body(node.body, frame)
        finally:
            frame.certain = saved

    def _exec_with(self, node: cst.With, frame: Frame) -> None:
        for item in node.items:
            value = self.eval(item.item, frame)
            if item.asname is not None:
                self.bind(item.asname.name, value, frame)
        self.exec_block(node.body, frame)

    def _exec_try(self, node: cst.Try, frame: Frame) -> None:
        self.exec_block(node.body, frame)

    def iterate(self, value: Value) -> list[Value] | None:
        if isinstance(value, (PyList, SeqModule, ListModule)) and _certain(value):
            return list(_children(value))
        if isinstance(value, PyDict) and value.certain:
            return [k for k, _ in value.items]
        return None

    # -- binding ------------------------------------------------------------------------------

    def bind(self, target: cst.BaseExpression, value: Value, frame: Frame) -> bool:
        """Bind a loop/comprehension target; False when an unpacking could not be followed."""
        if isinstance(target, (cst.Tuple, cst.List)):
            items = value.items if isinstance(value, PyList) else None
            if items is None or len(items) != len(target.elements):
                for element in target.elements:
                    self.bind(element.value, UNKNOWN, frame)
                return value is UNKNOWN
            for element, item in zip(target.elements, items):
                self.bind(element.value, item, frame)
            return True
        self.assign(target, value, frame)
        return True

    def assign(self, target: cst.BaseExpression, value: Value, frame: Frame) -> None:
        if not frame.certain and isinstance(value, (PyList, SeqModule, ListModule, Tensor)):
            value = dataclasses.replace(value, certain=False)
        if isinstance(target, cst.Name):
            frame.locals[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            self.bind(target, value, frame)
        elif (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and frame.self_obj is not None
            and frame.locals.get(target.value.value) is frame.self_obj
        ):
            frame.self_obj.attrs[target.attr.value] = value
        elif isinstance(target, cst.Attribute) and dotted_parts(target) is not None:
            frame.locals[".".join(dotted_parts(target) or ())] = value
        elif isinstance(target, cst.Subscript):
            base = self.eval(target.value, frame)
            if isinstance(base, (PyList, PyDict, ListModule)):
                # `layers[i] = ...`, `blocks["x"] = ...`: we lose track of the container.
                self.assign(target.value, dataclasses.replace(base, certain=False), frame)


def _value_key(value: Value) -> Any:
    """A hashable stand-in for an argument value (identity for objects), or None."""
    if _is_atom(value):
        return (type(value).__name__, value)
    if value is UNKNOWN:
        return ("?",)
    if isinstance(value, Ref):
        return ("ref", value.qualname)
    if isinstance(value, LocalClass):
        return ("class", id(value.scope))
    if isinstance(value, PyList):
        items = tuple(_value_key(item) for item in value.items)
        return None if None in items else ("list", value.is_tuple, value.certain, items)
    if isinstance(value, PyDict):
        pairs = tuple((_value_key(k), _value_key(v)) for k, v in value.items)
        flat = [x for pair in pairs for x in pair]
        return None if None in flat else ("dict", value.certain, pairs)
    return ("object", id(value))


def _call_key(cls: Scope, positional: Sequence[Value], keywords: dict[str, Value]) -> Any:
    args = tuple(_value_key(v) for v in positional)
    kwargs = tuple(sorted((k, _value_key(v)) for k, v in keywords.items()))
    if None in args or any(v is None for _, v in kwargs):
        return None
    return (id(cls), args, kwargs)


def _join_sequentials(a: dict[int, SeqModule], b: dict[int, SeqModule]) -> dict[int, SeqModule]:
    joined = dict(a)
    for serial, seq in b.items():
        other = joined.get(serial)
        if other is None or other is seq:
            joined[serial] = seq
            continue
        value, agree = _join(other, seq)
        joined[serial] = (
            value
            if agree
            else dataclasses.replace(
                other if len(other.children) >= len(seq.children) else seq, certain=False
            )
        )
    return joined


def _join_name(qualname: str, rest: Sequence[str]) -> str:
    from nnlint.imports import canonical_name

    return canonical_name(".".join((qualname, *rest)))


def _find_method(
    cls: Scope, name: str, interpreter: ModelInterpreter, seen: frozenset[int] = frozenset()
) -> tuple[cst.FunctionDef, Scope] | None:
    """A method of ``cls`` or of a same-file base class."""
    if name in cls.functions and name in cls.function_scopes:
        return cls.functions[name], cls.function_scopes[name]
    for base in cls.bases:
        parts = dotted_parts(base)
        if parts and len(parts) == 1 and parts[0] in interpreter.module_scope.classes:
            base_scope = interpreter.module_scope.classes[parts[0]]
            if id(base_scope) not in seen and base_scope is not cls:
                found = _find_method(base_scope, name, interpreter, seen | {id(cls)})
                if found is not None:
                    return found
    return None


def _children(value: Value) -> tuple[Value, ...]:
    if isinstance(value, PyList):
        return value.items
    if isinstance(value, (SeqModule, ListModule)):
        return value.children
    if isinstance(value, PyDict):
        return tuple(v for _, v in value.items)
    return ()


def _certain(value: Value) -> bool:
    return bool(getattr(value, "certain", True))


def _ends_saturating(tensor: Tensor) -> bool:
    from nnlint.extractors.layers import SATURATING

    for layer in reversed(tensor.path):
        if layer.kind == "activation":
            return layer.activation in SATURATING or layer.activation == "softmax"
        if layer.kind not in ("reshape", "dropout"):
            return False
    return False


def merge_tensors(tensors: Sequence[Tensor], *, skip: bool, opaque: Layer | None = None) -> Tensor:
    """Tensors combined by ``+``, concatenation or an unknown op. Two tensors from the same input
    that went through different layers, merged by ``+``/concatenation, make a skip connection
    (ResNet, DenseNet, U-Net): the path keeps the longest branch and says it has a residual.
    (``x + noise`` or ``x + x`` skips nothing.)"""
    longest = max(tensors, key=lambda t: len(t.path))
    residual = any(t.residual for t in tensors) or (skip and _skips(tensors))
    certain = all(t.certain for t in tensors)
    merged = dataclasses.replace(longest, residual=residual, certain=certain)
    return merged.then(opaque) if opaque is not None else merged


def _holds_numbers(value: Value) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    if isinstance(value, PyList):
        return any(_holds_numbers(item) for item in value.items)
    if isinstance(value, PyDict):
        return any(_holds_numbers(v) for _, v in value.items)
    return False


def _skips(tensors: Sequence[Tensor]) -> bool:
    for i, a in enumerate(tensors):
        for b in tensors[i + 1 :]:
            if a.root == b.root and a.path != b.path:
                return True
    return False


def _dict_view(value: Value, name: str) -> Value:
    """``d.values()``, ``d.items()``, ``d.keys()`` of a dict or an ``nn.ModuleDict``."""
    if isinstance(value, PyDict):
        pairs = list(value.items)
        certain = value.certain
    elif isinstance(value, ListModule) and value.keys is not None:
        pairs = list(zip(value.keys, value.children))
        certain = value.certain
    else:
        return None
    if name == "keys":
        items: tuple[Value, ...] = tuple(k for k, _ in pairs)
    elif name == "values":
        items = tuple(v for _, v in pairs)
    else:
        items = tuple(PyList((k, v), True) for k, v in pairs)
    return PyList(items, certain=certain)


def _callee_text(node: cst.BaseExpression) -> str:
    parts = dotted_parts(node)
    if parts:
        return ".".join(parts)
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return "call"


def _looks_like_norm(name: str) -> bool:
    last = name.rsplit(".", 1)[-1].lower()
    return "norm" in last or last in ("bn", "ln", "gn")


def _activation_name(value: Value) -> str | None:
    """A Keras ``activation=`` value: a string, ``keras.activations.x``, ``tf.nn.x``."""
    if isinstance(value, str):
        return KERAS_ACTIVATION_STRINGS.get(value.lower(), "unknown")
    if isinstance(value, Ref):
        return FUNCTIONAL_ACTIVATIONS.get(value.qualname, "unknown")
    if value is None:
        return None
    return "unknown"


_MUTATORS = frozenset({"append", "extend", "insert", "add", "add_module"})

_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    cst.Equal: lambda a, b: a == b,
    cst.NotEqual: lambda a, b: a != b,
    cst.LessThan: lambda a, b: a < b,
    cst.LessThanEqual: lambda a, b: a <= b,
    cst.GreaterThan: lambda a, b: a > b,
    cst.GreaterThanEqual: lambda a, b: a >= b,
    cst.Is: lambda a, b: a is b,
    cst.IsNot: lambda a, b: a is not b,
}


def _bounded_pow(a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)) and abs(b) > 64:
        raise ValueError("exponent too large")
    return a**b


_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    cst.Add: lambda a, b: a + b,
    cst.Subtract: lambda a, b: a - b,
    cst.Multiply: lambda a, b: (
        a * b if not isinstance(a, str) and not isinstance(b, str) else a * b
    ),
    cst.Divide: lambda a, b: a / b,
    cst.FloorDivide: lambda a, b: a // b,
    cst.Modulo: lambda a, b: a % b if not isinstance(a, str) else UNKNOWN,
    cst.Power: _bounded_pow,
}

_EXPRESSIONS: dict[type, Callable[[ModelInterpreter, Any, Frame], Value]] = {
    cst.Name: ModelInterpreter._eval_name,
    cst.Integer: ModelInterpreter._eval_integer,
    cst.Float: ModelInterpreter._eval_float,
    cst.SimpleString: ModelInterpreter._eval_string,
    cst.Attribute: ModelInterpreter._eval_attribute,
    cst.List: ModelInterpreter._eval_sequence,
    cst.Tuple: ModelInterpreter._eval_sequence,
    cst.Dict: ModelInterpreter._eval_dict,
    cst.Subscript: ModelInterpreter._eval_subscript,
    cst.UnaryOperation: ModelInterpreter._eval_unary,
    cst.BooleanOperation: ModelInterpreter._eval_boolean,
    cst.Comparison: ModelInterpreter._eval_comparison,
    cst.BinaryOperation: ModelInterpreter._eval_binary,
    cst.IfExp: ModelInterpreter._eval_ifexp,
    cst.ListComp: ModelInterpreter._eval_comprehension,
    cst.GeneratorExp: ModelInterpreter._eval_comprehension,
    cst.Lambda: ModelInterpreter._eval_lambda,
    cst.Call: ModelInterpreter._eval_call,
}

_STATEMENTS: dict[type, Callable[[ModelInterpreter, Any, Frame], None]] = {
    cst.Assign: ModelInterpreter._exec_assign,
    cst.AnnAssign: ModelInterpreter._exec_ann_assign,
    cst.AugAssign: ModelInterpreter._exec_aug_assign,
    cst.Expr: ModelInterpreter._exec_expr,
    cst.Return: ModelInterpreter._exec_return,
    cst.Raise: ModelInterpreter._exec_stop,
    cst.Break: ModelInterpreter._exec_break,
    cst.Continue: ModelInterpreter._exec_continue,
    cst.If: ModelInterpreter._exec_if,
    cst.For: ModelInterpreter._exec_for,
    cst.While: ModelInterpreter._exec_while,
    cst.With: ModelInterpreter._exec_with,
    cst.Try: ModelInterpreter._exec_try,
}


def iter_paths(value: Value) -> Iterator[Tensor]:
    """The tensors a forward returned (a tensor, or a tuple/list/dict of them)."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, PyList):
        for item in value.items:
            yield from iter_paths(item)
    elif isinstance(value, PyDict):
        for _, item in value.items:
            yield from iter_paths(item)


__all__ = [
    "UNKNOWN",
    "BudgetExceeded",
    "Instance",
    "ModelInterpreter",
    "SeqModule",
    "Tensor",
    "iter_paths",
]
