"""The ``nnlint`` command line (click): ``check``, ``rule``, ``rules``, with ruff's options.

Exit codes: 0 no findings, 1 findings (or, with ``--diff``, pending fixes), 2 usage, configuration
or internal error. An internal error prints one message; ``NNLINT_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

import nnlint
from nnlint.config import (
    Config,
    ConfigError,
    ConfigFinder,
    PerFileIgnores,
    ResolvedSettings,
    RuleSelection,
    check_cli_select,
    compile_per_file_ignores,
    config_identity,
    default_config,
    load_config,
    resolve,
    settings_from_record,
    settings_to_record,
)
from nnlint.files import DEFAULT_MAX_FILE_SIZE, read_regular_file
from nnlint.findings import Finding

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
REPORT_URL = "https://github.com/nnlint/nnlint/issues"


class UserError(Exception):
    """Bad input the user can fix (a missing path, conflicting options): message, exit 2."""


class NNLintGroup(click.Group):
    """Turns our errors into a message and exit 2, so no traceback from nnlint's internals leaks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (ConfigError, UserError) as exc:
            click.echo(f"nnlint: error: {exc}", err=True)
            ctx.exit(EXIT_ERROR)
        except BrokenPipeError:
            # `nnlint check | head`: the reader left; stop quietly, as other CLI tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("nnlint: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            if os.environ.get("NNLINT_DEBUG"):
                raise
            click.echo(
                f"nnlint: internal error: {type(exc).__name__}: {exc}\n"
                f"This is a bug in nnlint; please report it at {REPORT_URL} "
                "(run with NNLINT_DEBUG=1 to see the traceback).",
                err=True,
            )
            ctx.exit(EXIT_ERROR)


@click.group(cls=NNLintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    nnlint.__version__, "-V", "--version", prog_name="nnlint", message="%(prog)s %(version)s"
)
def cli() -> None:
    """nnlint: catch neural-network training failures in code, before they cost a GPU-week."""


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="nnlint")


# --------------------------------------------------------------------------------------------
# Rule registry access (imported lazily: `nnlint --version` and `--help` need none of it)


def _all_rules() -> list[Any]:
    from nnlint.rules import all_rules

    return list(all_rules())


def _rule_lookup(rules: Sequence[Any]):
    from nnlint.formats import UnknownRule

    by_code = {r.code: r for r in rules}

    def lookup(code: str) -> Any:
        return by_code.get(code) or UnknownRule(code)

    return lookup


def _comma_list(values: Sequence[str]) -> tuple[str, ...]:
    """`--select NN4,NN101 --select NN2` -> ("NN4", "NN101", "NN2")."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


# --------------------------------------------------------------------------------------------
# nnlint check


def _display_path(path: str) -> str:
    """Paths under the CWD are shown relative to it (as ruff does), others absolute."""
    abs_path = os.path.abspath(path)
    cwd = os.getcwd()
    if abs_path == cwd or abs_path.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(abs_path, cwd)
    return abs_path


class _Project:
    """Configurations by file, resolved settings per configuration (computed once each).

    Resolved settings are read from the settings cache when possible, so that a warm run never
    imports the rule registry (and with it libcst).
    """

    def __init__(self, config_path: str | None, cli_selection: RuleSelection) -> None:
        self._forced = load_config(config_path) if config_path is not None else None
        self._cli = cli_selection
        self._loaded: dict[str | None, Config] = {}
        self._finder = ConfigFinder()
        self._resolved: dict[str | None, tuple[ResolvedSettings, PerFileIgnores]] = {}
        self._rules: list[Any] | None = None
        self._severities: dict[str, str] | None = None
        self.settings_cache: Any = None

    @property
    def rules(self) -> list[Any]:
        if self._rules is None:
            self._rules = _all_rules()
        return self._rules

    def severity(self, code: str) -> str:
        """The severity of a rule (``error``/``warning``), from the settings cache when warm."""
        if self._severities is None:
            key = None
            if self.settings_cache is not None:
                key = self.settings_cache.key("severities")
                self._severities = self.settings_cache.get(key)
            if self._severities is None:
                self._severities = {r.code: r.severity.value for r in self.rules}
                if key is not None:
                    self.settings_cache.put(key, self._severities)
        return self._severities.get(code, "error")

    def config_for(self, path: str) -> Config:
        if self._forced is not None:
            return self._forced
        found = self._finder.find(path)
        if found not in self._loaded:
            self._loaded[found] = (
                load_config(found) if found is not None else default_config(os.getcwd())
            )
        return self._loaded[found]

    def _resolve(self, config: Config) -> tuple[ResolvedSettings, PerFileIgnores]:
        key = None
        if self.settings_cache is not None:
            key = self.settings_cache.key(config_identity(config, self._cli))
            record = self.settings_cache.get(key)
            if record is not None:
                try:
                    return settings_from_record(record, config)
                except (KeyError, TypeError, ValueError):
                    pass  # a damaged entry: resolve again
        settings = resolve(config, self._cli, self.rules)
        per_file = compile_per_file_ignores(config, self.rules)
        if key is not None:
            self.settings_cache.put(key, settings_to_record(settings, per_file))
        return settings, per_file

    def settings_for(self, config: Config, path: str) -> ResolvedSettings:
        if config.path not in self._resolved:
            self._resolved[config.path] = self._resolve(config)
        settings, per_file = self._resolved[config.path]
        return settings.without(per_file.codes_for(path))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--select", multiple=True, help="Rules to enable (codes, prefixes like NN4, ALL).")
@click.option("--extend-select", multiple=True, help="Rules to enable on top of `select`.")
@click.option("--ignore", multiple=True, help="Rules to disable (codes, prefixes).")
@click.option(
    "--output-format",
    type=click.Choice(["concise", "full", "json", "github", "sarif"]),
    default="concise",
    show_default=True,
    help="How to print findings.",
)
@click.option("--statistics", is_flag=True, help="Show a count per rule instead of each finding.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place.")
@click.option(
    "--unsafe-fixes/--no-unsafe-fixes",
    default=False,
    help="Also apply (and mark as fixable) fixes that may change what the author chose on purpose.",
)
@click.option("--show-fixes", is_flag=True, help="List the fixes `--fix` applies (or would apply).")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option(
    "--add-noqa",
    is_flag=True,
    help="Add `# noqa: CODE` to every line with a finding (to baseline a legacy code base).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=str),
    envvar="NNLINT_CACHE_DIR",
    help="Cache folder [default: .nnlint_cache in the project root; env: NNLINT_CACHE_DIR].",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=str),
    help="Use this pyproject.toml (or bare nnlint TOML file) instead of searching for one.",
)
@click.option(
    "--stdin-filename",
    type=str,
    help="The file name to report and match config against when linting stdin (`-`).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply `exclude` to files named on the command line too (pre-commit uses this).",
)
@click.option(
    "--respect-gitignore/--no-respect-gitignore",
    default=None,
    help="Skip files ignored by .gitignore, .ignore and .git/info/exclude [default: respect].",
)
@click.option("--show-files", is_flag=True, help="Print the files that would be linted; lint none.")
@click.option(
    "--show-settings",
    is_flag=True,
    help="Print the settings that govern the first path (or stdin); lint nothing.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes to lint with [default: CPU count; 1 = in process].",
)
@click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary.")
@click.version_option(
    nnlint.__version__, "-V", "--version", prog_name="nnlint", message="%(prog)s %(version)s"
)
@click.pass_context
def check(
    ctx: click.Context,
    paths: tuple[str, ...],
    select: tuple[str, ...],
    extend_select: tuple[str, ...],
    ignore: tuple[str, ...],
    output_format: str,
    statistics: bool,
    exit_zero: bool,
    fix: bool,
    unsafe_fixes: bool,
    show_fixes: bool,
    diff: bool,
    add_noqa: bool,
    no_cache: bool,
    cache_dir: str | None,
    config_path: str | None,
    stdin_filename: str | None,
    force_exclude: bool,
    respect_gitignore: bool | None,
    show_files: bool,
    show_settings: bool,
    jobs: int | None,
    quiet: bool,
) -> None:
    """Lint PATHS (files, folders, notebooks; default: the current folder; `-` reads stdin)."""
    from nnlint.cache import ResultCache, SettingsCache, default_cache_dir
    from nnlint.discovery import iter_python_files
    from nnlint.runner import run

    paths = paths or (".",)
    use_stdin = "-" in paths
    if use_stdin and len(paths) > 1:
        raise UserError("`-` (stdin) cannot be combined with other paths")
    if stdin_filename is not None and not use_stdin:
        raise UserError("--stdin-filename is only meaningful when linting stdin (`-`)")
    if add_noqa and (fix or diff):
        raise UserError("--add-noqa cannot be combined with --fix or --diff")
    cli_selection = RuleSelection(
        select=_comma_list(select) if select else None,
        extend_select=_comma_list(extend_select),
        ignore=_comma_list(ignore),
    )
    check_cli_select(cli_selection.select)
    project = _Project(config_path, cli_selection)

    if use_stdin:
        stdin_name = stdin_filename or "-"
        arg_configs = [(stdin_name, project.config_for(stdin_name if stdin_filename else "."))]
    else:
        for raw in paths:
            if not os.path.lexists(raw):
                raise UserError(f"path does not exist: {raw}")
        arg_configs = [(raw, project.config_for(raw)) for raw in paths]

    cache = None
    if not no_cache:
        directory = cache_dir or default_cache_dir(arg_configs[0][1].root)
        cache = ResultCache(directory)
        project.settings_cache = SettingsCache(directory)
    # Resolved up front, so that a bad selector is an error whether or not a file is found.
    for raw, config in arg_configs:
        project.settings_for(config, raw)

    if show_settings:
        raw, config = arg_configs[0]
        click.echo(_settings_text(project, raw, config, respect_gitignore, cache_dir, no_cache))
        ctx.exit(EXIT_OK)

    inputs = _Inputs()
    if use_stdin:
        name, config = arg_configs[0]
        inputs.add(name, project.settings_for(config, name), sys.stdin.buffer.read())
    else:
        # As ruff: each file is governed by its nearest configuration, so a sub-project's
        # pyproject.toml applies below it (its excludes too) when the walk enters it.
        def rules_for(path: str) -> Any:
            return project.config_for(path).discovery_rules

        def loop_warning(path: str) -> None:
            click.echo(f"warning: skipping {_display_path(path)}: a symbolic link loop", err=True)

        raw_paths = [raw for raw, _ in arg_configs]
        gitignore = respect_gitignore
        if gitignore is None:
            gitignore = arg_configs[0][1].respect_gitignore is not False
        for discovered in iter_python_files(
            raw_paths,
            rules_for,
            force_exclude=force_exclude,
            respect_gitignore=gitignore,
            on_symlink_loop=loop_warning,
        ):
            display = _display_path(discovered.path)
            if show_files:
                click.echo(display)
                continue
            config = project.config_for(discovered.path)
            inputs.add(
                display,
                project.settings_for(config, display),
                max_bytes=config.max_file_size,
            )
        if show_files:
            ctx.exit(EXIT_OK)
        if not inputs.jobs and not inputs.findings:
            click.echo(f"warning: No Python files found under {', '.join(raw_paths)}", err=True)
            ctx.exit(EXIT_OK)

    result = run(
        inputs.jobs,
        cache=cache,
        fix=fix or diff,
        unsafe_fixes=unsafe_fixes,
        jobs=jobs if jobs is not None else (os.cpu_count() or 1),
    )
    fixed_by_path = inputs.finish(result)

    if add_noqa:
        from nnlint.suppression import add_noqa_directives

        added = add_noqa_directives(result.findings, lambda path: inputs.notebook_whole(path)[0])
        for path, reason in added.not_written:
            click.echo(f"nnlint: warning: no noqa directives written to {path}: {reason}", err=True)
        if not quiet:
            click.echo(f"Added {_plural(added.lines, 'noqa directive')}.", err=True)
        # Findings left without their directive are still findings.
        ctx.exit(EXIT_FINDINGS if added.not_written and not exit_zero else EXIT_OK)

    for note in result.notes:
        click.echo(f"nnlint: warning: {note}", err=True)
    out = sys.stdout
    if diff:
        ctx.exit(_report_diff(inputs, result, quiet, exit_zero))

    before_fix: list[Finding] = []
    if show_fixes and fix and result.fixed_files:
        # The findings of the fixed files before fixing, to list what the fixes removed.
        before_fix = run(
            [job for job in inputs.jobs if job.path in fixed_by_path], cache=cache, jobs=1
        ).findings
        before_fix = inputs.map_findings(before_fix)
    if fix and use_stdin:
        # As ruff: the fixed code goes to stdout, diagnostics to stderr.
        job = inputs.jobs[0]
        fixed = fixed_by_path.get(job.path)
        sys.stdout.buffer.write(fixed.fixed if fixed else inputs.original(job.path))
        sys.stdout.flush()
        out = sys.stderr
    elif fix:
        _write_fixes(result, inputs)

    # The concise format needs no rule metadata: a warm run then never imports the rules.
    needs_rules = output_format == "sarif" or (
        bool(result.findings) and (output_format != "concise" or statistics)
    )
    rules = project.rules if needs_rules else []
    lookup = _rule_lookup(rules)
    findings = result.findings
    if statistics:
        from nnlint.formats import render_statistics, render_statistics_json

        if output_format == "json":
            out.write(render_statistics_json(findings, lookup))
        else:
            out.write(render_statistics(findings, lookup))
    else:
        from nnlint.formats import render

        edits = None
        if output_format == "json" and not fix and any(f.fixable for f in findings):
            edits = _fix_edits(inputs, findings, jobs, unsafe_fixes=unsafe_fixes)
        out.write(
            render(
                output_format,
                findings,
                lookup,
                all_rules=rules,
                sources=inputs.stdin_sources(),
                cell_sources=inputs.cell_sources(),
                edits=edits,
                unsafe_fixes=unsafe_fixes,
            )
        )

    if show_fixes:
        _print_fixes(out, result, before_fix, fix, unsafe_fixes, project)
    if not quiet and output_format in ("concise", "full"):
        _print_summary(out, findings, result.fixed_count, fix, unsafe_fixes, project.severity)
    out.flush()
    ctx.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_OK)


def _write_fixes(result: Any, inputs: _Inputs) -> None:
    """Write each fixed file in place; a file that changed since it was read, or that is
    read-only, is left alone with a warning, and its findings are reported unfixed."""
    from nnlint.files import write_in_place

    for fixed_file in list(result.fixed_files):
        reason = write_in_place(fixed_file.path, fixed_file.original, fixed_file.fixed)
        if reason is None:
            continue
        click.echo(f"nnlint: warning: fixes not written to {fixed_file.path}: {reason}", err=True)
        result.keep_unfixed(fixed_file, inputs.map_findings(fixed_file.unfixed_findings))


class _Inputs:
    """The files of one run as the runner sees them: notebooks become their virtual Python
    file, and their findings and fixes are mapped back to cells afterwards."""

    def __init__(self) -> None:
        from nnlint.runner import LintJob

        self._job_type = LintJob
        self.jobs: list[Any] = []
        self.notebooks: dict[str, Any] = {}
        self.findings: list[Finding] = []  # notebooks that could not be read
        self._stdin: tuple[str, bytes] | None = None
        self.virtual_fixed: dict[str, str] = {}

    def add(
        self,
        path: str,
        settings: ResolvedSettings,
        source: bytes | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        from_stdin = source is not None
        notebook_name = path if source is None else (path if path != "-" else "")
        if notebook_name.endswith(".ipynb"):
            from nnlint.notebook import NotebookError, read_notebook
            from nnlint.runner import SYNTAX_ERROR_CODE, read_error_finding

            try:
                if source is None:
                    # Outputs make notebooks big: no size limit, but never a FIFO or a device.
                    source = read_regular_file(path)
                notebook = read_notebook(source)
            except OSError as exc:
                self.findings.append(read_error_finding(path, exc))
                return
            except NotebookError as exc:
                self.findings.append(
                    Finding(path, 1, 1, SYNTAX_ERROR_CODE, f"Cannot read notebook: {exc}", 1, 1)
                )
                return
            self.jobs.append(self._job_type(path, settings, notebook.virtual_bytes))
            if not from_stdin:
                # The JSON (outputs and all, often megabytes) is read again only if a fix is
                # written, so a run over many notebooks holds just their code.
                notebook.text = ""
                source = None
            self.notebooks[path] = (notebook, source)
            return
        if source is not None:
            self._stdin = (path, source)
        self.jobs.append(self._job_type(path, settings, source, max_bytes))

    def original(self, path: str) -> bytes:
        if path in self.notebooks:
            return self.notebook_whole(path)[1]
        return self._stdin[1] if self._stdin is not None else b""

    def notebook_whole(self, path: str) -> tuple[Any, bytes]:
        """The notebook at ``path`` with its whole JSON text, read again if it was dropped."""
        from nnlint.notebook import read_notebook

        notebook, raw = self.notebooks[path]
        if raw is None:
            raw = read_regular_file(path)
            again = read_notebook(raw)
            if again.virtual != notebook.virtual:
                raise UserError(f"{path} changed while it was being linted; nothing was written")
            notebook = again
        return notebook, raw

    def map_findings(self, findings: Sequence[Finding]) -> list[Finding]:
        mapped = [
            self.notebooks[f.path][0].map_finding(f) if f.path in self.notebooks else f
            for f in findings
        ]
        return sorted(mapped, key=Finding.sort_key)

    def finish(self, result: Any) -> dict[str, Any]:
        """Map ``result`` (in place) to cells; return the fixed files by path."""
        from nnlint.runner import internal_error_finding

        fixed_files = []
        for fixed in result.fixed_files:
            if fixed.path not in self.notebooks:
                fixed_files.append(fixed)
                continue
            notebook, raw = self.notebook_whole(fixed.path)
            text = notebook.fixed_text(fixed.fixed.decode("utf-8"))
            if text is None:
                result.findings.append(
                    internal_error_finding(
                        fixed.path, RuntimeError("the fixes could not be mapped back to cells")
                    )
                )
                continue
            self.virtual_fixed[fixed.path] = fixed.fixed.decode("utf-8")
            fixed.original, fixed.fixed = raw, text.encode("utf-8")
            fixed_files.append(fixed)
        result.fixed_files = fixed_files
        result.findings = self.map_findings([*result.findings, *self.findings])
        return {f.path: f for f in fixed_files}

    def stdin_sources(self) -> dict[str, list[str]] | None:
        if self._stdin is None:
            return None
        path, source = self._stdin
        return {path: source.decode("utf-8", "replace").split("\n")}

    def cell_sources(self) -> dict[tuple[str, int], list[str]]:
        return {
            (path, number): lines
            for path, (notebook, _) in self.notebooks.items()
            for number, lines in notebook.cell_lines().items()
        }


def _fix_edits(
    inputs: _Inputs, findings: Sequence[Finding], jobs: int | None, *, unsafe_fixes: bool
) -> Any:
    """The edits of each fixable finding, for the JSON format (as ruff's ``fix.edits``).

    Only files with a fixable finding are linted again, in fix mode (unsafe fixes included, so
    that every fix shows its edits) and without the cache. Notebook edits count rows within
    their cell.
    """
    from nnlint.formats import assign_edits, edits_between
    from nnlint.runner import run

    fixable_paths = {f.path for f in findings if f.fixable}
    wanted = [job for job in inputs.jobs if job.path in fixable_paths]
    result = run(
        wanted, cache=None, fix=True, unsafe_fixes=True, jobs=jobs or (os.cpu_count() or 1)
    )
    edits: dict[Finding, Any] = {}
    for fixed in result.fixed_files:
        changes = edits_between(
            fixed.original.decode("utf-8", "replace"), fixed.fixed.decode("utf-8", "replace")
        )
        in_file = [f for f in findings if f.path == fixed.path]
        if fixed.path in inputs.notebooks:
            notebook = inputs.notebooks[fixed.path][0]
            changes = [notebook.map_edit(change) for change in changes]
        edits.update(assign_edits(in_file, [c for c in changes if c is not None]))
    return edits


def _plural(n: int, word: str = "error") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _by_severity(findings: Sequence[Finding], severity_of: Any) -> str:
    """``2 errors and 1 warning``: the findings counted by their rules' severity."""
    errors = sum(1 for f in findings if severity_of(f.code) != "warning")
    warnings = len(findings) - errors
    parts = [_plural(errors)] if errors else []
    if warnings:
        parts.append(_plural(warnings, "warning"))
    return " and ".join(parts) or "0 errors"


def _applies(finding: Finding, unsafe_fixes: bool) -> bool:
    from nnlint.formats import fix_applies

    return fix_applies(finding, unsafe_fixes=unsafe_fixes)


def _print_summary(
    out: Any,
    findings: Sequence[Finding],
    fixed: int,
    fix_mode: bool,
    unsafe_fixes: bool,
    severity_of: Any,
) -> None:
    remaining = len(findings)
    fixable = sum(1 for f in findings if _applies(f, unsafe_fixes))
    hidden = sum(1 for f in findings if f.fixable) - fixable
    if fixed:
        rest = f": {_by_severity(findings, severity_of)}" if remaining else ""
        out.write(
            f"Found {_plural(fixed + remaining, 'finding')} "
            f"({fixed} fixed, {remaining} remaining{rest}).\n"
        )
    elif remaining:
        out.write(f"Found {_by_severity(findings, severity_of)}.\n")
    else:
        out.write("All checks passed!\n")
    hint = ""
    if hidden:
        hint = (
            f" ({hidden} hidden {'fix' if hidden == 1 else 'fixes'} can be enabled with the "
            "`--unsafe-fixes` option)"
        )
    if fixable and not fix_mode:
        out.write(f"[*] {fixable} fixable with the `--fix` option{hint}.\n")
    elif hidden:
        out.write(f"No fixes available{hint}.\n")


def _patch_lines(data: bytes) -> list[bytes]:
    """Lines as ``patch`` reads them: split after each \n only, so a \r (CRLF or CR-only
    files) and a form feed stay inside the line they belong to."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def unified_diff_bytes(path: str, original: bytes, fixed: bytes) -> bytes:
    """A unified diff of the raw bytes, which ``patch -p0`` applies whatever the file's
    encoding and line endings (nothing is decoded, so nothing is replaced)."""
    name = os.fsencode(path)
    out: list[bytes] = []
    for line in difflib.diff_bytes(
        difflib.unified_diff, _patch_lines(original), _patch_lines(fixed), name, name
    ):
        out.append(line if line.endswith(b"\n") else line + b"\n\\ No newline at end of file\n")
    return b"".join(out)


def _print_fixes(
    out: Any,
    result: Any,
    before_fix: Sequence[Finding],
    fix_mode: bool,
    unsafe_fixes: bool,
    project: _Project,
) -> None:
    """``--show-fixes``: the fixes applied (with --fix) or the ones --fix would apply, by file."""
    from collections import Counter

    names = {r.code: r.name for r in project.rules}
    if fix_mode:
        remaining = Counter((f.path, f.code) for f in result.findings)
        fixed: Counter[tuple[str, str]] = Counter()
        for f in before_fix:
            if remaining[(f.path, f.code)]:
                remaining[(f.path, f.code)] -= 1
            else:
                fixed[(f.path, f.code)] += 1
        if not fixed:
            out.write("No findings fixed.\n")
            return
        out.write(f"Fixed {_plural(sum(fixed.values()), 'finding')}:\n")
        for path in sorted({p for p, _ in fixed}):
            out.write(f"- {path}:\n")
            for (where, code), n in sorted(fixed.items()):
                if where == path:
                    out.write(f"    {n} × {code} ({names.get(code, code)})\n")
        return
    pending = [f for f in result.findings if _applies(f, unsafe_fixes)]
    if not pending:
        out.write("No fixes available.\n")
        return
    out.write(f"Would fix {_plural(len(pending), 'finding')}:\n")
    for f in pending:
        where = f"{f.path}:cell {f.cell}:" if f.cell is not None else f"{f.path}:"
        safety = f" ({f.fix_applicability.value})" if unsafe_fixes else ""
        out.write(f"- {where}{f.line}:{f.column}: {f.code} {f.fix_title or ''}{safety}\n")


def _report_diff(inputs: _Inputs, result: Any, quiet: bool, exit_zero: bool) -> int:
    out = sys.stdout
    out.flush()
    for fixed in result.fixed_files:
        if fixed.path in inputs.notebooks:
            notebook = inputs.notebooks[fixed.path][0]
            for label, before, after in notebook.changed_cells(inputs.virtual_fixed[fixed.path]):
                cell = f"{fixed.path}:{label}"
                out.buffer.write(unified_diff_bytes(cell, before.encode(), after.encode()) + b"\n")
            continue
        out.buffer.write(unified_diff_bytes(fixed.path, fixed.original, fixed.fixed) + b"\n")
    out.buffer.flush()
    if not quiet:
        count = result.fixed_count
        message = f"Would fix {_plural(count)}." if count else "No errors would be fixed."
        click.echo(message, err=True)
    return EXIT_FINDINGS if result.fixed_files and not exit_zero else EXIT_OK


def _settings_text(
    project: _Project,
    path: str,
    config: Config,
    respect_gitignore: bool | None,
    cache_dir: str | None,
    no_cache: bool,
) -> str:
    """``--show-settings``: where the settings come from and what they resolve to."""
    from nnlint.cache import default_cache_dir
    from nnlint.config import BARE_SETTINGS_NOTE

    settings = project.settings_for(config, path)
    source = config.path or "none found (default settings)"
    if config.is_bare:
        source += f" ({BARE_SETTINGS_NOTE})"
    gitignore = respect_gitignore
    if gitignore is None:
        gitignore = config.respect_gitignore is not False
    cache = "disabled (--no-cache)" if no_cache else (cache_dir or default_cache_dir(config.root))
    lines = [
        f"Settings for: {path}",
        f"Configuration file: {source}",
        f"Project root: {config.root}",
        f"Enabled rules ({len(settings.enabled)}): {', '.join(sorted(settings.enabled))}",
        f"Include: {json.dumps(list(config.include))}",
        f"Exclude (besides the built-in folders): {json.dumps(list(config.exclude))}",
        f"Respect .gitignore: {str(gitignore).lower()}",
        "Per-file ignores: "
        + (json.dumps({g: list(c) for g, c in config.per_file_ignores}) or "{}"),
        f"Cache: {cache}",
        "Rule options:",
    ]
    for code, options in sorted(settings.options.items()):
        lines.append(f"  {code}: {json.dumps(dict(options), sort_keys=True, default=repr)}")
    if not settings.options:
        lines.append("  (none)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# nnlint rule / nnlint rules


def _rule_record(rule: Any) -> dict[str, Any]:
    mode = rule.failure_mode
    return {
        "code": rule.code,
        "name": rule.name,
        "message": rule.message,
        "severity": rule.severity.value,
        "fixable": rule.fixable,
        "default_enabled": rule.default_enabled,
        "failure_mode": mode.id if mode is not None else None,
        "options": rule.options,
        "url": rule.url,
    }


@cli.command("rule")
@click.argument("code_or_name")
@click.option(
    "--output-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def rule_command(code_or_name: str, output_format: str) -> None:
    """Explain one rule (by code or name) or one failure mode (by id, e.g. dead-relu)."""
    from nnlint import catalog
    from nnlint.rules import get_rule

    try:
        rule = get_rule(code_or_name)
    except KeyError as exc:
        mode = catalog.FAILURE_MODES.get(code_or_name.strip().lower())
        if mode is None:
            message = exc.args[0] if exc.args else f"unknown rule {code_or_name!r}"
            raise UserError(
                f"{message}; a failure mode id works too ({', '.join(catalog.FAILURE_MODES)})"
            ) from None
        _explain_failure_mode(mode, output_format)
        return
    mode = rule.failure_mode
    if output_format == "json":
        record = _rule_record(rule)
        record["doc"] = rule.doc
        record["dynamic_checks"] = list(mode.dynamic_checks) if mode is not None else []
        click.echo(json.dumps(record, indent=2))
        return
    lines = [f"# {rule.name} ({rule.code})", ""]
    state = "on" if rule.default_enabled else "off (enable with --extend-select)"
    lines.append(f"Severity: {rule.severity.value}. Enabled by default: {state}.")
    lines.append("Fix is available (`nnlint check --fix`)." if rule.fixable else "No autofix.")
    lines += ["", rule.doc.strip(), ""]
    if rule.options:
        lines.append("## Options")
        lines.append("")
        for option, default in sorted(rule.options.items()):
            lines.append(f"- `{option}` (default: `{default!r}`)")
        lines += ["", f"Set them under `[tool.nnlint.{rule.name}]` in pyproject.toml.", ""]
    if mode is not None:
        lines += [f"## Failure mode: {mode.title} (`{mode.id}`)", "", mode.summary, "", mode.why]
        lines += ["", *_dynamic_check_lines(mode), "Remedies:"]
        lines += [f"- {remedy}" for remedy in mode.remedies]
        lines += ["", f"More: {mode.doc_url}"]
    click.echo("\n".join(lines).rstrip())


def _dynamic_check_lines(mode: Any) -> list[str]:
    if not mode.dynamic_checks:
        return []
    lines = ["Measured at run time by pytest-gradcheck:"]
    lines += [f"- {check}" for check in mode.dynamic_checks]
    return [*lines, ""]


def _explain_failure_mode(mode: Any, output_format: str) -> None:
    """``nnlint rule <failure-mode-id>``: the catalog entry with the rules and checks for it."""
    from nnlint import catalog

    rules = catalog.static_rules(mode.id)
    if output_format == "json":
        record = {
            "failure_mode": mode.id,
            "title": mode.title,
            "summary": mode.summary,
            "why": mode.why,
            "static_signs": list(mode.static_signs),
            "dynamic_signs": list(mode.dynamic_signs),
            "rules": [{"code": code, "name": name} for code, name in rules],
            "dynamic_checks": list(mode.dynamic_checks),
            "remedies": list(mode.remedies),
            "url": mode.doc_url,
        }
        click.echo(json.dumps(record, indent=2))
        return
    lines = [f"# {mode.title} (failure mode `{mode.id}`)", "", mode.summary, "", mode.why, ""]
    if rules:
        lines.append("Flagged statically by nnlint:")
        lines += [f"- {code} {name}" for code, name in rules]
    else:
        lines.append("No nnlint rule flags it statically yet; static signs to look for:")
        lines += [f"- {sign}" for sign in mode.static_signs]
    lines += ["", *_dynamic_check_lines(mode), "Remedies:"]
    lines += [f"- {remedy}" for remedy in mode.remedies]
    lines += ["", f"More: {mode.doc_url}"]
    click.echo("\n".join(lines).rstrip())


@cli.command("rules")
@click.option(
    "--output-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def rules_command(output_format: str) -> None:
    """List every rule: code, name, fixable, on by default, severity, failure mode."""
    rules = _all_rules()
    if output_format == "json":
        click.echo(json.dumps([_rule_record(r) for r in rules], indent=2))
        return
    header = ("CODE", "NAME", "FIX", "DEFAULT", "SEVERITY", "FAILURE MODE")
    rows = [
        (
            r.code,
            r.name,
            "[*]" if r.fixable else "",
            "on" if r.default_enabled else "off",
            r.severity.value,
            r.failure_mode.id if r.failure_mode is not None else "-",
        )
        for r in rules
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
