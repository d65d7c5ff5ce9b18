"""The cheap import-alias table: maps the local names a file imports to qualified names.

It replaces libcst's QualifiedNameProvider/ScopeProvider, which cost several times a parse per file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import libcst as cst

# Spellings of the same API under several packages, rewritten to one canonical prefix so that
# rules match one name. Longest prefixes first: the first match wins.
_CANONICAL_PREFIXES: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v1.keras.", "keras."),
    ("tensorflow.compat.v2.keras.", "keras."),
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tf_keras.", "keras."),
    ("keras.src.layers.", "keras.layers."),
    # Keras 1/2 submodules that re-export the layers (`from keras.layers.core import Dense`).
    *(
        (f"keras.layers.{sub}.", "keras.layers.")
        for sub in (
            "core",
            "convolutional",
            "pooling",
            "normalization",
            "recurrent",
            "embeddings",
            "merge",
            "advanced_activations",
            "noise",
            "wrappers",
            "local",
            "convolutional_recurrent",
        )
    ),
    # TF2's compat.v2 namespace is TF2 itself; compat.v1 keeps its own (different) semantics.
    ("tensorflow.compat.v2.", "tensorflow."),
    ("torch.nn.modules.dropout.", "torch.nn."),
    ("torch.nn.modules.", "torch.nn."),
)

FRAMEWORK_ROOTS: frozenset[str] = frozenset({"torch", "keras", "tensorflow", "tf_keras"})

# Marks a local name bound by two imports that disagree: it resolves to nothing.
_AMBIGUOUS = ""


def canonical_name(qualified: str) -> str:
    """Rewrite package-specific spellings (``tensorflow.keras.layers.X``) to one canonical name."""
    probe = qualified + "."
    for prefix, replacement in _CANONICAL_PREFIXES:
        if probe.startswith(prefix):
            return (replacement + probe[len(prefix) :])[:-1]
    return qualified


def framework_of(qualified: str) -> str | None:
    """``"torch"``, ``"keras"`` or ``"tensorflow"`` for a canonical name, None for anything else."""
    root = qualified.split(".", 1)[0]
    if root == "tf_keras":
        return "keras"
    return root if root in FRAMEWORK_ROOTS else None


def dotted_parts(node: cst.BaseExpression) -> tuple[str, ...] | None:
    """``nn.functional.dropout`` -> ``("nn", "functional", "dropout")``; None if not dotted."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    parts.reverse()
    return tuple(parts)


def _module_name(node: cst.BaseExpression | None, relative: Sequence[cst.Dot]) -> str:
    dots = "." * len(relative)
    if node is None:
        return dots
    parts = dotted_parts(node)
    return dots + (".".join(parts) if parts else "")


class AliasTable:
    """Local name -> qualified name, built from every import statement of one file.

    A name imported twice with different meanings (after canonicalisation) becomes ambiguous
    and resolves to nothing, so that a guess never produces a finding. Relative and
    non-framework imports are recorded too: they shadow framework names.
    """

    def __init__(self) -> None:
        self._bindings: dict[str, str] = {}
        self._star_modules: list[str] = []

    def __contains__(self, name: str) -> bool:
        return name in self._bindings

    def bind(self, local: str, qualified: str) -> None:
        """Record that ``local`` names ``qualified`` (marking conflicting rebinds ambiguous)."""
        qualified = canonical_name(qualified)
        previous = self._bindings.get(local)
        if previous is None:
            self._bindings[local] = qualified
        elif previous != qualified:
            self._bindings[local] = _AMBIGUOUS

    def add_import(self, node: cst.Import) -> list[str]:
        """Record ``import a.b`` / ``import a.b as c``; returns the local names bound."""
        bound: list[str] = []
        if isinstance(node.names, cst.ImportStar):  # pragma: no cover - not valid syntax
            return bound
        for alias in node.names:
            parts = dotted_parts(alias.name)
            if parts is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
                self.bind(local, ".".join(parts))
            else:
                # ``import torch.nn`` binds ``torch`` to the top-level package.
                local = parts[0]
                self.bind(local, parts[0])
            bound.append(local)
        return bound

    def add_import_from(self, node: cst.ImportFrom) -> list[str]:
        """Record ``from m import a as b`` / ``from m import *``; returns the local names bound."""
        module = _module_name(node.module, node.relative)
        if isinstance(node.names, cst.ImportStar):
            self._star_modules.append(canonical_name(module))
            return []
        bound: list[str] = []
        for alias in node.names:
            if not isinstance(alias.name, cst.Name):
                continue
            imported = alias.name.value
            local = imported
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            prefix = module if module.endswith(".") else module + "."
            self.bind(local, prefix + imported)
            bound.append(local)
        return bound

    def lookup(self, local: str) -> str | None:
        """The qualified name bound to ``local``, or None (unknown or ambiguous)."""
        return self._bindings.get(local) or None

    def resolve(self, parts: Sequence[str], known: Iterable[str] = ()) -> str | None:
        """Resolve a dotted callee as written (``("nn", "Dropout")``) to a canonical name.

        ``known`` lists canonical names worth resolving through star imports: a head name that
        no import binds is tried against each ``from m import *`` module and kept only when
        exactly one of them gives a known name.
        """
        if not parts:
            return None
        head, rest = parts[0], parts[1:]
        base = self._bindings.get(head)
        if base == _AMBIGUOUS:
            return None
        if base is None:
            if not self._star_modules:
                return None
            known_set = set(known)
            candidates = {
                canonical_name(".".join((module, *parts)))
                for module in self._star_modules
                if not module.startswith(".")
            }
            hits = candidates & known_set
            return hits.pop() if len(hits) == 1 else None
        return canonical_name(".".join((base, *rest)))
