"""The shared semantic layer that the single traversal fills for every extractor: scopes, what each
name and ``self.attr`` was assigned, loops, statement order and branch/mode flags of a call site,
and one way to bind a call's arguments to a signature.

Nothing here knows about a rule family: extractors (``nnlint.extractors``) read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

ScopeKind = Literal["module", "class", "function"]
LoopKind = Literal["for", "while", "comprehension"]
# How a name came to hold a value: plain ``=``, ``+=``, a list method (``layers.append(x)``),
# an annotated assignment, a walrus, a ``for`` target, a ``with ... as`` target.
AssignmentKind = Literal[
    "assign", "augassign", "append", "extend", "insert", "annassign", "walrus", "for", "with"
]


@dataclass(frozen=True)
class Loop:
    """An enclosing loop: ``for target in iterable``, ``while test`` (``iterable`` is the test),
    or a comprehension's ``for`` clause."""

    kind: LoopKind
    node: cst.CSTNode
    target: cst.BaseExpression | None
    iterable: cst.BaseExpression


@dataclass(frozen=True)
class Context:
    """Where a node sits: its scope, the loops around it (outermost first), its statement path
    (the index of the enclosing statement in each enclosing block, outermost first) and the
    branch flags the walker tracks."""

    scope: Scope
    loops: tuple[Loop, ...] = ()
    statement_path: tuple[int, ...] = ()
    # Inside ``with pytest.raises(...)`` / ``with self.assertRaises...(...)``: code that is
    # meant to fail (a test that a bad value is rejected), not code that trains a model.
    expects_error: bool = False
    # Only reached when the module is training (`if self.training: ...`, `... if
    # self.training else ...`, or after `if not self.training: return ...`).
    training_only: bool = False
    # Only reached in evaluation mode (`if not self.training: ...`, `else` of `if is_training`).
    eval_only: bool = False
    # Inside the body or ``else`` of an ``if`` (or a conditional expression) whose test the
    # walker cannot decide: the code may or may not run.
    conditional: bool = False


@dataclass(frozen=True)
class Assignment:
    """One value given to a name or attribute, in source order."""

    kind: AssignmentKind
    value: cst.BaseExpression
    node: cst.CSTNode  # the statement or call that assigns
    context: Context


@dataclass(eq=False)
class Scope:
    """A module, class or function body, with the names bound in it (params, assignments...)."""

    kind: ScopeKind
    name: str
    node: cst.CSTNode
    parent: Scope | None
    local_names: set[str] = field(default_factory=set)
    # Functions: the first parameter's name (``self`` for ordinary methods), if any.
    first_param: str | None = None
    # Functions: parameters by name (defaults and annotations are on the node).
    parameters: dict[str, cst.Param] = field(default_factory=dict)
    # Classes: base-class expressions as written; resolved after the walk.
    bases: tuple[cst.BaseExpression, ...] = ()
    # Classes: whether this is a torch ``nn.Module`` subclass (set after the walk).
    is_nn_module: bool = False
    # Classes: whether this is a Keras ``Layer``/``Model`` subclass (set after the walk).
    is_keras_layer: bool = False
    # name -> every value assigned to it in this scope, in source order (``x = ...``,
    # ``x += ...``, ``x.append(...)``, ``for x in ...``).
    assignments: dict[str, list[Assignment]] = field(default_factory=dict)
    # Classes: ``self.attr`` -> every value assigned to it in any method of the class.
    attributes: dict[str, list[Assignment]] = field(default_factory=dict)
    # Functions and classes defined directly in this scope, by name (the last one wins).
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    classes: dict[str, Scope] = field(default_factory=dict)
    # Functions: the scope of each nested function or method defined here, by name.
    function_scopes: dict[str, Scope] = field(default_factory=dict)

    @property
    def enclosing_class(self) -> Scope | None:
        """For a method (a function defined directly in a class body): that class."""
        if self.kind == "function" and self.parent is not None and self.parent.kind == "class":
            return self.parent
        return None

    def binds_locally(self, name: str) -> bool:
        """Whether ``name`` is bound by a non-module scope visible from here (Python rules:
        class bodies are not visible from the functions nested in them)."""
        scope: Scope | None = self
        first = True
        while scope is not None and scope.kind != "module":
            if (first or scope.kind == "function") and name in scope.local_names:
                return True
            first = False
            scope = scope.parent
        return False

    def lookup(self, name: str) -> tuple[Scope, list[Assignment]] | None:
        """The scope whose binding of ``name`` is visible here and its assignments, or None
        when the name is bound nowhere (an import, a builtin, a star import)."""
        scope: Scope | None = self
        first = True
        while scope is not None:
            visible = first or scope.kind in ("function", "module")
            if visible and name in scope.local_names:
                return scope, scope.assignments.get(name, [])
            first = False
            scope = scope.parent
        return None

    @property
    def in_test_function(self) -> bool:
        """Inside a ``test*`` function or method: tests pin extreme settings on purpose (that
        rate 1 zeroes the output, that a huge learning rate diverges)."""
        scope: Scope | None = self
        while scope is not None:
            if scope.kind == "function" and scope.name.startswith("test"):
                return True
            scope = scope.parent
        return False

    def method(self, name: str) -> cst.FunctionDef | None:
        """For a class: the method ``name`` defined in its body."""
        return self.functions.get(name)


@dataclass(frozen=True)
class CallSite:
    """A call whose callee's last name some extractor asked for (resolved after the walk)."""

    node: cst.Call
    callee: tuple[str, ...]  # the dotted callee as written: ("nn", "Dropout")
    context: Context
    qualname: str | None = None  # canonical qualified name, None when not resolvable
    # Assigned over an attribute of another object (`model.blocks[0].drop = nn.Dropout(0.0)`):
    # replacing a library model's layer, typically to switch its dropout off on purpose.
    replaces_attribute: bool = False
    # The target when the call is the whole right-hand side of an assignment (`x = f(...)`).
    assigned_to: cst.BaseExpression | None = None
    # The call that applies this call's result (Keras functional form `Dense(64)(x)`).
    applied_by: cst.Call | None = None
    # Source order of the call among all recorded calls of the file (pre-order).
    order: int = 0
    # A call of a function or class defined at the module level of this file, by plain name.
    local_definition: bool = False

    @property
    def scope(self) -> Scope:
        return self.context.scope

    @property
    def expects_error(self) -> bool:
        return self.context.expects_error

    @property
    def training_only(self) -> bool:
        return self.context.training_only

    @property
    def eval_only(self) -> bool:
        return self.context.eval_only

    @property
    def method_name(self) -> str:
        """The last name of the callee (``step`` for ``optimizer.step()``)."""
        return self.callee[-1]

    @property
    def receiver(self) -> cst.BaseExpression | None:
        """``optimizer`` in ``optimizer.step()``; None for a plain name call."""
        func = self.node.func
        return func.value if isinstance(func, cst.Attribute) else None


# ---------------------------------------------------------------------------------------------
# Argument binding


@dataclass(frozen=True)
class Signature:
    """The parameters of an API as far as a rule needs them: positional parameters in order,
    and keyword-only names. A rule's spec table builds one per API."""

    positional: tuple[str, ...]
    keyword_only: tuple[str, ...] = ()
    # Other keywords that mean one of the parameters (``lr`` for Keras's ``learning_rate``).
    aliases: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BoundArguments:
    """A call's arguments matched to a ``Signature``: ``values`` maps a parameter to the
    expression passed for it; ``keywords`` says which of them were passed by keyword;
    ``unknown`` is set when ``*args``/``**kwargs`` make the binding incomplete (a parameter
    missing from ``values`` may still have been passed)."""

    values: dict[str, cst.BaseExpression]
    keywords: frozenset[str]
    unknown: bool
    extra_keywords: dict[str, cst.BaseExpression]

    def get(self, name: str) -> cst.BaseExpression | None:
        return self.values.get(name)

    def passed(self, name: str) -> bool:
        """Whether ``name`` was (or, through ``*args``/``**kwargs``, may have been) passed."""
        return name in self.values or self.unknown


def bind_arguments(call: cst.Call, signature: Signature) -> BoundArguments:
    """Match ``call``'s arguments to ``signature`` the way Python would, without evaluating
    anything. Positions after a ``*args`` are unknown, and ``**kwargs`` may hold anything."""
    aliases = dict(signature.aliases)
    values: dict[str, cst.BaseExpression] = {}
    keywords: set[str] = set()
    extra: dict[str, cst.BaseExpression] = {}
    unknown = False
    index = 0
    for arg in call.args:
        if arg.star:
            unknown = True
            continue
        if arg.keyword is not None:
            name = aliases.get(arg.keyword.value, arg.keyword.value)
            if name in signature.positional or name in signature.keyword_only:
                values.setdefault(name, arg.value)
                keywords.add(name)
            else:
                extra[arg.keyword.value] = arg.value
            continue
        if unknown:
            continue
        if index < len(signature.positional):
            values.setdefault(signature.positional[index], arg.value)
        index += 1
    return BoundArguments(values, frozenset(keywords), unknown, extra)


def positional_signature(*names: str, keyword_only: Sequence[str] = ()) -> Signature:
    """Shorthand: ``positional_signature("input", "p", "training")``."""
    return Signature(tuple(names), tuple(keyword_only))
