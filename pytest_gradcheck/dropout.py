"""Dropout behaviour, measured on a deep copy: every dropout (module or functional) drops about the
rate it claims in train mode and is neither 0 nor 1, and two eval-mode forwards agree.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from pytest_gradcheck._probe import _call, _iter_tensors
from pytest_gradcheck.checks import _problem
from pytest_gradcheck.report import Problem
from pytest_gradcheck.training import deep_copy, format_problems, preserved_rng

__all__ = ["DropoutReport", "DropoutSite", "check_dropout"]

DROPOUT_MISUSE = "dropout-misuse"

# Dropouts that zero what they drop (and scale the rest): the dropped fraction can be counted.
_ZEROING: dict[Any, str] = {F.dropout: "F.dropout", torch.dropout: "torch.dropout"}
# Channel-wise variants: one draw per (example, channel), so fewer independent draws.
_CHANNEL: dict[Any, str] = {
    F.dropout1d: "F.dropout1d",
    F.dropout2d: "F.dropout2d",
    F.dropout3d: "F.dropout3d",
    torch.feature_dropout: "torch.feature_dropout",
}
# Alpha dropouts set what they drop to a negative constant: only the rate and the mode are judged.
_ALPHA: dict[Any, str] = {
    F.alpha_dropout: "F.alpha_dropout",
    F.feature_alpha_dropout: "F.feature_alpha_dropout",
    torch.alpha_dropout: "torch.alpha_dropout",
    torch.feature_alpha_dropout: "torch.feature_alpha_dropout",
}
_DROPOUTS = {**_ZEROING, **_CHANNEL, **_ALPHA}
# torch.* builtins have no Python signature: (input, p, train), all three required.
_BUILTINS = frozenset(
    (torch.dropout, torch.feature_dropout, torch.alpha_dropout, torch.feature_alpha_dropout)
)

#: Two eval forwards agree when every output differs by at most this share of its largest value.
EVAL_RTOL = 1e-4
#: The measured dropped fraction may be this far from the rate, at least (plus 5 sigma).
RATE_TOLERANCE = 0.05
#: Fewer independent draws than this say nothing about the rate: the site is not measured.
MIN_DRAWS = 30


@dataclass
class DropoutSite:
    """One dropout module, or one functional dropout call site inside a module."""

    name: str
    """The dropout module's path, or ``<enclosing module>/F.dropout`` for a functional call."""
    function: str
    """``Dropout``, ``F.dropout``, ``F.dropout2d``, ... (a module's class name for modules)."""
    rate: float
    calls: int = 0
    draws: int = 0
    """Independent keep/drop decisions seen in train mode (elements, or channels)."""
    dropped: float | None = None
    """Fraction of the non-zero inputs zeroed in train mode (None: alpha dropout, not counted)."""
    on_in_eval: bool = False
    """Dropped units (or ran with training=True) while the model was in eval mode."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DropoutReport:
    """The result of :func:`check_dropout`."""

    model: str
    sites: list[DropoutSite]
    eval_deterministic: bool
    eval_difference: float | None
    """Largest difference between the two eval forwards, relative to the output's size."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary_line(self) -> str:
        mode = "eval deterministic" if self.eval_deterministic else "eval NOT deterministic"
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        sites = f"{len(self.sites)} site(s)" if self.sites else "none"
        return f"dropout: {sites} in {self.model}, {mode}, {verdict}"

    def format_table(self) -> str:
        if not self.sites:
            return "no dropout in the model"
        rows = [f"  {'site':<30} {'kind':<18} {'rate':>6} {'dropped':>8}  eval"]
        for s in self.sites:
            dropped = "-" if s.dropped is None else f"{s.dropped:.1%}"
            eval_state = "ON" if s.on_in_eval else "off"
            rows.append(f"  {s.name:<30} {s.function:<18} {s.rate:>6g} {dropped:>8}  {eval_state}")
        return "\n".join(rows)

    def format_failure(self) -> str:
        return "\n".join(
            [f"dropout check failed: {self.summary_line()}", format_problems(self.problems)]
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sites": [s.as_dict() for s in self.sites],
            "eval_deterministic": self.eval_deterministic,
            "eval_difference": self.eval_difference,
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
        }


def check_dropout(model: nn.Module, inputs: Any, *, seed: int | None = 0) -> DropoutReport:
    """Measure every dropout of ``model`` on ``inputs`` (one train and two eval forwards).

    Runs on a deep copy under ``torch.no_grad()``: the model, its batch-norm statistics and
    torch's RNG state are left as they were. Functional calls are seen through a
    ``TorchFunctionMode``, so ``F.dropout`` in a custom forward counts like ``nn.Dropout``.
    """
    __tracebackhide__ = True
    copy_model, _ = deep_copy(model, "the dropout check")
    recorder = _DropoutRecorder(copy_model)
    with preserved_rng(seed, copy_model), torch.no_grad():
        copy_model.train()
        with recorder.recording(train=True):
            _call(copy_model, inputs)
        copy_model.eval()
        with recorder.recording(train=False):
            first = _call(copy_model, inputs)
        # Another RNG state: anything random left on in eval mode now draws differently.
        torch.manual_seed(torch.initial_seed() + 1)
        with recorder.recording(train=False):
            second = _call(copy_model, inputs)
    difference = _difference(first, second)
    sites = recorder.sites()
    report = DropoutReport(
        model=type(model).__name__,
        sites=sites,
        eval_deterministic=difference is None or difference <= EVAL_RTOL,
        eval_difference=difference,
    )
    report.problems = _problems(report)
    return report


def _difference(first: Any, second: Any) -> float | None:
    """The largest relative difference of matching output tensors (None: nothing compared)."""
    worst: float | None = None
    for a, b in zip(_iter_tensors(first), _iter_tensors(second)):
        if not a.is_floating_point() or a.shape != b.shape or a.numel() == 0:
            continue
        a, b = a.float(), b.float()
        finite = torch.isfinite(a) & torch.isfinite(b)
        scale = float(a[finite].abs().max()) if bool(finite.any()) else 0.0
        diff = float((a - b)[finite].abs().max()) if bool(finite.any()) else 0.0
        relative = diff / scale if scale > 0 else diff
        worst = relative if worst is None else max(worst, relative)
    return worst


class _DropoutMode(TorchFunctionMode):
    def __init__(self, recorder: _DropoutRecorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        if func not in _DROPOUTS:
            return func(*args, **kwargs)
        source = args[0] if args else kwargs.get("input")
        # Measured before the call: an in-place dropout overwrites its input.
        nonzero = source != 0 if isinstance(source, Tensor) else None
        out = func(*args, **kwargs)
        self.recorder.record(func, args, kwargs, source, nonzero, out)
        return out


class _DropoutRecorder:
    """Names each dropout call after its module and accumulates its counts on the device."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stack: list[tuple[str, nn.Module]] = []
        self.train = True
        # site -> function, rate, calls, counts ([dropped, non-zero] tensors), draws, on_in_eval
        self.found: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def recording(self, *, train: bool) -> Iterator[None]:
        """Hooks that keep the stack of running modules, and the function mode, for one pass."""
        self.train = train
        handles = []
        for name, module in self.model.named_modules():
            handles.append(module.register_forward_pre_hook(self._push(name)))
            handles.append(module.register_forward_hook(self._pop))
        try:
            with _DropoutMode(self):
                yield
        finally:
            for handle in handles:
                handle.remove()
            self.stack.clear()

    def _push(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            self.stack.append((name, module))

        return hook

    def _pop(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.stack:
            self.stack.pop()

    def record(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        source: Any,
        nonzero: Tensor | None,
        out: Any,
    ) -> None:
        rate, training = _rate_and_mode(func, args, kwargs)
        label = _DROPOUTS[func]
        where, module = self.stack[-1] if self.stack else ("", self.model)
        if _is_dropout_module(module):
            # A module claims its own ``p``, whatever its forward passes on.
            name, function = where or "<model>", type(module).__name__
            rate = float(getattr(module, "p", rate))
        else:
            name, function = f"{where or '<model>'}/{label}", label
        site = self.found.setdefault(
            name,
            {"function": function, "rate": rate, "calls": 0, "counts": [], "draws": 0},
        )
        if not self.train:
            # Asked to drop while the model is in eval mode: F.dropout's training defaults to True.
            site["on_in_eval"] = site.get("on_in_eval", False) or (training and rate > 0)
            return
        site["calls"] += 1
        if not training or func in _ALPHA or not isinstance(out, Tensor) or nonzero is None:
            return
        # Counts stay on the device; sites() brings them all over in one transfer.
        site["counts"].append(torch.stack([((out == 0) & nonzero).sum(), nonzero.sum()]).float())
        site["draws"] += _draws(func, source)

    def sites(self) -> list[DropoutSite]:
        # One host transfer for every count of the run.
        counts = [c for site in self.found.values() for c in site["counts"]]
        device = counts[0].device if counts else None
        values = iter(torch.stack([c.to(device) for c in counts]).tolist() if counts else [])
        result = []
        for name, site in self.found.items():
            dropped_total = nonzero_total = 0.0
            for _ in site["counts"]:
                dropped, nonzero = next(values)
                dropped_total += dropped
                nonzero_total += nonzero
            measured = dropped_total / nonzero_total if nonzero_total else None
            result.append(
                DropoutSite(
                    name=name,
                    function=site["function"],
                    rate=site["rate"],
                    calls=site["calls"],
                    draws=site["draws"],
                    dropped=measured,
                    on_in_eval=site.get("on_in_eval", False),
                )
            )
        return result


def _is_dropout_module(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.dropout._DropoutNd)


_SIGNATURES: dict[Any, inspect.Signature | None] = {}


def _rate_and_mode(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[float, bool]:
    """The rate ``p`` a dropout call asks for and whether it runs in training mode."""
    if func in _BUILTINS:
        p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
        train = args[2] if len(args) > 2 else kwargs.get("train", True)
        return float(p), bool(train)
    if func not in _SIGNATURES:
        try:
            _SIGNATURES[func] = inspect.signature(func)
        except (TypeError, ValueError):
            _SIGNATURES[func] = None
    signature = _SIGNATURES[func]
    if signature is None:
        return 0.5, True
    bound = signature.bind_partial(*args, **kwargs)
    bound.apply_defaults()
    return float(bound.arguments.get("p", 0.5)), bool(bound.arguments.get("training", True))


def _draws(func: Any, source: Any) -> int:
    """Independent keep/drop decisions of one call: elements, or (example, channel) pairs."""
    if not isinstance(source, Tensor):
        return 0
    if func in _CHANNEL and source.ndim >= 2:
        return source.shape[0] * source.shape[1] if source.ndim >= 3 else source.shape[0]
    return source.numel()


def _problems(report: DropoutReport) -> list[Problem]:
    problems = []
    for site in report.sites:
        if site.rate >= 1:
            message = (
                f"{site.function} has rate {site.rate:g}: it drops every unit in train mode, so "
                f"nothing after it learns"
            )
            problems.append(_problem(DROPOUT_MISUSE, site.name, site.rate, 1.0, "rate", message))
        elif site.rate <= 0:
            message = f"{site.function} has rate {site.rate:g}: it does nothing (delete it?)"
            problems.append(_problem(DROPOUT_MISUSE, site.name, site.rate, 0.0, "rate", message))
        elif site.dropped is not None and site.draws >= MIN_DRAWS:
            spread = math.sqrt(site.rate * (1 - site.rate) / site.draws)
            tolerance = max(RATE_TOLERANCE, 5 * spread)
            if abs(site.dropped - site.rate) > tolerance:
                message = (
                    f"{site.function} claims rate {site.rate:g} but dropped {site.dropped:.1%} of "
                    f"its non-zero inputs in train mode ({site.draws} draws)"
                )
                problems.append(
                    _problem(DROPOUT_MISUSE, site.name, site.dropped, site.rate, "rate", message)
                )
        if site.on_in_eval:
            message = (
                f"{site.function} still drops units with the model in eval mode: pass "
                f"training=self.training"
            )
            problems.append(_problem(DROPOUT_MISUSE, site.name, None, None, None, message))
    if not report.eval_deterministic and not any(site.on_in_eval for site in report.sites):
        message = (
            f"two eval-mode forwards of the same batch differ (by {report.eval_difference:.3g} "
            f"of the output's size): something random stays on at evaluation"
        )
        problems.append(
            _problem(DROPOUT_MISUSE, "<model>", report.eval_difference, EVAL_RTOL, None, message)
        )
    return problems
