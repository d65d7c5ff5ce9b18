"""Find the files to lint: walk folders, skip tool folders and ignored files, apply globs.

Behaviour follows ruff: a directory walk collects the files matching ``include`` (``*.py`` and
``*.ipynb`` by default), skips the built-in folders, the configured ``exclude`` /
``extend-exclude`` globs and whatever ``.gitignore``, ``.ignore`` and ``.git/info/exclude`` ignore
(``respect_gitignore``); a file named explicitly on the command line is linted even when a glob
or an ignore file excludes it, unless ``force_exclude`` is set (the pre-commit hooks set it,
because pre-commit passes every staged file by name). Stubs (``*.pyi``) are not collected: they
hold no executable training code; a ``.pyi`` named explicitly is still linted.

Globs have gitignore syntax, matched by ``pathspec`` (the library the Python ecosystem uses for
it): a glob without a slash matches a name at any depth, one with a slash is anchored at the
folder of the file that declared it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pathspec

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

# What a directory walk collects unless ``include`` says otherwise (ruff lints notebooks too).
DEFAULT_INCLUDE: tuple[str, ...] = ("*.py", "*.ipynb")
NOTEBOOK_SUFFIX = ".ipynb"
# Read in every walked folder, in rising precedence (ripgrep's and ruff's order).
IGNORE_FILENAMES: tuple[str, ...] = (".gitignore", ".ignore")


class GlobError(ValueError):
    """A glob that cannot be compiled or can never match; ``reason`` says why."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"invalid glob `{pattern}`: {reason}")
        self.pattern = pattern
        self.reason = reason


def compile_globs(patterns: Sequence[str]) -> pathspec.GitIgnoreSpec:
    """Compile gitignore-syntax globs; raise ``GlobError`` for the first bad one.

    An unterminated ``[`` (``[abc``, ``[!]``) never matches in git; pathspec before 1.1 matches
    it literally and 1.1 drops it without a word. Either way the exclude would silently do
    nothing, so it is an error here.
    """
    for pattern in patterns:
        stripped = pattern.strip()
        if not stripped:
            raise GlobError(pattern, "it is empty")
        if _has_unterminated_bracket(stripped):
            raise GlobError(pattern, "it can never match (an unterminated `[`)")
        try:
            spec = pathspec.GitIgnoreSpec.from_lines([stripped])
        except Exception as exc:  # noqa: BLE001 - pathspec raises re.error and its own errors
            raise GlobError(pattern, str(exc)) from None
        if not any(p.include is not None for p in spec.patterns):
            reason = (
                "a leading `#` makes it a comment"
                if stripped.startswith("#")
                else "it can never match (an unterminated `[`?)"
            )
            raise GlobError(pattern, reason)
    return pathspec.GitIgnoreSpec.from_lines([p.strip() for p in patterns])


def _has_unterminated_bracket(pattern: str) -> bool:
    """Whether a ``[`` opens a class that no ``]`` closes (git's wildmatch rules: a ``]`` right
    after ``[`` or ``[!`` is a member, so ``[]]`` is complete and ``[!]`` is not)."""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] in "!^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            close = pattern.find("]", j)
            if close == -1:
                return True
            i = close
        i += 1
    return False


def _posix_relative(path: str, root: str, *, is_dir: bool) -> str:
    """``path`` relative to ``root`` in gitignore form (``a/b``, ``a/b/`` for a folder); a path
    outside ``root`` is given whole, so that only slash-free globs can match it."""
    abs_path = os.path.abspath(path)
    if _is_within(abs_path, root) and abs_path != root:
        rel = os.path.relpath(abs_path, root)
    else:
        rel = abs_path.lstrip(os.sep)
    rel = rel.replace(os.sep, "/")
    return rel + "/" if is_dir else rel


@dataclass(frozen=True)
class PathMatcher:
    """A set of globs matched the way ruff matches ``exclude`` and ``per-file-ignores`` keys.

    A glob without a slash (``build``, ``*_pb2.py``) matches a file or folder name anywhere in the
    tree. A glob with a slash (``scripts/*.py``, ``legacy/**``) is anchored at ``root``, the folder
    of the configuration file that declared it. Raises ``GlobError`` on first use for a bad glob
    (configuration checks them at load time with ``compile_globs``).
    """

    root: str
    patterns: tuple[str, ...]

    @cached_property
    def _spec(self) -> pathspec.GitIgnoreSpec | None:
        return compile_globs(self.patterns) if self.patterns else None

    def matches(self, path: str, *, is_dir: bool | None = None) -> bool:
        """True when ``path`` (absolute, or relative to the CWD) matches one of the globs."""
        spec = self._spec
        if spec is None:
            return False
        if is_dir is None:
            is_dir = os.path.isdir(path)
        return bool(spec.match_file(_posix_relative(path, self.root, is_dir=is_dir)))

    def matches_self_or_parent(self, path: str) -> bool:
        """True when ``path`` or one of its folders (up to ``root``) is matched."""
        abs_path = os.path.abspath(path)
        if self.matches(abs_path):
            return True
        current = os.path.dirname(abs_path)
        while _is_within(current, self.root) and current != self.root:
            if self.matches(current, is_dir=True):
                return True
            current = os.path.dirname(current)
        return False


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def is_virtualenv(directory: str) -> bool:
    """A folder holding ``pyvenv.cfg`` is a virtual environment, whatever its name."""
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


# --------------------------------------------------------------------------------------------
# .gitignore / .ignore


@dataclass(frozen=True)
class _IgnoreFile:
    base: str
    spec: pathspec.GitIgnoreSpec


def _read_ignore_file(path: str, base: str) -> _IgnoreFile | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # noqa: BLE001 - git skips a line it cannot read; so does a bad file here
        spec = pathspec.GitIgnoreSpec.from_lines(
            [line for line in lines if _readable_ignore_line(line)]
        )
    return _IgnoreFile(base, spec) if spec.patterns else None


def _readable_ignore_line(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except Exception:  # noqa: BLE001 - see _read_ignore_file
        return False
    return True


@dataclass
class IgnoreRules:
    """The ignore files in force in each folder, computed once per folder.

    Inside the walked tree every folder's ``.gitignore`` and ``.ignore`` apply. Above the path
    named on the command line they apply up to the root of the enclosing git repository (where
    ``.git/info/exclude`` applies too), and not at all outside a repository: a stray
    ``~/.gitignore`` must not hide a project.
    """

    enabled: bool = True
    _chains: dict[str, tuple[_IgnoreFile, ...]] = field(default_factory=dict)
    _git_roots: dict[str, str | None] = field(default_factory=dict)

    def _own(self, directory: str) -> tuple[_IgnoreFile, ...]:
        found: list[_IgnoreFile] = []
        if os.path.exists(os.path.join(directory, ".git")):
            info = _read_ignore_file(os.path.join(directory, ".git", "info", "exclude"), directory)
            if info is not None:
                found.append(info)
        for name in IGNORE_FILENAMES:
            ignore_file = _read_ignore_file(os.path.join(directory, name), directory)
            if ignore_file is not None:
                found.append(ignore_file)
        return tuple(found)

    def git_root(self, directory: str) -> str | None:
        if directory not in self._git_roots:
            if os.path.exists(os.path.join(directory, ".git")):
                self._git_roots[directory] = directory
            else:
                parent = os.path.dirname(directory)
                self._git_roots[directory] = None if parent == directory else self.git_root(parent)
        return self._git_roots[directory]

    def chain(self, directory: str, *, walked_from: str | None = None) -> tuple[_IgnoreFile, ...]:
        """The ignore files that govern entries of ``directory`` (lowest precedence first)."""
        directory = os.path.abspath(directory)
        if not self.enabled:
            return ()
        if directory in self._chains:
            return self._chains[directory]
        parent = os.path.dirname(directory)
        git_root = self.git_root(directory)
        if parent == directory or directory == git_root:
            inherited: tuple[_IgnoreFile, ...] = ()
        elif git_root is not None or (walked_from is not None and directory != walked_from):
            inherited = self.chain(parent, walked_from=walked_from)
        else:
            inherited = ()
        chain = inherited + self._own(directory)
        self._chains[directory] = chain
        return chain

    def ignores(self, path: str, *, is_dir: bool, walked_from: str | None = None) -> bool:
        """True when the ignore files in force say ``path`` is ignored."""
        if not self.enabled:
            return False
        directory = os.path.dirname(os.path.abspath(path))
        for ignore_file in reversed(self.chain(directory, walked_from=walked_from)):
            rel = _posix_relative(path, ignore_file.base, is_dir=is_dir)
            result = ignore_file.spec.check_file(rel)
            if result.include is not None:
                # The deepest file with a matching line decides; `!pattern` re-includes.
                return bool(result.include)
        return False


# --------------------------------------------------------------------------------------------
# The walk


@dataclass(frozen=True)
class DiscoveryRules:
    """What the configuration that governs a folder says about files: ``exclude`` and
    ``include`` globs."""

    exclude: PathMatcher
    include: PathMatcher


# Returns the discovery rules of the configuration that governs a path.
RulesLookup = Callable[[str], DiscoveryRules]


@dataclass(frozen=True)
class DiscoveredFile:
    """A file to lint. ``explicit`` files were named on the command line."""

    path: str
    explicit: bool


def iter_python_files(
    paths: Sequence[str],
    rules_for: RulesLookup,
    *,
    force_exclude: bool = False,
    respect_gitignore: bool = True,
    on_symlink_loop: Callable[[str], None] | None = None,
) -> Iterator[DiscoveredFile]:
    """Yield the files to lint under ``paths`` in a deterministic order, without duplicates.

    ``rules_for(path)`` returns the ``DiscoveryRules`` of the configuration that governs
    ``path``. Raises ``FileNotFoundError`` for a path that does not exist. A symlink in the walk
    that loops is passed to ``on_symlink_loop`` (and skipped).
    """
    seen: set[str] = set()
    ignore_rules = IgnoreRules(enabled=respect_gitignore)
    for raw in paths:
        if not os.path.lexists(raw):
            raise FileNotFoundError(raw)
        path = os.path.normpath(raw)
        if os.path.isdir(path):
            for found in _walk(path, rules_for, ignore_rules, on_symlink_loop):
                key = os.path.abspath(found)
                if key not in seen:
                    seen.add(key)
                    yield DiscoveredFile(found, explicit=False)
        else:
            # Named explicitly: lint it whatever its suffix (a broken symlink or unreadable file is
            # reported by the runner), unless excludes are forced (pre-commit).
            if force_exclude and _force_excluded(path, rules_for(path).exclude, ignore_rules):
                continue
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                yield DiscoveredFile(path, explicit=True)


def _force_excluded(path: str, matcher: PathMatcher, ignore_rules: IgnoreRules) -> bool:
    if _matches_builtin(path, matcher.root) or matcher.matches_self_or_parent(path):
        return True
    abs_path = os.path.abspath(path)
    if ignore_rules.ignores(abs_path, is_dir=False):
        return True
    current = os.path.dirname(abs_path)
    git_root = ignore_rules.git_root(current)
    while git_root is not None and _is_within(current, git_root) and current != git_root:
        if ignore_rules.ignores(current, is_dir=True):
            return True
        current = os.path.dirname(current)
    return False


_BUILTIN = PathMatcher(root=os.sep, patterns=DEFAULT_EXCLUDES)


def _builtin_name(name: str, *, is_dir: bool) -> bool:
    return _BUILTIN.matches(os.path.join(os.sep, name), is_dir=is_dir)


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
    return any(_builtin_name(part, is_dir=True) for part in parts if part not in ("", "."))


def _walk(
    top: str,
    rules_for: RulesLookup,
    ignore_rules: IgnoreRules,
    on_symlink_loop: Callable[[str], None] | None,
) -> Iterator[str]:
    # os.scandir + explicit sort: os.walk's order depends on the file system.
    walked_from = os.path.abspath(top)
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            # An unreadable folder is skipped, as ruff and git do; the run goes on.
            continue
        rules = rules_for(directory)
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            full = os.path.join(directory, name)
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir and entry.is_symlink() and _is_symlink_loop(full):
                if on_symlink_loop is not None:
                    on_symlink_loop(full)
                continue
            if is_dir:
                if entry.is_symlink():
                    # Following directory symlinks can loop; ruff and git do not follow them.
                    continue
                if (
                    _builtin_name(name, is_dir=True)
                    or is_virtualenv(full)
                    or rules.exclude.matches(full, is_dir=True)
                    or ignore_rules.ignores(full, is_dir=True, walked_from=walked_from)
                ):
                    continue
                subdirs.append(full)
            elif rules.include.matches(full, is_dir=False):
                if (
                    _builtin_name(name, is_dir=False)
                    or rules.exclude.matches(full, is_dir=False)
                    or ignore_rules.ignores(full, is_dir=False, walked_from=walked_from)
                ):
                    continue
                yield full
        # Reverse so that popping visits sub-folders in sorted order (depth first).
        stack.extend(reversed(subdirs))


def _is_symlink_loop(path: str) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False
