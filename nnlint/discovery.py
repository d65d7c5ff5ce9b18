"""Find the Python files to lint: walk folders, skip tool and environment folders, apply excludes.

Behaviour follows ruff: a directory walk skips the built-in folders and the configured ``exclude`` /
``extend-exclude`` globs; a file named explicitly on the command line is linted even when a glob
excludes it, unless ``force_exclude`` is set (the pre-commit hooks set it, because pre-commit
passes every staged file by name). Only ``*.py`` files are collected from directories: stubs
(``*.pyi``) hold no executable training code. A ``.pyi`` named explicitly is still linted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

# Folders that never hold the user's own training code (ruff's defaults plus nnlint's cache).
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nnlint_cache",
    ".nox",
    ".pants.d",
    ".pytest_cache",
    ".pytype",
    ".ruff_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pycache__",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
    "*.egg-info",
)

PYTHON_SUFFIXES = (".py",)


@lru_cache(maxsize=512)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate a gitignore-style glob (``*``, ``?``, ``[..]``, ``**``) to an anchored regex."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    # `**/` matches zero or more whole directories.
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass(frozen=True)
class PathMatcher:
    """A set of globs matched the way ruff matches ``exclude`` and ``per-file-ignores`` keys.

    A glob without a slash (``build``, ``*_pb2.py``) matches a file or folder name anywhere in the
    tree. A glob with a slash (``scripts/*.py``, ``legacy/**``) is anchored at ``root``, the folder
    of the configuration file that declared it.
    """

    root: str
    patterns: tuple[str, ...]

    @cached_property
    def _name_regex(self) -> re.Pattern[str] | None:
        # One alternation for every slash-free glob: one regex call per path instead of many.
        names = [p.rstrip("/") for p in self.patterns if "/" not in p.rstrip("/")]
        if not names:
            return None
        return re.compile("|".join(f"(?:{_glob_regex(n).pattern})" for n in names))

    @cached_property
    def _anchored(self) -> tuple[re.Pattern[str], ...]:
        anchored = []
        for pattern in self.patterns:
            stripped = pattern.rstrip("/")
            if "/" in stripped:
                anchored.append(
                    _glob_regex(stripped[2:] if stripped.startswith("./") else stripped)
                )
        return tuple(anchored)

    def matches(self, path: str) -> bool:
        """True when ``path`` (absolute, or relative to the CWD) matches one of the globs."""
        if not self.patterns:
            return False
        name_regex = self._name_regex
        if name_regex is not None and name_regex.match(os.path.basename(path.rstrip(os.sep))):
            return True
        if not self._anchored:
            return False
        abs_path = os.path.abspath(path)
        rel = os.path.relpath(abs_path, self.root).replace(os.sep, "/")
        posix_abs = abs_path.replace(os.sep, "/")
        return any(r.match(rel) or r.match(posix_abs) for r in self._anchored)

    def matches_self_or_parent(self, path: str) -> bool:
        """True when ``path`` or one of its folders (up to ``root``) is matched."""
        abs_path = os.path.abspath(path)
        current = abs_path
        while True:
            if self.matches(current):
                return True
            parent = os.path.dirname(current)
            if parent == current or not _is_within(parent, self.root):
                return False
            current = parent


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_virtualenv(directory: str) -> bool:
    """A folder holding ``pyvenv.cfg`` is a virtual environment, whatever its name."""
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


# Returns the exclude matcher of the configuration that governs a path.
ExcludeLookup = Callable[[str], PathMatcher]


@dataclass(frozen=True)
class DiscoveredFile:
    """A file to lint. ``explicit`` files were named on the command line."""

    path: str
    explicit: bool


def iter_python_files(
    paths: Sequence[str],
    exclude_for: ExcludeLookup,
    *,
    force_exclude: bool = False,
) -> Iterator[DiscoveredFile]:
    """Yield the files to lint under ``paths`` in a deterministic order, without duplicates.

    ``exclude_for(path)`` returns the ``PathMatcher`` of the configuration that governs ``path``.
    Raises ``FileNotFoundError`` for a path that does not exist.
    """
    seen: set[str] = set()
    for raw in paths:
        if not os.path.lexists(raw):
            raise FileNotFoundError(raw)
        path = os.path.normpath(raw)
        if os.path.isdir(path):
            for found in _walk(path, exclude_for):
                key = os.path.abspath(found)
                if key not in seen:
                    seen.add(key)
                    yield DiscoveredFile(found, explicit=False)
        else:
            # Named explicitly: lint it whatever its suffix (a broken symlink or unreadable file is
            # reported by the runner), unless excludes are forced (pre-commit).
            if force_exclude:
                matcher = exclude_for(path)
                if _matches_builtin(path, matcher.root) or matcher.matches_self_or_parent(path):
                    continue
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                yield DiscoveredFile(path, explicit=True)


_BUILTIN = PathMatcher(root=os.sep, patterns=DEFAULT_EXCLUDES)


def _matches_builtin(path: str, root: str) -> bool:
    """True when a folder between ``root`` and ``path`` is a built-in skip (``build``, ``.venv``).

    Only folders below the project root count: a project that itself lives under ``~/build/`` must
    not have every file excluded.
    """
    abs_path = os.path.abspath(path)
    base = root if _is_within(abs_path, root) else os.getcwd()
    if not _is_within(abs_path, base):
        return False
    parts = os.path.relpath(os.path.dirname(abs_path), base).split(os.sep)
    return any(_BUILTIN.matches(part) for part in parts if part not in ("", "."))


def _walk(top: str, exclude_for: ExcludeLookup) -> Iterator[str]:
    # os.scandir + explicit sort: os.walk's order depends on the file system.
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            # An unreadable folder is skipped, as ruff and git do; the run goes on.
            continue
        matcher = exclude_for(directory)
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            full = os.path.join(directory, name)
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if entry.is_symlink():
                    # Following directory symlinks can loop; ruff and git do not follow them either.
                    continue
                if _BUILTIN.matches(name) or is_virtualenv(full) or matcher.matches(full):
                    continue
                subdirs.append(full)
            elif name.endswith(PYTHON_SUFFIXES):
                if _BUILTIN.matches(name) or matcher.matches(full):
                    continue
                yield full
        # Reverse so that popping visits sub-folders in sorted order (depth first).
        stack.extend(reversed(subdirs))
