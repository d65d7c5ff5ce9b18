"""Content-hash result cache: a file with unchanged bytes, settings and code is not re-linted.

One small JSON file per entry under ``<cache dir>/v1/<2 hex>/<rest of key>``, written to a temporary
file and moved into place with ``os.replace``, so concurrent runs never see half an entry. An entry
that cannot be read or decoded is a miss, never an error. This module must stay cheap to import: a
run where every file hits the cache never imports libcst.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import nnlint
from nnlint.findings import Applicability, Finding

_APPLICABILITIES = frozenset(a.value for a in Applicability)

CACHE_DIR_NAME = ".nnlint_cache"
CACHE_LAYOUT = "v1"
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by nnlint.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """nnlint's version plus the size and mtime of each of its source files.

    The version alone is not enough for an editable install: a changed rule must not be answered
    from results of the old code. Stat-ing the package's few dozen files costs well under 1 ms.
    """
    package_dir = os.path.dirname(os.path.abspath(nnlint.__file__))
    digest = hashlib.sha256(nnlint.__version__.encode())
    stack = [package_dir]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    stack.append(entry.path)
            elif entry.name.endswith(".py"):
                st = entry.stat()
                rel = os.path.relpath(entry.path, package_dir)
                digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def default_cache_dir(project_root: str) -> str:
    """``$NNLINT_CACHE_DIR`` if set, else ``<project root>/.nnlint_cache``."""
    env = os.environ.get("NNLINT_CACHE_DIR")
    if env:
        return os.path.abspath(env)
    return os.path.join(os.path.abspath(project_root), CACHE_DIR_NAME)


def encode_findings(findings: Sequence[Finding]) -> bytes:
    """Findings as compact JSON, without their path (an entry is keyed by content, not location)."""
    rows = [
        [
            f.line,
            f.column,
            f.code,
            f.message,
            f.end_line,
            f.end_column,
            f.fixable,
            f.fix_title,
            f.fix_applicability.value,
        ]
        for f in findings
    ]
    return json.dumps(rows, separators=(",", ":")).encode()


def decode_findings(raw: bytes, path: str) -> list[Finding] | None:
    """The findings stored in ``raw`` for the file at ``path``, or None if ``raw`` is damaged."""
    try:
        rows = json.loads(raw)
        if not isinstance(rows, list):
            return None
        findings = []
        for row in rows:
            line, column, code, message, end_line, end_column, fixable, fix_title, safety = row
            if not (
                type(line) is int
                and type(column) is int
                and type(end_line) is int
                and type(end_column) is int
                and isinstance(code, str)
                and isinstance(message, str)
                and isinstance(fixable, bool)
                and (fix_title is None or isinstance(fix_title, str))
                and safety in _APPLICABILITIES
            ):
                return None
            findings.append(
                Finding(
                    path,
                    line,
                    column,
                    code,
                    message,
                    end_line,
                    end_column,
                    fixable,
                    fix_title,
                    Applicability(safety),
                )
            )
        return findings
    except (ValueError, TypeError):
        # Truncated JSON, a row of the wrong length, or garbage bytes: treat as a miss.
        return None


class ResultCache:
    """Findings by ``sha256(bytes, settings fingerprint, code fingerprint, absolute path)``."""

    def __init__(self, directory: str) -> None:
        self.directory = os.path.abspath(directory)
        self._entries = os.path.join(self.directory, CACHE_LAYOUT)
        self._prepared = False
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(source: bytes, settings_fingerprint: str, path: str = "") -> str:
        """The entry key. ``path`` is part of it because a rule may depend on the file's name
        (test files, ``__init__.py``); a moved file is simply linted once more."""
        digest = hashlib.sha256(source)
        for part in (settings_fingerprint, code_fingerprint(), path):
            digest.update(b"\0" + part.encode("utf-8", "surrogateescape"))
        return digest.hexdigest()

    def _entry_path(self, key: str) -> str:
        return os.path.join(self._entries, key[:2], key[2:])

    def get(self, key: str, path: str) -> list[Finding] | None:
        """Cached findings for ``key``, re-anchored at ``path``; None on a miss or damaged entry."""
        try:
            with open(self._entry_path(key), "rb") as fh:
                raw = fh.read()
        except OSError:
            self.misses += 1
            return None
        findings = decode_findings(raw, path)
        if findings is None:
            self.misses += 1
        else:
            self.hits += 1
        return findings

    def put(self, key: str, findings: Sequence[Finding]) -> None:
        """Store ``findings``. Failing to write (read-only disk, full disk) only costs speed."""
        try:
            self._prepare()
            shard = os.path.dirname(self._entry_path(key))
            os.makedirs(shard, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=shard, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(encode_findings(findings))
                os.replace(tmp, self._entry_path(key))
            except BaseException:
                _remove_quietly(tmp)
                raise
        except OSError:
            pass

    def _prepare(self) -> None:
        if self._prepared:
            return
        os.makedirs(self._entries, exist_ok=True)
        for name, content in (
            (".gitignore", "# Created by nnlint.\n*\n"),
            ("CACHEDIR.TAG", CACHEDIR_TAG),
        ):
            target = os.path.join(self.directory, name)
            if not os.path.exists(target):
                try:
                    with open(target, "x", encoding="utf-8") as fh:
                        fh.write(content)
                except FileExistsError:
                    pass  # another run created it first
        self._prepared = True


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class SettingsCache:
    """Resolved settings by (configuration, command-line selectors, nnlint code).

    Resolving selectors and validating per-rule options needs the rule registry, and importing
    the rules imports libcst (about 0.2 s). A warm run answers from here instead, so it never
    imports them. Only settings that resolved without error are stored: a bad configuration is
    reported on every run.
    """

    def __init__(self, directory: str) -> None:
        self._results = ResultCache(directory)
        self._dir = os.path.join(os.path.abspath(directory), CACHE_LAYOUT, "settings")

    @staticmethod
    def key(*parts: object) -> str:
        payload = json.dumps([code_fingerprint(), *parts], sort_keys=True, default=repr)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with open(os.path.join(self._dir, key), "rb") as fh:
                value = json.loads(fh.read())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._results._prepare()
            os.makedirs(self._dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(json.dumps(value, sort_keys=True).encode())
                os.replace(tmp, os.path.join(self._dir, key))
            except BaseException:
                _remove_quietly(tmp)
                raise
        except OSError:
            pass
