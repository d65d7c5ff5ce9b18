"""The single traversal: one walk over a parsed module that fills the shared semantic layer
(scopes, assignments, loops, statement order, branch flags) and records the calls that the
registered extractors asked for; the extractors then turn them into ``FileFacts``.

It descends only into fields that can hold code (never whitespace, comments or string literals) and
tracks scopes and imports itself instead of resolving libcst metadata. It names no rule family.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import libcst as cst

from nnlint.extractors import DispatchTable, dispatch_table
from nnlint.facts import FileFacts, Number, number_literal
from nnlint.imports import AliasTable, dotted_parts
from nnlint.semantic import Assignment, AssignmentKind, CallSite, Context, Loop, Scope

T = TypeVar("T")

# Field names that only ever hold whitespace, punctuation or operators.
_SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "trailing_whitespace",
        "newline",
        "equal",
        "colon",
        "dot",
        "star",
        "operator",
        "asynchronous",
        "walrus",
        "arrow",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "first_comma",
        "second_comma",
    }
)

# Node types with nothing a rule could care about below them.
_LEAF_TYPES: tuple[type[cst.CSTNode], ...] = (
    cst.Name,
    cst.Integer,
    cst.Float,
    cst.Imaginary,
    cst.SimpleString,
    cst.ConcatenatedString,
    cst.FormattedString,
    cst.Ellipsis,
    cst.Pass,
    cst.Break,
    cst.Continue,
    cst.Comment,
    cst.EmptyLine,
    cst.Newline,
    cst.TrailingWhitespace,
    cst.SimpleWhitespace,
    cst.ParenthesizedWhitespace,
)

# Canonical base classes (beyond ``torch.nn.*`` classes) that make a class an nn.Module.
_MODULE_BASES = frozenset(
    {
        "torch.nn.Module",
        "torch.jit.ScriptModule",
        "pytorch_lightning.LightningModule",
        "lightning.LightningModule",
        "lightning.pytorch.LightningModule",
        "pytorch_lightning.core.LightningModule",
    }
)

# Keras base classes whose subclasses implement `call(self, inputs, training=None)`.
_KERAS_BASES = frozenset(
    {
        "keras.Layer",
        "keras.Model",
        "keras.Sequential",
        "keras.layers.Layer",
        "keras.models.Model",
        "keras.models.Sequential",
    }
)


def _is_torch_module_base(qualname: str) -> bool:
    """``torch.nn.Module`` and the other ``torch.nn`` classes, Lightning modules."""
    return qualname in _MODULE_BASES or (
        qualname.startswith("torch.nn.")
        and qualname.count(".") == 2
        and qualname.rsplit(".", 1)[1][:1].isupper()
    )


def _is_keras_layer_base(qualname: str) -> bool:
    """``keras.layers.Layer``, ``keras.Model`` and the built-in Keras layer classes."""
    return qualname in _KERAS_BASES or (
        qualname.startswith("keras.layers.")
        and qualname.count(".") == 2
        and qualname.rsplit(".", 1)[1][:1].isupper()
    )


_child_fields_cache: dict[type, tuple[str, ...]] = {}


def _child_fields(node_type: type) -> tuple[str, ...]:
    fields = _child_fields_cache.get(node_type)
    if fields is None:
        fields = tuple(
            f.name
            for f in dataclasses.fields(node_type)
            if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace")
        )
        _child_fields_cache[node_type] = fields
    return fields


def child_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The children of ``node`` that can hold code, by the walker's cached field table (for
    extractors that scan a subtree; ``CSTNode.children`` runs a visitor on every call)."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def _iter_target_names(target: cst.BaseExpression) -> Iterator[str]:
    """Names bound by an assignment target (``a``, ``a, (b, *c)``); attributes bind nothing."""
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _iter_target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _iter_target_names(target.value)


_LIST_METHODS: dict[str, AssignmentKind] = {
    "append": "append",
    "extend": "extend",
    "insert": "insert",
}


class FactCollector:
    """Walks one module once and returns its ``FileFacts``."""

    def __init__(self, dispatch: DispatchTable | None = None) -> None:
        self._table = dispatch or dispatch_table()
        self._aliases = AliasTable()
        self._calls: list[CallSite] = []
        self._classes: list[Scope] = []
        self._module_binding_counts: dict[str, int] = {}
        self._module_literals: dict[str, Number] = {}
        self._dispatch: set[str] = set(self._table.last_names)
        self._scope: Scope
        self._module: Scope
        self._expecting_error = 0  # depth of enclosing `with pytest.raises(...)` blocks
        # Depths of enclosing branches that run only in training / only in evaluation.
        self._training_only = 0
        self._eval_only = 0
        self._conditional = 0  # depth of enclosing branches the walker cannot decide
        self._loops: list[Loop] = []
        self._statement_path: list[int] = []
        # Calls assigned over an attribute of another object (`model.head.drop = nn.Dropout(0)`).
        self._replacing: set[int] = set()
        # id(value) -> target, for calls that are the whole right-hand side of an assignment.
        self._assigned: dict[int, cst.BaseExpression] = {}
        # id(inner call) -> outer call, for `Dense(64)(x)`.
        self._applied: dict[int, cst.Call] = {}
        self._handlers: dict[type, Callable[[Any], None]] = {
            cst.Call: self._visit_call,
            cst.Arg: self._visit_arg,
            cst.Import: self._visit_import,
            cst.ImportFrom: self._visit_import_from,
            cst.FunctionDef: self._visit_function,
            cst.ClassDef: self._visit_class,
            cst.Lambda: self._visit_lambda,
            cst.Assign: self._visit_assign,
            cst.AnnAssign: self._visit_ann_assign,
            cst.AugAssign: self._visit_aug_assign,
            cst.For: self._visit_for,
            cst.While: self._visit_while,
            cst.ListComp: self._visit_comprehension,
            cst.SetComp: self._visit_comprehension,
            cst.GeneratorExp: self._visit_comprehension,
            cst.DictComp: self._visit_comprehension,
            cst.With: self._visit_with,
            cst.If: self._visit_if,
            cst.IfExp: self._visit_if,
            cst.IndentedBlock: self._visit_block,
            cst.Expr: self._visit_expr,
            cst.WithItem: self._visit_with_item,
            cst.ExceptHandler: self._visit_except_handler,
            cst.NamedExpr: self._visit_named_expr,
            cst.Global: self._visit_global,
            cst.Nonlocal: self._visit_global,
        }
        for leaf in _LEAF_TYPES:
            self._handlers[leaf] = self._skip

    # -- driver -----------------------------------------------------------------------------

    def collect(self, module: cst.Module) -> FileFacts:
        self._scope = Scope("module", "<module>", module, None)
        module_scope = self._module = self._scope
        self._walk_statements(module.body)
        facts = FileFacts(module=module, aliases=self._aliases, module_scope=module_scope)
        facts.constants = {
            name: value
            for name, value in self._module_literals.items()
            if self._module_binding_counts.get(name) == 1
        }
        facts.module_binding_counts = self._module_binding_counts
        facts.classes = self._classes
        self._resolve_classes()
        known = self._table.qualnames
        for site in self._calls:
            qualname = None
            if not site.scope.binds_locally(site.callee[0]):
                qualname = self._aliases.resolve(site.callee, known)
            facts.calls.append(dataclasses.replace(site, qualname=qualname))
        extractors = [cls(facts) for cls in self._table.extractors]
        for site in facts.calls:
            for extractor in extractors:
                if (
                    site.qualname in extractor.qualnames
                    or site.method_name in extractor.method_names
                    or (site.local_definition and extractor.local_calls)
                ):
                    extractor.on_call(site)
        for extractor in extractors:
            facts.families[extractor.family] = extractor.finish()
        facts.extractors = extractors
        return facts

    def context(self) -> Context:
        """A snapshot of where the walk is now (for extractors and assignments)."""
        return Context(
            scope=self._scope,
            loops=tuple(self._loops),
            statement_path=tuple(self._statement_path),
            expects_error=self._expecting_error > 0,
            training_only=self._training_only > 0,
            eval_only=self._eval_only > 0,
            conditional=self._conditional > 0,
        )

    def _walk(self, node: cst.CSTNode) -> None:
        handler = self._handlers.get(type(node))
        if handler is not None:
            handler(node)
            return
        self._walk_children(node)

    def _walk_children(self, node: cst.CSTNode) -> None:
        walk = self._walk
        for child in child_nodes(node):
            walk(child)

    def _walk_statements(self, statements: Any) -> None:
        """Walk a block's statements, keeping the statement path; `if not self.training:
        return x` makes the rest of the block training-only."""
        training = evaluating = 0
        self._statement_path.append(0)
        try:
            for index, statement in enumerate(statements):
                self._statement_path[-1] = index
                self._walk(statement)
                if (
                    isinstance(statement, cst.If)
                    and statement.orelse is None
                    and _always_exits(statement.body)
                ):
                    step_t = _proves_mode(statement.test, False, training=True)
                    step_e = _proves_mode(statement.test, False, training=False)
                    training += step_t
                    evaluating += step_e
                    self._training_only += step_t
                    self._eval_only += step_e
        finally:
            self._statement_path.pop()
            self._training_only -= training
            self._eval_only -= evaluating

    def _skip(self, node: cst.CSTNode) -> None:
        return None

    # -- bindings ---------------------------------------------------------------------------

    def _bind(self, name: str, scope: Scope | None = None) -> None:
        scope = scope or self._scope
        scope.local_names.add(name)
        if scope.kind == "module":
            self._module_binding_counts[name] = self._module_binding_counts.get(name, 0) + 1

    def _bind_target(self, target: cst.BaseExpression) -> None:
        for name in _iter_target_names(target):
            self._bind(name)

    def _record(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression,
        kind: AssignmentKind,
        node: cst.CSTNode,
    ) -> None:
        """Remember that ``target`` (a name or ``self.attr``) was given ``value``."""
        if isinstance(target, (cst.Tuple, cst.List)):
            values = value.elements if isinstance(value, (cst.Tuple, cst.List)) else None
            if values is not None and len(values) == len(target.elements) and kind == "assign":
                for element, item in zip(target.elements, values):
                    if not isinstance(element, cst.StarredElement):
                        self._record(element.value, item.value, kind, node)
            return
        if isinstance(target, cst.Name):
            table = self._scope.assignments
            if kind in _LIST_METHODS.values():
                found = self._scope.lookup(target.value)
                if found is None:
                    return
                table = found[0].assignments
            table.setdefault(target.value, []).append(Assignment(kind, value, node, self.context()))
            return
        attribute = self._self_attribute(target)
        if attribute is not None:
            cls = self._scope.enclosing_class
            assert cls is not None
            cls.attributes.setdefault(attribute, []).append(
                Assignment(kind, value, node, self.context())
            )

    def _self_attribute(self, target: cst.BaseExpression) -> str | None:
        """``attr`` for ``self.attr`` inside a method whose first parameter is ``self``."""
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and self._scope.first_param is not None
            and target.value.value == self._scope.first_param
            and self._scope.enclosing_class is not None
        ):
            return target.attr.value
        return None

    # -- handlers ---------------------------------------------------------------------------

    def _visit_call(self, node: cst.Call) -> None:
        func = node.func
        last = (
            func.value
            if isinstance(func, cst.Name)
            else func.attr.value
            if isinstance(func, cst.Attribute)
            else None
        )
        local = (
            self._table.local_calls
            and isinstance(func, cst.Name)
            and (func.value in self._module.functions or func.value in self._module.classes)
            and not self._scope.binds_locally(func.value)
        )
        if last is not None and (local or last in self._dispatch):
            parts = dotted_parts(func)
            if parts is None and isinstance(func, cst.Attribute):
                # `x.view(...).sigmoid()`, `self.layers[0].step()`: the receiver is no name.
                parts = ("<expr>", func.attr.value)
            if parts is not None:
                key = id(node)
                self._calls.append(
                    CallSite(
                        node,
                        parts,
                        self.context(),
                        replaces_attribute=key in self._replacing,
                        assigned_to=self._assigned.get(key),
                        applied_by=self._applied.get(key),
                        order=len(self._calls),
                        local_definition=bool(local),
                    )
                )
        if isinstance(func, cst.Call):
            self._applied[id(func)] = node
        self._walk(func)
        if last in _MODE_BRANCH_CALLS and self._walk_mode_branches(node, last):
            return
        for arg in node.args:
            self._walk(arg.value)

    def _walk_mode_branches(self, node: cst.Call, last: str) -> bool:
        """``tf.cond(is_training, train_fn, eval_fn)``, ``smart_cond(...)`` and Keras
        ``in_train_phase(x, alt)``: walk each branch in the mode it runs in. False when the
        callee is not one of them (the caller walks the arguments then)."""
        parts = dotted_parts(node.func)
        qualname = self._aliases.resolve(parts) if parts else None
        if qualname is None or not qualname.startswith(("tensorflow.", "keras.")):
            return False
        positional = [arg.value for arg in node.args if arg.keyword is None and not arg.star]
        keywords = {arg.keyword.value: arg.value for arg in node.args if arg.keyword is not None}
        if any(arg.star for arg in node.args):
            return False
        if last == "in_train_phase":
            slots = ("x", "alt", "training")
            named = {
                s: keywords.get(s, positional[i] if i < len(positional) else None)
                for i, s in enumerate(slots)
            }
            self._walk_in_mode(named["x"], True, False)
            self._walk_in_mode(named["alt"], False, True)
            if named["training"] is not None:
                self._walk(named["training"])
            return True
        slots = ("pred", "true_fn", "false_fn")
        named = {
            s: keywords.get(s, positional[i] if i < len(positional) else None)
            for i, s in enumerate(slots)
        }
        pred = named["pred"]
        if pred is None:
            return False
        self._walk(pred)
        self._walk_guarded(named["true_fn"], pred, True)
        self._walk_guarded(named["false_fn"], pred, False)
        for arg in node.args:  # `name=`, `strict=` and the like
            if arg.keyword is not None and arg.keyword.value not in slots:
                self._walk(arg.value)
        return True

    def _visit_arg(self, node: cst.Arg) -> None:
        self._walk(node.value)

    def _note_import_bindings(self, bound: list[str]) -> None:
        for local in bound:
            # Imports resolve through the alias table, wherever they are; they still make a
            # module name no constant.
            if self._scope.kind == "module":
                self._bind(local)
            target = self._aliases.lookup(local)
            if target and target in self._table.qualnames:
                self._dispatch.add(local)

    def _visit_import(self, node: cst.Import) -> None:
        self._note_import_bindings(self._aliases.add_import(node))

    def _visit_import_from(self, node: cst.ImportFrom) -> None:
        self._note_import_bindings(self._aliases.add_import_from(node))

    def _visit_parameters(self, params: cst.Parameters, scope: Scope) -> None:
        """Walk defaults/annotations in the current scope, bind the names in ``scope``."""
        ordered = [*params.posonly_params, *params.params]
        if ordered:
            scope.first_param = ordered[0].name.value
        everything = [*ordered, *params.kwonly_params]
        for extra in (params.star_arg, params.star_kwarg):
            if isinstance(extra, cst.Param):
                everything.append(extra)
        for param in everything:
            scope.local_names.add(param.name.value)
            scope.parameters[param.name.value] = param
            if param.default is not None:
                self._walk(param.default)
            if param.annotation is not None:
                self._walk(param.annotation.annotation)

    def _visit_function(self, node: cst.FunctionDef) -> None:
        self._bind(node.name.value)
        for decorator in node.decorators:
            self._walk(decorator.decorator)
        scope = Scope("function", node.name.value, node, self._scope)
        self._scope.functions[node.name.value] = node
        self._scope.function_scopes[node.name.value] = scope
        self._visit_parameters(node.params, scope)
        if node.returns is not None:
            self._walk(node.returns.annotation)
        outer, self._scope = self._scope, scope
        loops, self._loops = self._loops, []
        try:
            self._walk(node.body)
        finally:
            self._scope = outer
            self._loops = loops

    def _visit_lambda(self, node: cst.Lambda) -> None:
        scope = Scope("function", "<lambda>", node, self._scope)
        self._visit_parameters(node.params, scope)
        outer, self._scope = self._scope, scope
        try:
            self._walk(node.body)
        finally:
            self._scope = outer

    def _visit_class(self, node: cst.ClassDef) -> None:
        self._bind(node.name.value)
        for decorator in node.decorators:
            self._walk(decorator.decorator)
        for arg in (*node.bases, *node.keywords):
            self._walk(arg.value)
        bases = tuple(arg.value for arg in node.bases if arg.keyword is None and not arg.star)
        scope = Scope("class", node.name.value, node, self._scope, bases=bases)
        self._classes.append(scope)
        self._scope.classes[node.name.value] = scope
        outer, self._scope = self._scope, scope
        try:
            self._walk(node.body)
        finally:
            self._scope = outer

    def _visit_assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind_target(target.target)
            self._walk(target.target)
            self._record(target.target, node.value, "assign", node)
        if len(node.targets) == 1:
            self._assigned[id(node.value)] = node.targets[0].target
        if isinstance(node.value, cst.Call) and any(
            _replaces_inner_attribute(t.target) for t in node.targets
        ):
            self._replacing.add(id(node.value))
        if self._scope.kind == "module" and len(node.targets) == 1:
            target = node.targets[0].target
            value = number_literal(node.value)
            if isinstance(target, cst.Name) and value is not None:
                self._module_literals[target.value] = value
        self._walk(node.value)

    def _visit_ann_assign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind_target(node.target)
            self._record(node.target, node.value, "annassign", node)
            self._assigned[id(node.value)] = node.target
            value = number_literal(node.value)
            if (
                self._scope.kind == "module"
                and isinstance(node.target, cst.Name)
                and value is not None
            ):
                self._module_literals[node.target.value] = value
            self._walk(node.value)
        self._walk(node.target)
        self._walk(node.annotation.annotation)

    def _visit_aug_assign(self, node: cst.AugAssign) -> None:
        self._bind_target(node.target)
        self._record(node.target, node.value, "augassign", node)
        self._walk(node.target)
        self._walk(node.value)

    def _visit_for(self, node: cst.For) -> None:
        self._walk(node.iter)
        self._bind_target(node.target)
        self._record(node.target, node.iter, "for", node)
        self._walk_loop(Loop("for", node, node.target, node.iter), node.body, node.orelse)

    def _visit_while(self, node: cst.While) -> None:
        self._walk(node.test)
        self._walk_loop(Loop("while", node, None, node.test), node.body, node.orelse)

    def _walk_loop(self, loop: Loop, body: cst.BaseSuite, orelse: cst.Else | None) -> None:
        """A loop's body inside ``loop``; its ``else`` runs once, outside it."""
        self._loops.append(loop)
        try:
            self._walk(body)
        finally:
            self._loops.pop()
        if orelse is not None:
            self._walk(orelse)

    def _visit_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
    ) -> None:
        """The ``for`` clauses first (each iterable in the loops outside it), then the element
        inside every clause's loop."""
        clause: cst.CompFor | None = node.for_in
        pushed = 0
        try:
            while clause is not None:
                self._walk(clause.iter)
                self._bind_target(clause.target)
                self._loops.append(Loop("comprehension", clause, clause.target, clause.iter))
                pushed += 1
                for condition in clause.ifs:
                    self._walk(condition.test)
                clause = clause.inner_for_in
            if isinstance(node, cst.DictComp):
                self._walk(node.key)
                self._walk(node.value)
            else:
                self._walk(node.elt)
        finally:
            del self._loops[len(self._loops) - pushed :]

    def _walk_guarded(self, node: cst.CSTNode | None, test: cst.BaseExpression, when: bool) -> None:
        """Walk a branch that runs when ``test`` is truthy (``when``) or falsy."""
        if when and _is_main_guard(test):
            # `if __name__ == "__main__":` is how a script runs: not a condition on the code.
            if node is not None:
                self._walk(node)
            return
        training = _proves_mode(test, when, training=True)
        evaluating = _proves_mode(test, when, training=False)
        self._walk_in_mode(node, training, evaluating)

    def _walk_in_mode(self, node: cst.CSTNode | None, training: bool, evaluating: bool) -> None:
        """Walk code known to run only in training and/or only in evaluation mode (a branch:
        the code may not run at all)."""
        if node is None:
            return
        self._training_only += training
        self._eval_only += evaluating
        self._conditional += 1
        try:
            self._walk(node)
        finally:
            self._training_only -= training
            self._eval_only -= evaluating
            self._conditional -= 1

    def _visit_if(self, node: cst.If | cst.IfExp) -> None:
        self._walk(node.test)
        self._walk_guarded(node.body, node.test, True)
        self._walk_guarded(node.orelse, node.test, False)

    def _visit_block(self, node: cst.IndentedBlock) -> None:
        self._walk_statements(node.body)

    def _visit_expr(self, node: cst.Expr) -> None:
        """``layers.append(x)``, ``self.blocks.extend(xs)``: list building is an assignment."""
        value = node.value
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in _LIST_METHODS
            and value.args
        ):
            kind = _LIST_METHODS[value.func.attr.value]
            item = value.args[-1] if kind == "insert" else value.args[0]
            if not item.star and item.keyword is None:
                self._record(value.func.value, item.value, kind, value)
        self._walk(value)

    def _visit_with(self, node: cst.With) -> None:
        for item in node.items:
            self._walk(item)
        expects_error = any(self._is_expected_error_context(item.item) for item in node.items)
        self._expecting_error += expects_error
        try:
            self._walk(node.body)
        finally:
            self._expecting_error -= expects_error

    def _is_expected_error_context(self, expr: cst.BaseExpression) -> bool:
        """``pytest.raises(...)`` (through any alias) or a unittest ``self.assertRaises*(...)``."""
        if not isinstance(expr, cst.Call):
            return False
        parts = dotted_parts(expr.func)
        if parts is None:
            return False
        if parts[-1].startswith("assertRaises") and len(parts) > 1:
            return True
        return self._aliases.resolve(parts) == "pytest.raises"

    def _visit_with_item(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind_target(node.asname.name)
            self._record(node.asname.name, node.item, "with", node)
        self._walk(node.item)

    def _visit_except_handler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and isinstance(node.name.name, cst.Name):
            self._bind(node.name.name.value)
        self._walk_children(node)

    def _visit_named_expr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target)
        self._record(node.target, node.value, "walrus", node)
        self._walk(node.value)

    def _visit_global(self, node: cst.Global | cst.Nonlocal) -> None:
        # A function that rebinds a module name makes that name no constant.
        for item in node.names:
            name = item.name.value
            self._module_binding_counts[name] = self._module_binding_counts.get(name, 0) + 2

    # -- after the walk ---------------------------------------------------------------------

    def _resolve_classes(self) -> None:
        by_name: dict[str, Scope] = {}
        for cls in self._classes:
            if cls.parent is not None and cls.parent.kind == "module":
                # A name defined twice is ambiguous; keep neither.
                by_name[cls.name] = cls if cls.name not in by_name else by_name[cls.name]

        for cls in self._classes:
            cls.is_nn_module = self._derives(cls, _is_torch_module_base, by_name, {}, frozenset())
            cls.is_keras_layer = self._derives(cls, _is_keras_layer_base, by_name, {}, frozenset())

    def _derives(
        self,
        cls: Scope,
        is_base: Callable[[str], bool],
        by_name: dict[str, Scope],
        decided: dict[int, bool],
        seen: frozenset[int],
    ) -> bool:
        """Whether a class derives from a framework base, through same-file classes too. (A
        method, not a recursive closure: a closure that calls itself is a reference cycle that
        would keep the syntax tree alive until a cyclic GC pass.)"""
        key = id(cls)
        if key in decided:
            return decided[key]
        result = False
        for base in cls.bases:
            parts = dotted_parts(base)
            if parts is None:
                continue
            local = by_name.get(parts[0]) if len(parts) == 1 else None
            if local is not None and id(local) not in seen:
                result = self._derives(local, is_base, by_name, decided, seen | {key})
            else:
                qualname = self._aliases.resolve(parts)
                result = qualname is not None and is_base(qualname)
            if result:
                break
        decided[key] = result
        return result


# Calls that take a training branch and an evaluation branch (TF/Keras graph-mode idioms).
_MODE_BRANCH_CALLS = frozenset({"cond", "smart_cond", "in_train_phase"})

# Names of flags that are true exactly in training / exactly in evaluation.
_TRAINING_FLAGS = frozenset({"training", "is_training", "train_mode", "is_train", "train"})
_EVAL_FLAGS = frozenset({"evaluating", "is_eval", "eval_mode", "inference", "is_inference"})
# Training-mode values compared against (`mode == "train"`, `mode == ModeKeys.TRAIN`). Eval
# values are left out on purpose: `mode != "eval"` may still be prediction, not training.
_TRAINING_VALUES = frozenset({"train", "training", "TRAIN"})


def _mode_value(node: cst.BaseExpression) -> bool | None:
    """True for a training-mode constant, None for anything else."""
    if isinstance(node, cst.SimpleString):
        text = node.evaluated_value
    elif isinstance(node, cst.Attribute):
        text = node.attr.value
    else:
        return None
    return True if text in _TRAINING_VALUES else None


def _mode_flag(node: cst.BaseExpression) -> bool | None:
    """True if ``node`` is truthy exactly in training mode (``self.training``, ``is_training ==
    True``, ``mode == "train"``), False if exactly in evaluation mode, None if unknown."""
    name = (
        node.attr.value
        if isinstance(node, cst.Attribute)
        else node.value
        if isinstance(node, cst.Name)
        else None
    )
    if name is not None:
        return True if name in _TRAINING_FLAGS else False if name in _EVAL_FLAGS else None
    if not isinstance(node, cst.Comparison) or len(node.comparisons) != 1:
        return None
    target = node.comparisons[0]
    if isinstance(target.operator, (cst.Equal, cst.Is)):
        positive = True
    elif isinstance(target.operator, (cst.NotEqual, cst.IsNot)):
        positive = False
    else:
        return None
    for subject, other in ((node.left, target.comparator), (target.comparator, node.left)):
        literal = number_literal(other)
        if isinstance(literal, bool):  # `is_training == True`, `train_mode is False`
            flag = _mode_flag(subject)
        else:  # `mode == "train"`, `mode != ModeKeys.TRAIN`
            flag = _mode_value(other)
            literal = True
        if flag is not None:
            return flag if literal == positive else not flag
    return None


def _proves_mode(test: cst.BaseExpression, when: bool, training: bool) -> bool:
    """Whether ``test`` evaluating truthy (``when=True``) or falsy (``when=False``) proves the
    code runs in training mode (``training=True``) or in evaluation mode. Conservative:
    anything it cannot read proves nothing."""
    flag = _mode_flag(test)
    if flag is not None:
        return (when == flag) == training
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _proves_mode(test.expression, not when, training)
    if isinstance(test, cst.BooleanOperation):
        left = _proves_mode(test.left, when, training)
        right = _proves_mode(test.right, when, training)
        # `a and b` is true when both are, false when either is (`or` the other way round).
        both_needed = isinstance(test.operator, cst.And) != when
        return (left and right) if both_needed else (left or right)
    return False


def _replaces_inner_attribute(target: cst.BaseExpression) -> bool:
    """An assignment target inside another object: ``model.blocks[0].drop``, ``self.bert.drop``
    (not ``self.drop`` or a plain name, which build the code's own layer)."""
    if not isinstance(target, (cst.Attribute, cst.Subscript)):
        return False
    depth = 0
    node: cst.BaseExpression = target
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        depth += 1
        node = node.value
    own = isinstance(node, cst.Name) and node.value in ("self", "cls")
    return not (own and depth == 1 and isinstance(target, cst.Attribute))


def _is_main_guard(test: cst.BaseExpression) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    target = test.comparisons[0]
    if not isinstance(target.operator, cst.Equal):
        return False
    sides = (test.left, target.comparator)
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    texts = [
        s for s in sides if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__"
    ]
    return bool(names and texts)


def _always_exits(body: cst.BaseSuite) -> bool:
    """Whether a suite ends in ``return`` or ``raise``."""
    statements = body.body
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, cst.SimpleStatementLine):
        small = last.body
    elif isinstance(last, (cst.Return, cst.Raise)):  # one-line suite: `if x: return y`
        return True
    else:
        return False
    return bool(small) and isinstance(small[-1], (cst.Return, cst.Raise))


def collect_facts(module: cst.Module) -> FileFacts:
    """Walk ``module`` once and return what every rule needs.

    The cyclic GC is paused meanwhile: the walk and the extractors allocate many small acyclic
    objects, and each collection they trigger would scan the whole syntax tree again (it
    doubled the time of the architecture model on timm)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            return _collect_once(module)
        except RecursionError:
            # Data-driven depth (an `elif` chain of hundreds, a long method chain): walk
            # again on a thread with room for it.
            return with_deep_stack(lambda: _collect_once(module))
    finally:
        if was_enabled:
            gc.enable()


def _collect_once(module: cst.Module) -> FileFacts:
    collector = FactCollector()
    try:
        return collector.collect(module)
    finally:
        # The handler table holds the collector's own bound methods: a reference cycle that
        # would keep every node the collector saw alive until a cyclic GC pass.
        collector._handlers.clear()
        collector._calls.clear()
        collector._assigned.clear()
        collector._applied.clear()


# Room for the walk of pathologically nested code: frames per nesting level are few, so this
# covers nesting far beyond what libcst's own parser accepts.
_DEEP_RECURSION_LIMIT = 60_000
_DEEP_STACK_BYTES = 512 * 1024 * 1024


def with_deep_stack(work: Callable[[], T]) -> T:
    """Run ``work`` on a thread with a large stack and recursion limit (restored after), for
    recursion over data-driven depth (an ``elif`` chain of 600, a method chain of 1,200); an
    exception it raises is raised again here."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append(error)

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    try:
        threading.stack_size(_DEEP_STACK_BYTES)
        sys.setrecursionlimit(max(old_limit, _DEEP_RECURSION_LIMIT))
        thread = threading.Thread(target=run, name="nnlint-deep-walk")
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
