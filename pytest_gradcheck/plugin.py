"""The pytest-gradcheck plugin: options, ini keys, the ``gradcheck`` marker, fixtures and summary.

Importing this module must stay cheap: torch, numpy and matplotlib are imported only inside the
fixtures and hooks of tests that use the plugin, so suites that never probe a model pay nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_gradcheck.bounds import Bounds, BoundsError

if TYPE_CHECKING:
    from pytest_gradcheck.dropout import DropoutReport
    from pytest_gradcheck.report import GradientReport, Problem
    from pytest_gradcheck.training import TrainingReport

#: How many failing findings the terminal summary lists (all of them with -v).
_SUMMARY_FINDINGS = 10
#: The TestReport attribute that carries the probe records from xdist workers to the controller.
_REPORT_ATTR = "gradcheck_records"

_settings_key = pytest.StashKey["GradcheckSettings"]()
_item_bounds_key = pytest.StashKey[Bounds]()
_pending_key = pytest.StashKey["list[dict[str, Any]]"]()
_rng_key = pytest.StashKey[Any]()
_model_steps_key = pytest.StashKey["int | None"]()


class GradcheckSettings:
    """The run-wide configuration, resolved once at start-up from ini options and the CLI."""

    def __init__(self, bounds: Bounds, seed: int | None, report_dir: Path | None) -> None:
        self.bounds = bounds
        self.seed = seed
        self.report_dir = report_dir


# --------------------------------------------------------------------------------------------
# Options, ini keys and the marker


def _addini_scalar(parser: pytest.Parser, name: str, help: str, kind: type) -> None:
    # Native TOML config ([tool.pytest], pytest >= 9) keeps numbers typed; an ini file gives
    # strings. Accept both where pytest can say so, and validate the value ourselves either way
    # so that a bad value is reported with the option's name.
    try:
        parser.addini(name, help, type=kind | str, default=None)  # type: ignore[operator]
    except (TypeError, ValueError, AssertionError):
        parser.addini(name, help, default=None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradient health checks (pytest-gradcheck)")
    group.addoption(
        "--gradcheck-report",
        metavar="DIR",
        default=None,
        help="write each probed test's gradient report to DIR as JSON, and a gradient-flow "
        "PNG when matplotlib is installed.",
    )
    group.addoption(
        "--gradcheck-seed",
        metavar="SEED",
        default=None,
        help="seed torch with SEED before each test that uses the gradcheck fixture "
        "('none' to leave the RNG alone); overrides the gradcheck_seed ini option.",
    )
    group.addoption(
        "--gradcheck-model",
        metavar="MODULE:FACTORY",
        action="append",
        default=[],
        help="add a test item that runs the zero-code check (gradient probe, dropout, and a "
        "short run when the factory gives an optimizer) on FACTORY() from MODULE; repeatable.",
    )
    group.addoption(
        "--gradcheck-steps",
        metavar="N",
        default=None,
        help="run the short-run checks of --gradcheck-model items for N optimizer steps, with "
        "Adam(lr=0.001) when the factory gives no optimizer.",
    )
    defaults = Bounds()
    for name in Bounds.names():
        if name == "ignore":
            parser.addini(
                "gradcheck_ignore",
                "module paths or globs no gradcheck check looks at (default: none).",
                type="args",
            )
            continue
        _addini_scalar(
            parser,
            f"gradcheck_{name}",
            f"default gradcheck bound {name} (default: {getattr(defaults, name):g}).",
            float,
        )
    _addini_scalar(
        parser,
        "gradcheck_seed",
        "seed torch with this integer before each test that uses the gradcheck fixture; "
        "'none' leaves the RNG alone (default: 0).",
        int,
    )


def _read_ini_bounds(config: pytest.Config) -> Bounds:
    bounds = Bounds()
    where = f" in {config.inipath}" if config.inipath else ""
    for name in Bounds.names():
        option = f"gradcheck_{name}"
        value = config.getini(option)
        if name == "ignore":
            if not value:
                continue
            value = " ".join(value)
        elif value is None or value == "":
            continue
        try:
            bounds = bounds.merged({name: value}, source=f"ini option {option}{where}")
        except BoundsError as error:
            raise pytest.UsageError(str(error)) from None
    return bounds


def _parse_seed(value: Any, source: str) -> int | None:
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().lower() in ("none", "off"):
        return None
    try:
        seed = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        seed = -1
    if isinstance(value, bool) or seed < 0:
        raise pytest.UsageError(
            f"{source}: expected a non-negative integer seed or 'none', got {value!r}"
        )
    return seed


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "gradcheck(**bounds): override gradcheck bounds for this test, e.g. "
        "@pytest.mark.gradcheck(max_dead_fraction=0.8, ignore=['head.*']). "
        f"Known bounds: {', '.join(Bounds.names())}.",
    )
    bounds = _read_ini_bounds(config)
    cli_seed = config.getoption("gradcheck_seed")
    if cli_seed is not None:
        seed = _parse_seed(cli_seed, "--gradcheck-seed")
    else:
        where = f" in {config.inipath}" if config.inipath else ""
        seed = _parse_seed(config.getini("gradcheck_seed"), f"ini option gradcheck_seed{where}")
    report_dir = config.getoption("gradcheck_report")
    report_path = None
    if report_dir:
        report_path = Path(config.invocation_params.dir, report_dir).resolve()
        if report_path.exists() and not report_path.is_dir():
            raise pytest.UsageError(
                f"--gradcheck-report: {report_path} exists and is not a directory"
            )
        report_path.mkdir(parents=True, exist_ok=True)
    settings = GradcheckSettings(bounds, seed, report_path)
    config.stash[_settings_key] = settings
    config.stash[_model_steps_key] = _validate_model_options(config)
    config.pluginmanager.register(GradcheckSummary(settings), "gradcheck-summary")


def _validate_model_options(config: pytest.Config) -> int | None:
    """Check ``--gradcheck-model`` specs and ``--gradcheck-steps`` at start-up; the steps."""
    specs = config.getoption("gradcheck_model") or ()
    steps = config.getoption("gradcheck_steps")
    if not specs and steps is None:
        return None  # the common case imports nothing more
    from pytest_gradcheck.model_check import SpecError, parse_steps, split_spec

    for spec in specs:
        try:
            split_spec(spec)
        except SpecError as error:
            raise pytest.UsageError(f"--gradcheck-model: {error}") from None
    if steps is None:
        return None
    try:
        return parse_steps(steps)
    except ValueError as error:
        raise pytest.UsageError(f"--gradcheck-steps: {error}") from None


def _asked_for(config: pytest.Config) -> bool:
    """Whether a ``--gradcheck-*`` option was given on the command line."""
    names = ("gradcheck_report", "gradcheck_seed", "gradcheck_model", "gradcheck_steps")
    return any(config.getoption(name) for name in names)


def pytest_report_header(config: pytest.Config) -> str | None:
    # Installed with nnlint, the plugin is in every pytest run of the environment: it says
    # nothing unless asked for here, or until collection shows a test that uses it.
    return _header_line(config) if _asked_for(config) else None


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if _asked_for(config) or not any(_uses_plugin(item) for item in session.items):
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.option.verbose >= 0:
        reporter.write_line(_header_line(config))


def _uses_plugin(item: pytest.Item) -> bool:
    return _uses_gradcheck(item) or item.get_closest_marker("gradcheck") is not None


def _header_line(config: pytest.Config) -> str:
    from importlib.metadata import PackageNotFoundError, version

    settings = config.stash[_settings_key]
    try:
        torch = f"torch {version('torch')}"
    except PackageNotFoundError:
        torch = "torch not installed"
    seed = "seed none" if settings.seed is None else f"seed {settings.seed}"
    return f"gradcheck: {torch}, {seed}, bounds {_format_bounds(settings.bounds)}"


def _format_bounds(bounds: Bounds) -> str:
    parts = []
    for name, value in bounds.as_dict().items():
        if name == "ignore":
            if value:
                parts.append(f"ignore={','.join(value)}")
        else:
            parts.append(f"{name}={value:g}")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Per-test bounds (ini -> marker) and seeding


def _marker_bounds(item: pytest.Item, base: Bounds) -> Bounds:
    """The bounds of ``item``: ini defaults overridden by module, class, then function markers."""
    bounds = base
    # iter_markers yields the closest marker first; apply the farthest first so the closest wins.
    for marker in reversed(list(item.iter_markers("gradcheck"))):
        if marker.args:
            raise BoundsError(
                f"@pytest.mark.gradcheck takes keyword arguments only (got positional "
                f"{', '.join(map(repr, marker.args))}); known bounds: {', '.join(Bounds.names())}"
            )
        bounds = bounds.merged(marker.kwargs, source="@pytest.mark.gradcheck")
    return bounds


def _uses_gradcheck(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return "gradcheck" in names or "gradcheck_bounds" in names


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    settings = item.config.stash[_settings_key]
    try:
        item.stash[_item_bounds_key] = _marker_bounds(item, settings.bounds)
    except BoundsError as error:
        problem = str(error)
    else:
        problem = None
    if problem is not None:
        # Outside the except block, so pytest shows one message rather than a chained pair.
        pytest.fail(problem, pytrace=False)
    if settings.seed is not None and _uses_gradcheck(item):
        # Seed before any fixture runs, so models and inputs built by fixtures or in the test
        # body are reproducible too; the previous RNG state comes back at teardown.
        item.stash[_rng_key] = _seed_torch(settings.seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    saved = item.stash.get(_rng_key, None)
    if saved is not None:
        del item.stash[_rng_key]
        _restore_torch_rng(saved)


def _import_torch() -> Any:
    """torch, or a clear failure of the test that asked for a gradient check without it."""
    __tracebackhide__ = True
    try:
        import torch
    except ImportError as error:
        problem = str(error)
    else:
        return torch
    # Outside the except block, so pytest shows one message rather than a chained pair.
    pytest.fail(
        f"pytest-gradcheck needs torch, which cannot be imported here ({problem}); install it, "
        "e.g. `pip install 'nnlint[gradcheck]'` (or torch itself)",
        pytrace=False,
    )


def _seed_torch(seed: int) -> tuple[Any, Any]:
    torch = _import_torch()

    cpu_state = torch.get_rng_state()
    cuda_states = None
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        cuda_states = torch.cuda.get_rng_state_all()
    torch.manual_seed(seed)
    return cpu_state, cuda_states


def _restore_torch_rng(saved: tuple[Any, Any]) -> None:
    import torch

    cpu_state, cuda_states = saved
    torch.set_rng_state(cpu_state)
    if cuda_states is not None:
        torch.cuda.set_rng_state_all(cuda_states)


# --------------------------------------------------------------------------------------------
# Fixtures


class GradcheckFixture:
    """The ``gradcheck`` fixture: probe a model, assert its gradients are healthy, keep the report.

    Bounds are merged in this order, the later winning: ini options, ``@pytest.mark.gradcheck``
    markers, then the keyword arguments of the call.
    """

    def __init__(self, item: pytest.Item, bounds: Bounds, settings: GradcheckSettings) -> None:
        self._item = item
        self._settings = settings
        self.bounds = bounds
        #: Every report this fixture produced in the test, passing or failing, in call order.
        self.reports: list[GradientReport] = []

    def __repr__(self) -> str:
        # Shown in failure tracebacks next to the fixture name: the bounds are what matter there.
        return f"<gradcheck {_format_bounds(self.bounds)}>"

    def __call__(
        self,
        model: Any,
        inputs: Any,
        target: Any = None,
        loss_fn: Callable[..., Any] | None = None,
        *,
        train: bool = True,
        full_output: bool = False,
        **bounds: Any,
    ) -> GradientReport:
        """Run one forward/backward pass of ``model`` and assert the gradients are healthy.

        Same checks and message as ``assert_gradients_healthy``. ``train=False`` probes in eval
        mode; ``full_output=True`` gives ``loss_fn`` the model's whole output (a dict with an
        auxiliary head, a tuple) instead of its prediction tensor. Returns the
        ``GradientReport``; raises ``AssertionError`` with the diagnosis.
        """
        __tracebackhide__ = True
        effective = self._merged(bounds)
        _import_torch()
        from pytest_gradcheck._probe import probe

        # probe + format_failure rather than assert_gradients_healthy: the report of a failing
        # probe must be kept too (summary, report dir), and the helper's AssertionError drops it.
        report = probe(
            model, inputs, target, loss_fn, bounds=effective, train=train, full_output=full_output
        )
        self._record(report, effective)
        if not report.ok:
            raise AssertionError(report.format_failure())
        return report

    def short_run(
        self,
        model: Any,
        inputs: Any,
        target: Any = None,
        loss_fn: Callable[..., Any] | None = None,
        *,
        optimizer: Any = None,
        optimizer_kwargs: dict[str, Any] | None = None,
        steps: int | None = None,
        **bounds: Any,
    ) -> TrainingReport:
        """Train a deep copy for a few steps; same checks as ``assert_training_healthy``.

        ``optimizer`` is a factory ``params -> optimizer``, an optimizer class (with
        ``optimizer_kwargs``) or an optimizer instance (copied with its state); None trains with
        Adam(lr=0.001). Bounds merge as for a probe; torch is seeded with the plugin's seed.
        """
        __tracebackhide__ = True
        effective = self._merged(bounds)
        _import_torch()
        from pytest_gradcheck.assertions import assert_training_healthy

        return assert_training_healthy(
            model,
            inputs,
            target,
            loss_fn,
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
            steps=steps,
            bounds=effective,
            seed=self._settings.seed,
        )

    def overfit(
        self,
        model: Any,
        inputs: Any,
        target: Any = None,
        loss_fn: Callable[..., Any] | None = None,
        *,
        optimizer: Any = None,
        optimizer_kwargs: dict[str, Any] | None = None,
        target_loss: float | None = None,
        max_steps: int | None = None,
    ) -> TrainingReport:
        """Assert a deep copy can fit this one batch down to ``target_loss``
        (``assert_can_overfit``)."""
        __tracebackhide__ = True
        _import_torch()
        from pytest_gradcheck.assertions import assert_can_overfit

        return assert_can_overfit(
            model,
            inputs,
            target,
            loss_fn,
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
            target_loss=target_loss,
            max_steps=max_steps,
            seed=self._settings.seed,
        )

    def dropout(self, model: Any, inputs: Any) -> DropoutReport:
        """Assert every dropout behaves (``assert_dropout_healthy``) on a deep copy."""
        __tracebackhide__ = True
        _import_torch()
        from pytest_gradcheck.assertions import assert_dropout_healthy

        return assert_dropout_healthy(model, inputs, seed=self._settings.seed)

    def _merged(self, bounds: dict[str, Any]) -> Bounds:
        """The fixture's bounds with a call's keywords applied; a bad one fails the test."""
        __tracebackhide__ = True
        try:
            return self.bounds.merged(bounds, source="gradcheck(...)")
        except BoundsError as error:
            problem = str(error)
        # Outside the except block, so pytest shows one message rather than a chained pair.
        pytest.fail(problem, pytrace=False)

    def _record(
        self, report: GradientReport, bounds: Bounds, other_problems: Sequence[Problem] = ()
    ) -> None:
        self.reports.append(report)
        call = len(self.reports)
        data = report.to_dict()
        record = _summarise(report, bounds, self._item.nodeid, call, other_problems)
        settings = self._settings
        if settings.report_dir is not None:
            record["files"] = _write_report_files(
                settings.report_dir, self._item.nodeid, call, data, bounds, settings.seed, record
            )
        self._item.stash.setdefault(_pending_key, []).append(record)


@pytest.fixture
def gradcheck_bounds(request: pytest.FixtureRequest) -> Bounds:
    """The effective gradcheck bounds of this test: ini options overridden by its markers."""
    item = request.node
    bounds = item.stash.get(_item_bounds_key, None)
    if bounds is None:  # a fixture requested outside the normal runtest protocol
        bounds = _marker_bounds(item, request.config.stash[_settings_key].bounds)
    return bounds


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest, gradcheck_bounds: Bounds) -> GradcheckFixture:
    """Callable as ``gradcheck(model, inputs, target=None, loss_fn=None, *, train=True,
    full_output=False, **bounds)``.

    Probes one forward/backward pass, asserts the gradients are healthy under the merged bounds
    (ini options, then ``@pytest.mark.gradcheck``, then the call's keywords) and returns the
    ``GradientReport``. Each report is kept for the terminal summary and ``--gradcheck-report``.
    """
    return GradcheckFixture(request.node, gradcheck_bounds, request.config.stash[_settings_key])


# --------------------------------------------------------------------------------------------
# --gradcheck-model: one generated test item per factory


class GradcheckModelFailure(Exception):
    """A ``--gradcheck-model`` item failed: the message is the whole report, no traceback."""


class GradcheckModelItem(pytest.Item):
    """The zero-code check of ``python -m pytest_gradcheck`` on one factory, as a test item."""

    def __init__(self, *, spec: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def runtest(self) -> None:
        __tracebackhide__ = True
        _import_torch()
        from pytest_gradcheck.model_check import SpecError, load_case, run_checks

        settings = self.config.stash[_settings_key]
        saved = _seed_torch(settings.seed) if settings.seed is not None else None
        try:
            case = load_case(self.spec, cwd=self.config.invocation_params.dir)
            check = run_checks(
                case,
                bounds=settings.bounds,
                steps=self.config.stash[_model_steps_key],
                seed=settings.seed,
            )
        except SpecError as error:
            raise GradcheckModelFailure(f"cannot check {self.spec}: {error}") from error
        finally:
            if saved is not None:
                _restore_torch_rng(saved)
        # The probe joins the run's gradcheck summary and --gradcheck-report like a fixture's.
        # Its dropout and short-run problems count there too: a factory that fails on them only
        # is not a healthy probe in the summary.
        others = list(check.dropout.problems)
        if check.training is not None:
            others += check.training.problems
        GradcheckFixture(self, settings.bounds, settings)._record(
            check.probe, settings.bounds, others
        )
        if not check.ok:
            raise GradcheckModelFailure(check.format_text())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, GradcheckModelFailure):
            text = str(excinfo.value)
            cause = excinfo.value.__cause__
            if cause is not None and self.config.option.verbose > 1:
                # -vv: the traceback behind a usage error (the factory's or the import's).
                import traceback

                text += "\n\n" + "".join(
                    traceback.format_exception(type(cause), cause, cause.__traceback__)
                )
            return text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, self.nodeid


class GradcheckModels(pytest.Collector):
    """The ``--gradcheck-model`` items of the run: node ids ``gradcheck_model::MODULE:FACTORY``."""

    def collect(self) -> list[pytest.Item]:
        return [
            GradcheckModelItem.from_parent(self, name=spec, spec=spec)
            for spec in self.config.getoption("gradcheck_model") or ()
        ]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("gradcheck_model"):
        return
    # Collected through pytest's own machinery, so they are counted and reported like tests;
    # tryfirst, so that -k and -m deselect among them too.
    collector = GradcheckModels.from_parent(
        session, name="gradcheck_model", nodeid="gradcheck_model"
    )
    items.extend(session.genitems(collector))


# --------------------------------------------------------------------------------------------
# Records: what the summary and the report directory need from one probe, JSON-able


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (JSON ``null`` and bools are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _summarise(
    report: GradientReport,
    bounds: Bounds,
    nodeid: str,
    call: int,
    other_problems: Sequence[Problem] = (),
) -> dict[str, Any]:
    """Reduce a report to the problems and, per bound, the value that came closest to it.

    ``checks.closest_to_bounds`` decides what is measured against which bound and what is
    ignored, as for the checks themselves; the record is JSON-able for xdist.
    ``other_problems`` are those of checks run with the probe (the zero-code check's dropout
    check and short run): they make the record fail and are listed with the probe's.
    """
    from pytest_gradcheck.checks import closest_to_bounds

    extremes = {
        name: {"value": m.value, "module": m.where, "bound": getattr(bounds, name)}
        for name, m in closest_to_bounds(report, bounds).items()
    }
    problems = [
        {key: _jsonable(value) for key, value in problem.as_dict().items() if key in _RECORDED}
        for problem in [*report.problems, *other_problems]
    ]
    return {
        "nodeid": nodeid,
        "call": call,
        "ok": not problems,
        "problems": problems,
        "extremes": extremes,
    }


_RECORDED = ("code", "title", "module", "value", "bound", "bound_name", "message")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def report_basename(nodeid: str, call: int = 1) -> str:
    """A file-system-safe, stable name for the ``call``-th probe of the test ``nodeid``."""
    name = _UNSAFE.sub("_", nodeid.replace("::", "__")).strip("_.") or "test"
    if len(name) > 120:
        # Long parametrised ids: keep a readable prefix, stay unique with a hash of the id.
        digest = hashlib.sha1(nodeid.encode()).hexdigest()[:10]
        name = f"{name[:108]}-{digest}"
    return name if call == 1 else f"{name}-call{call}"


def _write_report_files(
    directory: Path,
    nodeid: str,
    call: int,
    data: dict[str, Any],
    bounds: Bounds,
    seed: int | None,
    record: dict[str, Any],
) -> list[str]:
    base = directory / report_basename(nodeid, call)
    document = {
        "test": nodeid,
        "call": call,
        "ok": record["ok"],
        "seed": seed,
        "effective_bounds": {k: _jsonable(v) for k, v in bounds.as_dict().items()},
        "report": data,
    }
    json_path = base.with_name(base.name + ".json")
    # to_dict() already writes non-finite numbers as null; _jsonable covers anything exotic.
    json_path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    written = [str(json_path)]
    from pytest_gradcheck.plot import plot_gradient_flow

    png_path = base.with_name(base.name + ".png")
    if plot_gradient_flow(
        data, bounds, png_path, title=nodeid if call == 1 else f"{nodeid} #{call}"
    ):
        written.append(str(png_path))
    return written


# --------------------------------------------------------------------------------------------
# Carrying records across xdist workers, and the terminal summary


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    pending = item.stash.get(_pending_key, None)
    if pending:
        # Attach to the report of the phase that probed: TestReport keeps extra attributes
        # through xdist's serialisation, so the controller sees them in pytest_runtest_logreport.
        report = outcome.get_result()
        setattr(report, _REPORT_ATTR, list(pending))
        pending.clear()


def _is_upper(bound_name: str) -> bool:
    """``max_*`` bounds are upper limits, ``min_*`` lower ones."""
    return bound_name.startswith("max_")


def _margin(bound_name: str, value: float, bound: float) -> float:
    # checks.py is pure Python but not needed at start-up: imported on the first summary.
    from pytest_gradcheck.checks import margin

    return margin(bound_name, value, bound)


def _problem_margin(problem: dict[str, Any]) -> float:
    value, bound, name = problem.get("value"), problem.get("bound"), problem.get("bound_name")
    if _number(value) is None or _number(bound) is None or not name:
        return -math.inf  # NaN/Inf or a missing gradient: nothing is more broken
    return _margin(name, value, bound)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


class GradcheckSummary:
    """Gathers the probe records of the session (from every xdist worker) and prints the summary.

    Registered per config in ``pytest_configure``, so nested in-process sessions (pytester) keep
    their records apart.
    """

    def __init__(self, settings: GradcheckSettings) -> None:
        self.settings = settings
        self.records: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        records = getattr(report, _REPORT_ATTR, None)
        if records:
            self.records.extend(records)

    def pytest_terminal_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        if self.records:
            write_summary(terminalreporter, self.records, self.settings, config.option.verbose)


def write_summary(
    terminalreporter: Any,
    records: list[dict[str, Any]],
    settings: GradcheckSettings,
    verbosity: int = 0,
) -> None:
    """Print the worst value of each bound over the run, the findings and the report dir."""
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "gradcheck summary")
    tests = {r["nodeid"] for r in records}
    failing = [r for r in records if not r["ok"]]
    write(
        f"{len(records)} probe(s) in {len(tests)} test(s); "
        f"{len(failing)} with problems, {len(records) - len(failing)} healthy"
    )

    worst: dict[str, tuple[float, dict[str, Any], str]] = {}
    for record in records:
        for name, extreme in record["extremes"].items():
            margin = _margin(name, extreme["value"], extreme["bound"])
            if name not in worst or margin < worst[name][0]:
                worst[name] = (margin, extreme, record["nodeid"])
    write("closest to each bound over the run (value vs bound, where):")
    from pytest_gradcheck.checks import PROBE_BOUNDS

    width = max(len(n) for n in PROBE_BOUNDS)
    for name in PROBE_BOUNDS:
        if name not in worst:
            # Said, not left out: a bound nothing in the run measured checks nothing.
            write(f"  {name:<{width}}  - (nothing in the run measured it)")
            continue
        margin, extreme, nodeid = worst[name]
        relation = "<=" if _is_upper(name) else ">="
        flag = "  BROKEN" if margin < 0 else ""
        write(
            f"  {name:<{width}}  {_fmt(extreme['value'])} (bound {relation} "
            f"{_fmt(extreme['bound'])})  {nodeid}  {extreme['module']}{flag}"
        )

    findings = [(r["nodeid"], problem) for r in failing for problem in r["problems"]]
    # Most broken first (furthest outside its bound, in decades); stable within a test.
    findings.sort(key=lambda finding: _problem_margin(finding[1]))
    if findings:
        shown = findings if verbosity > 0 else findings[:_SUMMARY_FINDINGS]
        write(f"findings ({len(shown)} of {len(findings)} shown, -v shows all):")
        for nodeid, problem in shown:
            value, bound = problem.get("value"), problem.get("bound")
            measured = ""
            if value is not None:
                measured = f"  {problem.get('bound_name') or 'value'} {_fmt(value)}"
                if bound is not None:
                    measured += f" vs bound {_fmt(bound)}"
            write(f"  {nodeid}  {problem.get('code')}  {problem.get('module') or '-'}{measured}")
    if settings.report_dir is not None:
        files = sum(len(r.get("files", ())) for r in records)
        write(f"gradcheck reports: {settings.report_dir} ({files} file(s))")
