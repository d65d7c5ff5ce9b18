"""Read ``[tool.nnlint]`` from the nearest ``pyproject.toml``; resolve rule selection as ruff does.

Loading (``load_config``) only reads and checks the shape of the TOML; resolving (``resolve``)
checks codes and per-rule options against the rule registry. Every problem is a ``ConfigError``
whose message names the file and the key, so the CLI can print it and exit 2.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from nnlint.discovery import (
    DEFAULT_INCLUDE,
    DiscoveryRules,
    GlobError,
    PathMatcher,
    compile_globs,
)
from nnlint.files import DEFAULT_MAX_FILE_SIZE, FileTooLarge, NotARegularFile, read_regular_file

CONFIG_FILENAME = "pyproject.toml"

# Top-level keys of [tool.nnlint]; any other key must name a rule (a per-rule options table).
TOP_LEVEL_KEYS = (
    "select",
    "ignore",
    "extend-select",
    "exclude",
    "extend-exclude",
    "include",
    "extend-include",
    "respect-gitignore",
    "per-file-ignores",
    "max-file-size",
)
# A configuration file is small; anything bigger is not one (and a device would never end).
MAX_CONFIG_BYTES = 1024 * 1024


class ConfigError(Exception):
    """A configuration problem the user must fix; the message is shown as is."""


class RuleInfo(Protocol):
    """What configuration needs to know of a rule (``nnlint.rules.RuleMeta`` satisfies it)."""

    code: str
    name: str
    default_enabled: bool
    options: dict[str, Any]


@dataclass(frozen=True)
class RuleSelection:
    """One layer of selectors (the configuration file, or the command line).

    ``select`` replaces everything chosen by earlier layers; ``extend_select`` adds to it;
    ``ignore`` removes. Inside a layer the most specific selector wins, and ``ignore`` wins a tie.
    """

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    # Where the selectors came from, for error messages ("--select", "pyproject.toml").
    origin: str = "command line"


@dataclass(frozen=True)
class Config:
    """The ``[tool.nnlint]`` table of one file, shape-checked but not yet checked against rules."""

    path: str | None
    root: str
    selection: RuleSelection = field(default_factory=RuleSelection)
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = DEFAULT_INCLUDE
    # None: not set in this file (the command line or the default decides).
    respect_gitignore: bool | None = None
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Larger source files are not linted (NN004); see nnlint.files.DEFAULT_MAX_FILE_SIZE.
    max_file_size: int = DEFAULT_MAX_FILE_SIZE

    @property
    def origin(self) -> str:
        return self.path if self.path is not None else "default settings"

    @property
    def exclude_matcher(self) -> PathMatcher:
        return PathMatcher(root=self.root, patterns=self.exclude)

    @property
    def discovery_rules(self) -> DiscoveryRules:
        return DiscoveryRules(
            exclude=self.exclude_matcher, include=PathMatcher(root=self.root, patterns=self.include)
        )

    @property
    def is_bare(self) -> bool:
        """True for a ``--config`` file not named pyproject.toml: its top level is the settings."""
        return self.path is not None and os.path.basename(self.path) != CONFIG_FILENAME


@dataclass(frozen=True)
class ResolvedSettings:
    """The rules to run and their options; ``fingerprint`` keys the result cache."""

    enabled: frozenset[str]
    options: Mapping[str, Mapping[str, Any]]
    fingerprint: str

    def without(self, codes: Iterable[str]) -> ResolvedSettings:
        """These settings with ``codes`` switched off (for per-file ignores)."""
        drop = set(codes)
        if not drop & self.enabled:
            return self
        enabled = self.enabled - drop
        options = {code: opts for code, opts in self.options.items() if code in enabled}
        return make_settings(enabled, options)


def make_settings(
    enabled: Iterable[str], options: Mapping[str, Mapping[str, Any]]
) -> ResolvedSettings:
    enabled_set = frozenset(enabled)
    kept = {code: dict(options[code]) for code in sorted(options) if code in enabled_set}
    payload = json.dumps([sorted(enabled_set), kept], sort_keys=True, default=repr)
    return ResolvedSettings(
        enabled=enabled_set,
        options=kept,
        fingerprint=hashlib.sha256(payload.encode()).hexdigest()[:32],
    )


# --------------------------------------------------------------------------------------------
# Finding and loading configuration files


def _declares_nnlint(path: str) -> bool:
    """True when ``path`` is a pyproject.toml with a ``[tool.nnlint]`` table (as ruff, others are
    skipped so that a sub-package's bare pyproject does not hide the project's settings)."""
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except OSError:
        return False
    if b"nnlint" not in raw:
        return False
    data = _parse_toml(raw, path)
    tool = data.get("tool")
    return isinstance(tool, dict) and "nnlint" in tool


def find_config_file(start: str) -> str | None:
    """The nearest ``pyproject.toml`` declaring ``[tool.nnlint]``, from ``start`` upwards."""
    current = os.path.abspath(start)
    if not os.path.isdir(current):
        current = os.path.dirname(current)
    while True:
        candidate = os.path.join(current, CONFIG_FILENAME)
        if os.path.isfile(candidate) and _declares_nnlint(candidate):
            return candidate
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class ConfigFinder:
    """``find_config_file`` memoized per folder: a walk over thousands of files in hundreds of
    folders looks at each folder's ``pyproject.toml`` once."""

    def __init__(self) -> None:
        self._by_dir: dict[str, str | None] = {}

    def find(self, start: str) -> str | None:
        current = os.path.abspath(start)
        if not os.path.isdir(current):
            current = os.path.dirname(current)
        visited: list[str] = []
        found: str | None = None
        while True:
            if current in self._by_dir:
                found = self._by_dir[current]
                break
            visited.append(current)
            candidate = os.path.join(current, CONFIG_FILENAME)
            if os.path.isfile(candidate) and _declares_nnlint(candidate):
                found = candidate
                break
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for directory in visited:
            self._by_dir[directory] = found
        return found


def _parse_toml(raw: bytes, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line L, column C)".
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ConfigError(
            f"{path}: invalid TOML: arrays or inline tables nested too deeply to read"
        ) from None


def load_config(path: str) -> Config:
    """Load ``path``: a ``pyproject.toml`` (its ``[tool.nnlint]`` table) or a bare nnlint TOML file.

    A ``pyproject.toml`` without ``[tool.nnlint]`` gives the default settings rooted at its folder.
    """
    try:
        raw = read_regular_file(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except NotARegularFile as exc:
        raise ConfigError(f"{path}: is {exc.kind}, expected a TOML file") from None
    except FileTooLarge as exc:
        raise ConfigError(
            f"{path}: {exc.size:,} bytes or more is too large for a configuration file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc.strerror}") from None
    data = _parse_toml(raw, path)
    abs_path = os.path.abspath(path)
    root = os.path.dirname(abs_path)
    if os.path.basename(path) == CONFIG_FILENAME:
        tool = data.get("tool", {})
        table = tool.get("nnlint", {}) if isinstance(tool, dict) else {}
        prefix = "tool.nnlint"
    else:
        table, prefix = data, ""
        if "tool" in data:
            raise ConfigError(
                f"{path}: {BARE_SETTINGS_NOTE}, so its `[tool...]` tables are not read; move "
                "the keys of `[tool.nnlint]` to the top level, or name the file pyproject.toml"
            )
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: `{prefix}` must be a table")
    return _config_from_table(table, path, root, prefix)


BARE_SETTINGS_NOTE = (
    "read as bare nnlint settings (the file is not named pyproject.toml, so its top level is "
    "`[tool.nnlint]`)"
)


def default_config(root: str) -> Config:
    return Config(path=None, root=os.path.abspath(root))


def _key(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _string_list(value: Any, path: str, key: str, example: str = '"NN4"') -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"{path}: `{key}` must be a list of strings, got {_describe(value)}"
            f" (for example: {key.rsplit('.', 1)[-1]} = [{example}])"
        )
    return tuple(item.strip() for item in value)


def _glob_list(value: Any, path: str, key: str) -> tuple[str, ...]:
    globs = _string_list(value, path, key, example='"experiments/legacy"')
    _check_globs(globs, path, key)
    return globs


def _check_globs(globs: Sequence[str], path: str, key: str) -> None:
    for glob in globs:
        try:
            compile_globs([glob])
        except GlobError as exc:
            raise ConfigError(
                f"{path}: `{key}`: {exc} (globs use .gitignore syntax: `*`, `?`, `[a-z]`, `**`)"
            ) from None


def _describe(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, (dict, list)) else kind


def _config_from_table(table: dict[str, Any], path: str, root: str, prefix: str) -> Config:
    select = extend_select = ignore = None
    exclude: list[str] = []
    include: tuple[str, ...] | None = None
    extend_include: list[str] = []
    respect_gitignore: bool | None = None
    per_file: list[tuple[str, tuple[str, ...]]] = []
    rule_options: dict[str, dict[str, Any]] = {}
    max_file_size = DEFAULT_MAX_FILE_SIZE
    for key, value in table.items():
        full = _key(prefix, key)
        if key == "select":
            select = _string_list(value, path, full)
            if not select:
                raise ConfigError(_EMPTY_SELECT.format(where=f"{path}: `{full}`"))
        elif key == "max-file-size":
            if type(value) is not int or value < 1:
                raise ConfigError(
                    f"{path}: `{full}` must be a positive number of bytes, got {_describe(value)}"
                    f" (for example: max-file-size = {DEFAULT_MAX_FILE_SIZE})"
                )
            max_file_size = value
        elif key == "extend-select":
            extend_select = _string_list(value, path, full)
        elif key == "ignore":
            ignore = _string_list(value, path, full)
        elif key in ("exclude", "extend-exclude"):
            exclude.extend(_glob_list(value, path, full))
        elif key == "include":
            include = _glob_list(value, path, full)
        elif key == "extend-include":
            extend_include.extend(_glob_list(value, path, full))
        elif key == "respect-gitignore":
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: `{full}` must be true or false, got {_describe(value)}")
            respect_gitignore = value
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}: `{full}` must be a table of glob = [codes], got {_describe(value)}"
                )
            for glob, codes in value.items():
                entry_key = f'{full}."{glob}"'
                _check_globs([glob], path, entry_key)
                per_file.append((glob, _string_list(codes, path, entry_key)))
        elif isinstance(value, dict):
            # Checked against the rule registry in `resolve`: only then do we know rule names.
            rule_options[key] = value
        else:
            bare = f" (it is {BARE_SETTINGS_NOTE})" if not prefix else ""
            raise ConfigError(
                f"{path}: unknown key `{full}`{_suggest(key, TOP_LEVEL_KEYS)}{bare}; valid keys "
                "are "
                + ", ".join(TOP_LEVEL_KEYS)
                + f", and per-rule option tables [{_key(prefix, '<rule-name>')}]"
            )
    selection = RuleSelection(
        select=select,
        extend_select=extend_select or (),
        ignore=ignore or (),
        origin=path,
    )
    return Config(
        path=path,
        root=root,
        selection=selection,
        exclude=tuple(exclude),
        include=(include if include is not None else DEFAULT_INCLUDE) + tuple(extend_include),
        respect_gitignore=respect_gitignore,
        per_file_ignores=tuple(per_file),
        rule_options=rule_options,
        max_file_size=max_file_size,
    )


# ruff accepts an empty `select` and then checks nothing; for nnlint that would silently switch
# off NN001 too, so it is an error that says how to get what was probably meant.
_EMPTY_SELECT = (
    "{where} is empty, which would turn off every rule (even NN001 syntax errors); list the "
    'rules to run (`select = ["NN4"]`), leave it out for the defaults, or use '
    '`ignore = ["ALL"]` to run nothing'
)


def check_cli_select(select: tuple[str, ...] | None) -> None:
    """``--select ""`` is the same mistake as an empty ``select`` in the configuration."""
    if select is not None and not select:
        raise ConfigError(_EMPTY_SELECT.format(where="`--select`"))


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


# --------------------------------------------------------------------------------------------
# Resolving selectors and options against the rule registry


class RuleIndex:
    """Rules by code and name, and selector matching (``ALL``, code prefixes, names)."""

    def __init__(self, rules: Sequence[RuleInfo]) -> None:
        self.rules = sorted(rules, key=lambda r: r.code)
        self.by_code = {r.code: r for r in self.rules}
        self.by_name = {r.name: r for r in self.rules}

    def expand(self, selector: str, origin: str, key: str) -> tuple[int, list[str]]:
        """The codes ``selector`` names and its specificity (higher wins); ConfigError if none."""
        token = selector.strip()
        if token.upper() == "ALL":
            return 0, list(self.by_code)
        if token in self.by_name:
            return 100, [self.by_name[token].code]
        upper = token.upper()
        codes = [code for code in self.by_code if code.startswith(upper)] if upper else []
        if not codes:
            hint = _suggest(token, [*self.by_code, *self.by_name])
            raise ConfigError(
                f"{origin}: unknown rule selector `{selector}` in `{key}`{hint}; "
                "use a rule code (NN401), a code prefix (NN4), a rule name, or ALL "
                "(`nnlint rules` lists them)"
            )
        return (100 if upper in self.by_code else len(upper)), codes


def _apply_layer(
    index: RuleIndex, enabled: set[str], layer: RuleSelection, keys: Mapping[str, str]
) -> set[str]:
    decisions: dict[str, tuple[int, bool]] = {}

    def note(selectors: Iterable[str], key: str, turn_on: bool) -> None:
        for selector in selectors:
            specificity, codes = index.expand(selector, layer.origin, key)
            for code in codes:
                previous = decisions.get(code)
                # More specific wins; on a tie, ignore (turn_on=False) wins.
                if (
                    previous is None
                    or specificity > previous[0]
                    or (specificity == previous[0] and not turn_on)
                ):
                    decisions[code] = (specificity, turn_on)

    note(layer.select or (), keys["select"], True)
    note(layer.extend_select, keys["extend-select"], True)
    note(layer.ignore, keys["ignore"], False)
    result = set() if layer.select is not None else set(enabled)
    for code, (_, turn_on) in decisions.items():
        if turn_on:
            result.add(code)
        else:
            result.discard(code)
    return result


CLI_KEYS = {"select": "--select", "extend-select": "--extend-select", "ignore": "--ignore"}


def resolve(
    config: Config,
    cli: RuleSelection,
    rules: Sequence[RuleInfo],
) -> ResolvedSettings:
    """Resolve the enabled rules and their options: defaults, then ``config``, then ``cli``."""
    index = RuleIndex(rules)
    enabled = {r.code for r in index.rules if r.default_enabled}
    file_keys = {k: _config_key(config, k) for k in CLI_KEYS}
    enabled = _apply_layer(index, enabled, config.selection, file_keys)
    enabled = _apply_layer(index, enabled, cli, CLI_KEYS)
    # Checked here (not at load) so that an unknown code is reported even if no file matches.
    for glob, selectors in config.per_file_ignores:
        for selector in selectors:
            index.expand(selector, config.origin, _per_file_key(config, glob))
    options = resolve_rule_options(config, index)
    return make_settings(enabled, options)


def _is_pyproject(config: Config) -> bool:
    return config.path is not None and os.path.basename(config.path) == CONFIG_FILENAME


def _config_key(config: Config, key: str) -> str:
    """How the configuration file spells ``key`` (``tool.nnlint.ignore`` in a pyproject.toml)."""
    return f"tool.nnlint.{key}" if _is_pyproject(config) else key


def _per_file_key(config: Config, glob: str) -> str:
    return f'{_config_key(config, "per-file-ignores")}."{glob}"'


def resolve_rule_options(config: Config, index: RuleIndex) -> dict[str, dict[str, Any]]:
    """Every rule's options: its defaults overlaid with ``[tool.nnlint.<rule-name>]``."""
    options = {r.code: dict(r.options) for r in index.rules if r.options}
    prefix = "tool.nnlint." if _is_pyproject(config) else ""
    for table_name, values in config.rule_options.items():
        rule = index.by_name.get(table_name) or index.by_code.get(table_name.upper())
        if rule is None:
            raise ConfigError(
                f"{config.origin}: unknown key `{prefix}{table_name}`: not a setting nor a rule "
                f"name{_suggest(table_name, [*TOP_LEVEL_KEYS, *index.by_name])}"
            )
        where = f"[{prefix}{table_name}]"
        if not rule.options:
            raise ConfigError(f"{config.origin}: {where}: rule {rule.code} has no options")
        for option, value in values.items():
            if option not in rule.options:
                raise ConfigError(
                    f"{config.origin}: {where}: unknown option `{option}`"
                    f"{_suggest(option, rule.options)}; {rule.code} ({rule.name}) accepts: "
                    + ", ".join(sorted(rule.options))
                )
            options[rule.code][option] = _check_option_type(
                value, rule.options[option], f"{config.origin}: {where}: option `{option}`"
            )
    return options


def _check_option_type(value: Any, default: Any, where: str) -> Any:
    if default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, list)
        if ok and default:
            element = default[0]
            for item in value:
                _check_option_type(item, element, f"{where} (list item)")
        if ok and isinstance(default, tuple):
            value = tuple(value)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(
            f"{where} must be {_describe(default).split(' (')[0]}, got {_describe(value)}"
        )
    return value


@dataclass(frozen=True)
class PerFileIgnores:
    """``per-file-ignores`` with selectors expanded to codes, ready to match paths."""

    entries: tuple[tuple[PathMatcher, frozenset[str]], ...] = ()

    def codes_for(self, path: str) -> frozenset[str]:
        """Codes switched off for ``path``."""
        codes: set[str] = set()
        for matcher, ignored in self.entries:
            if matcher.matches(path):
                codes |= ignored
        return frozenset(codes)


def compile_per_file_ignores(config: Config, rules: Sequence[RuleInfo]) -> PerFileIgnores:
    index = RuleIndex(rules)
    entries = []
    for glob, selectors in config.per_file_ignores:
        codes: set[str] = set()
        for selector in selectors:
            codes.update(index.expand(selector, config.origin, _per_file_key(config, glob))[1])
        entries.append((PathMatcher(root=config.root, patterns=(glob,)), frozenset(codes)))
    return PerFileIgnores(tuple(entries))


# --------------------------------------------------------------------------------------------
# Storing resolved settings (see nnlint.cache.SettingsCache): plain JSON-able records


def config_identity(config: Config, cli: RuleSelection) -> dict[str, Any]:
    """Everything resolution depends on besides the rule registry (covered by the code
    fingerprint)."""
    return {
        "path": config.path,
        "root": config.root,
        "selection": [config.selection.select, config.selection.extend_select],
        "ignore": config.selection.ignore,
        "per_file_ignores": config.per_file_ignores,
        "rule_options": config.rule_options,
        "cli": [cli.select, cli.extend_select, cli.ignore],
    }


def settings_to_record(settings: ResolvedSettings, per_file: PerFileIgnores) -> dict[str, Any]:
    return {
        "enabled": sorted(settings.enabled),
        "options": settings.options,
        "per_file": [[m.patterns[0], sorted(codes)] for m, codes in per_file.entries],
    }


def settings_from_record(
    record: Mapping[str, Any], config: Config
) -> tuple[ResolvedSettings, PerFileIgnores]:
    """Inverse of ``settings_to_record``; raises KeyError/TypeError/ValueError if damaged."""
    settings = make_settings(record["enabled"], record["options"])
    entries = tuple(
        (PathMatcher(root=config.root, patterns=(str(glob),)), frozenset(codes))
        for glob, codes in record["per_file"]
    )
    return settings, PerFileIgnores(entries)
