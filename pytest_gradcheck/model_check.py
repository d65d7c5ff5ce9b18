"""The zero-code check of a model named by a factory spec (``MODULE:FACTORY``): the gradient probe,
the dropout check and, with an optimizer or a step count, a short run.

Shared by ``python -m pytest_gradcheck`` and ``pytest --gradcheck-model``. Importing this module
does not import torch; loading a factory imports whatever the factory's module imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_gradcheck.bounds import Bounds

if TYPE_CHECKING:
    from pytest_gradcheck.dropout import DropoutReport
    from pytest_gradcheck.report import GradientReport, Problem
    from pytest_gradcheck.training import TrainingReport

__all__ = ["ModelCase", "ModelCheck", "SpecError", "load_case", "run_checks"]

#: The keys a factory's dict may have; ``model`` and ``inputs`` are required.
FACTORY_KEYS = ("model", "inputs", "target", "loss_fn", "optimizer")
_RETURNS = (
    "(model, batch) with batch the inputs or (inputs, target), or a dict with keys "
    "model, inputs and optionally target, loss_fn, optimizer"
)


class SpecError(Exception):
    """The spec cannot be turned into a model to check: bad spec, import error, factory error.

    The message is complete on its own; ``__cause__`` keeps the original error for
    ``--traceback``.
    """


@dataclass
class ModelCase:
    """What a factory returned, sorted into the probe's arguments."""

    spec: str
    model: Any
    inputs: Any
    target: Any = None
    loss_fn: Callable[..., Any] | None = None
    optimizer: Callable[..., Any] | None = None


@dataclass
class ModelCheck:
    """Every report of one zero-code check; ``ok`` when none has a problem."""

    spec: str
    probe: GradientReport
    dropout: DropoutReport
    training: TrainingReport | None = None
    plot: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        found = list(self.probe.problems) + list(self.dropout.problems)
        if self.training is not None:
            found += self.training.problems
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def format_text(self, *, verbose: bool = False) -> str:
        """The report: one section per check, the problems under the check that found them;
        ``verbose`` adds every layer's gradient and update numbers."""
        from pytest_gradcheck.training import format_problems

        lines = [f"pytest-gradcheck {self.spec}", ""]
        probe = self.probe
        if probe.ok:
            lines.append(f"gradient probe: {probe.summary_line()}")
        else:
            lines += ["gradient probe:", *_indented(probe.format_failure())]
        if verbose:
            lines += _indented(probe.format_table(problems_only=False))
        lines += ["", self.dropout.summary_line()]
        if self.dropout.sites:
            lines.append(self.dropout.format_table())
        if not self.dropout.ok:
            lines.append(format_problems(self.dropout.problems))
        lines.append("")
        if self.training is None:
            lines.append("short run: skipped (the factory gives no optimizer; --steps N runs it)")
        else:
            types = {update.name: update.type for update in self.training.updates}
            lines += [self.training.summary_line(), f"  {self.training.format_curve()}"]
            if verbose:
                lines += _indented(self.training.format_table())
            if not self.training.ok:
                lines.append(format_problems(self.training.problems, types))
        if self.notes:
            lines += ["", *self.notes]
        lines.append("")
        count = len(self.problems)
        lines.append("healthy" if self.ok else f"{count} problem(s)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "probe": self.probe.to_dict(),
            "dropout": self.dropout.to_dict(),
            "short_run": None if self.training is None else self.training.to_dict(),
            "plot": self.plot,
            "notes": list(self.notes),
        }


def _indented(text: str) -> list[str]:
    return ["  " + line if line else line for line in text.splitlines()]


# --- loading a factory ----------------------------------------------------------------------


def load_case(spec: str, *, cwd: str | Path | None = None) -> ModelCase:
    """Import ``MODULE`` of ``MODULE:FACTORY`` (``cwd`` first on ``sys.path``), call ``FACTORY()``.

    ``MODULE`` is a dotted module name or a path to a ``.py`` file; ``FACTORY`` may be dotted
    (``Models.small``). Every failure is a ``SpecError`` with a message that says what to fix.
    """
    module_name, factory_name = split_spec(spec)
    module = _import(module_name, Path(cwd) if cwd is not None else Path.cwd())
    factory: Any = module
    for part in factory_name.split("."):
        try:
            factory = getattr(factory, part)
        except AttributeError:
            callables = sorted(
                name
                for name, value in vars(module).items()
                if callable(value) and not name.startswith("_") and not isinstance(value, type)
            )
            hint = f"; it defines {', '.join(callables[:8])}" if callables else ""
            raise SpecError(f"{module_name} has no {factory_name!r}{hint}") from None
    if not callable(factory):
        raise SpecError(f"{spec}: {factory_name} is a {type(factory).__name__}, not a factory")
    try:
        result = factory()
    except Exception as error:
        raise SpecError(f"{spec}: the factory raised {type(error).__name__}: {error}") from error
    return _case(spec, result)


def parse_steps(text: str) -> int:
    """A step count from the command line; ValueError says what was expected."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"expected a positive integer, got {text!r}")
    return value


def split_spec(spec: str) -> tuple[str, str]:
    """``(MODULE, FACTORY)`` of a spec, or a ``SpecError`` that shows the expected form."""
    module_name, sep, factory_name = spec.strip().rpartition(":")
    if (
        not sep
        or not module_name
        or not factory_name
        or not factory_name.replace(".", "_").isidentifier()
    ):
        raise SpecError(
            f"bad model spec {spec!r}: expected MODULE:FACTORY, e.g. models:make_resnet or "
            f"path/to/models.py:make_resnet"
        )
    return module_name, factory_name


def _import(module_name: str, cwd: Path) -> Any:
    path = Path(module_name)
    is_file = module_name.endswith(".py")
    try:
        if is_file:
            path = path if path.is_absolute() else cwd / path
            if not path.is_file():
                raise SpecError(f"cannot import {module_name!r}: no such file")
            # Sibling imports of the file work as they do when it is run as a script.
            _prepend(str(path.parent))
            name = f"_gradcheck_factory_{path.stem}"
            loaded = sys.modules.get(name)
            if loaded is not None and getattr(loaded, "__file__", None) == str(path):
                return loaded  # several specs from one file share one import
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise SpecError(f"cannot import {module_name!r}: not a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        _prepend(str(cwd))
        return importlib.import_module(module_name)
    except SpecError:
        raise
    except Exception as error:
        raise SpecError(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from error


def _prepend(directory: str) -> None:
    if directory not in sys.path:
        sys.path.insert(0, directory)


def _case(spec: str, result: Any) -> ModelCase:
    if isinstance(result, Mapping):
        unknown = sorted(set(result) - set(FACTORY_KEYS))
        missing = [key for key in ("model", "inputs") if key not in result]
        if unknown or missing:
            problem = f"unknown key(s) {', '.join(unknown)}" if unknown else ""
            if missing:
                problem += ("; " if problem else "") + f"missing {', '.join(missing)}"
            raise SpecError(f"{spec} returned a dict with {problem}; expected {_RETURNS}")
        case = ModelCase(spec, **{key: result.get(key) for key in FACTORY_KEYS})
    elif isinstance(result, (tuple, list)) and len(result) == 2:
        model, batch = result
        if isinstance(batch, (tuple, list)) and len(batch) == 2:
            case = ModelCase(spec, model, batch[0], batch[1])
        else:
            case = ModelCase(spec, model, batch)
    else:
        shape = (
            f"a {len(result)}-tuple" if isinstance(result, (tuple, list)) else type(result).__name__
        )
        raise SpecError(f"{spec} returned {shape}; expected {_RETURNS}")
    from torch import nn

    if not isinstance(case.model, nn.Module):
        raise SpecError(
            f"{spec}: the model is a {type(case.model).__name__}, not a torch.nn.Module"
        )
    for key in ("loss_fn", "optimizer"):
        value = getattr(case, key)
        if value is not None and not callable(value):
            raise SpecError(f"{spec}: {key} must be callable, got {type(value).__name__}")
    return case


# --- running the checks ---------------------------------------------------------------------


def run_checks(
    case: ModelCase,
    *,
    bounds: Bounds | None = None,
    steps: int | None = None,
    seed: int | None = 0,
) -> ModelCheck:
    """The probe, the dropout check and (with an optimizer or ``steps``) a short run.

    Usage errors of the checks (``GradcheckUsageError``) and exceptions raised by the model
    become ``SpecError``: nothing was measured, so there is no verdict to give.
    """
    from pytest_gradcheck._probe import GradcheckUsageError, probe
    from pytest_gradcheck.dropout import check_dropout
    from pytest_gradcheck.training import DEFAULT_STEPS, short_run

    bounds = Bounds() if bounds is None else bounds
    stage = "the gradient probe"
    try:
        report = probe(case.model, case.inputs, case.target, case.loss_fn, bounds=bounds, seed=seed)
        stage = "the dropout check"
        dropout = check_dropout(case.model, case.inputs, seed=seed)
        training = None
        if case.optimizer is not None or steps is not None:
            stage = "the short run"
            training = short_run(
                case.model,
                case.inputs,
                case.target,
                case.loss_fn,
                optimizer=case.optimizer,
                steps=steps if steps is not None else DEFAULT_STEPS,
                bounds=bounds,
                seed=seed,
                start=report,  # the probe above measured the same weights, batch and seed
            )
    except GradcheckUsageError as error:
        raise SpecError(f"{case.spec}: {error}") from error
    except Exception as error:
        raise SpecError(
            f"{case.spec}: the model raised {type(error).__name__} during {stage}: {error}"
        ) from error
    return ModelCheck(case.spec, report, dropout, training)
