"""Fact extractors: each rule family is one extractor module plus its rules.

An extractor declares what it wants from the single traversal (canonical callee names, method
names) and turns the matching call sites, read against the shared semantic layer
(``nnlint.semantic``), into typed facts. The walker builds its dispatch from these declarations
and never names a family (pluggy's shape: the host calls hooks, neither side names the other).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from nnlint.facts import FileFacts
    from nnlint.semantic import CallSite


class Extractor:
    """Base class of a fact extractor. One instance is made per linted file.

    - ``family``: the key its facts are stored under (``facts.family(name)``).
    - ``qualnames``: canonical callee names (``torch.nn.Dropout``) whose calls it wants.
    - ``method_names``: last names of calls it wants whatever they resolve to
      (``step`` for ``optimizer.step()``, ``add`` for ``model.add(...)``).
    - ``local_calls``: also receive calls of the file's own module-level functions and classes
      by plain name (``make_layers(cfg)``, ``Net(depth=8)``), as far as they are defined above
      the call.
    - ``on_call`` is called for each wanted call, in source order, after the walk (so that
      every import and assignment of the file is known); ``finish`` returns the facts.
    """

    family: ClassVar[str]
    qualnames: ClassVar[frozenset[str]] = frozenset()
    method_names: ClassVar[frozenset[str]] = frozenset()
    local_calls: ClassVar[bool] = False

    def __init__(self, facts: FileFacts) -> None:
        self.facts = facts

    def on_call(self, site: CallSite) -> None:  # pragma: no cover - optional hook
        return None

    def finish(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


# The extractor modules of nnlint itself, imported lazily in this order (deterministic).
BUILTIN_EXTRACTOR_MODULES: tuple[str, ...] = ("dropout", "architecture", "training")

_registered: list[type[Extractor]] = []


def register_extractor(cls: type[Extractor]) -> type[Extractor]:
    """Class decorator: make ``cls`` part of every traversal (a new family needs nothing else)."""
    if any(existing.family == cls.family for existing in _registered if existing is not cls):
        raise ValueError(f"an extractor for family {cls.family!r} is already registered")
    if cls not in _registered:
        _registered.append(cls)
        _dispatch_table.cache_clear()
    return cls


def unregister_extractor(cls: type[Extractor]) -> None:
    """Remove ``cls`` (tests register throwaway extractors)."""
    if cls in _registered:
        _registered.remove(cls)
        _dispatch_table.cache_clear()


@lru_cache(maxsize=1)
def _load_builtins() -> None:
    for name in BUILTIN_EXTRACTOR_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def registered_extractors() -> tuple[type[Extractor], ...]:
    """Every registered extractor class, built-in ones first."""
    _load_builtins()
    return tuple(_registered)


class DispatchTable:
    """What the walker must record, built from the extractors' declarations."""

    def __init__(self, extractors: Iterable[type[Extractor]]) -> None:
        self.extractors = tuple(extractors)
        self.qualnames: frozenset[str] = frozenset(q for e in self.extractors for q in e.qualnames)
        self.method_names: frozenset[str] = frozenset(
            m for e in self.extractors for m in e.method_names
        )
        self.local_calls = any(e.local_calls for e in self.extractors)
        # Last callee names worth recording; import aliases of wanted qualnames are added per
        # file as the walker sees them.
        self.last_names: frozenset[str] = frozenset(
            {q.rsplit(".", 1)[-1] for q in self.qualnames} | self.method_names
        )


@lru_cache(maxsize=1)
def _dispatch_table() -> DispatchTable:
    return DispatchTable(registered_extractors())


def dispatch_table() -> DispatchTable:
    """The dispatch of the registered extractors (cached until the registry changes)."""
    _load_builtins()
    return _dispatch_table()
