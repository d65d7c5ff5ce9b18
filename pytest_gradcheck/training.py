"""Short training runs on a deep copy of a model: does the loss go down, how large is one update,
do the updates kill units, does NaN appear. The user's model, optimizer and RNG are never touched.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from pytest_gradcheck._probe import (
    GradcheckUsageError,
    _call,
    _is_weight_layer,
    _loss,
    _rng_state,
    _seed,
    _set_rng_state,
    probe,
)
from pytest_gradcheck.bounds import Bounds
from pytest_gradcheck.checks import DEAD_RELU, NON_FINITE, _problem, is_ignored
from pytest_gradcheck.report import GradientReport, Problem
from pytest_gradcheck.report import _fmt as fmt_number
from pytest_gradcheck.report import _render as render_rows

__all__ = [
    "DEFAULT_OPTIMIZER",
    "DEFAULT_STEPS",
    "OptimizerSpec",
    "TrainingReport",
    "overfit",
    "short_run",
]

LEARNING_RATE = "learning-rate"
NOT_LEARNING = "not-learning"

#: Steps of a default short run: enough for windows of two losses at each end of the curve.
DEFAULT_STEPS = 5
#: What a short run trains with when it is given no optimizer.
DEFAULT_OPTIMIZER = "Adam(lr=0.001)"
#: Steps an overfit run may take before it gives up on its target loss.
DEFAULT_OVERFIT_STEPS = 100

#: An optimizer instance (copied with its state), an optimizer class (with ``optimizer_kwargs``),
#: or a factory ``params -> optimizer``; None trains with ``DEFAULT_OPTIMIZER``.
OptimizerSpec = torch.optim.Optimizer | type | Callable[..., Any] | None


@dataclass
class LayerUpdate:
    """How much the first optimizer step moved one layer's parameters, relative to their size."""

    name: str
    type: str
    ratio: float | None
    """``mean|dW| / mean|W|`` over the layer's trained parameters (None: all-zero weights)."""
    is_weight_layer: bool = True
    """Has a >=2-D weight and is not an embedding: norm scales and sparse embedding rows move
    little by nature, so only weight layers are held to ``min_update_ratio``."""

    @property
    def log10(self) -> float | None:
        if self.ratio is None or self.ratio <= 0 or not math.isfinite(self.ratio):
            return None
        return math.log10(self.ratio)


@dataclass
class KilledUnits:
    """One activation whose dead-unit fraction grew during the run."""

    name: str
    kind: str
    units: int
    dead_before: float
    dead_after: float

    @property
    def killed(self) -> float:
        return max(0.0, self.dead_after - self.dead_before)


@dataclass
class NonFiniteStep:
    """Where NaN/Inf appeared during the run: in the loss or in the weights after a step."""

    step: int
    where: str
    layers: list[str]
    loss: float


@dataclass
class TrainingReport:
    """The result of :func:`short_run` or :func:`overfit`: the loss curve, updates, findings."""

    model: str
    optimizer: str
    optimizer_given: bool
    kind: str
    """``short run`` or ``overfit``."""
    steps: int
    """Optimizer steps taken."""
    losses: list[float]
    """The loss before each step, then (when the run ended normally) the loss after the last."""
    updates: list[LayerUpdate] = field(default_factory=list)
    killed: list[KilledUnits] = field(default_factory=list)
    nonfinite: NonFiniteStep | None = None
    target_loss: float | None = None
    frozen: list[str] = field(default_factory=list)
    """Parameters with ``requires_grad=False``: no optimizer can move them."""
    unmoved: list[str] = field(default_factory=list)
    """Parameters that require grad but ended the run exactly as they started."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def optimizer_note(self) -> str:
        return self.optimizer if self.optimizer_given else f"{self.optimizer} (default)"

    def summary_line(self) -> str:
        curve = f"loss {_f(self.losses[0])} -> {_f(self.losses[-1])}" if self.losses else "no loss"
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"{self.kind}: {self.steps} step(s) of {self.optimizer_note} on a copy of "
            f"{self.model}: {curve}, {verdict}"
        )

    def format_curve(self, points: int = 12) -> str:
        """The loss by step as text, thinned to about ``points`` entries (first and last kept)."""
        losses = self.losses
        if not losses:
            return "loss by step: none"
        stride = max(1, math.ceil((len(losses) - 1) / max(points - 1, 1)))
        shown = list(range(0, len(losses), stride))
        if shown[-1] != len(losses) - 1:
            shown.append(len(losses) - 1)
        return "loss by step: " + "  ".join(f"{i}: {_f(losses[i])}" for i in shown)

    def format_table(self) -> str:
        """Every layer's update-to-weight ratio after the first step, then the units killed."""
        if not self.updates:
            return "no optimizer step was taken"
        rows = [("layer", "type", "update/weight", "log10")]
        for u in self.updates:
            rows.append((u.name or "<model>", u.type, _f(u.ratio), _f(u.log10)))
        text = render_rows(rows)
        if self.killed:
            killed = [("activation", "kind", "units", "dead before", "dead after")]
            for k in self.killed:
                killed.append(
                    (k.name, k.kind, str(k.units), f"{k.dead_before:.1%}", f"{k.dead_after:.1%}")
                )
            text += "\n\n" + render_rows(killed)
        return text

    def format_failure(self) -> str:
        lines = [self.summary_line(), f"  {self.format_curve()}"]
        types = {u.name: u.type for u in self.updates}
        lines.append(format_problems(self.problems, types))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "optimizer": self.optimizer,
            "optimizer_given": self.optimizer_given,
            "steps": self.steps,
            "losses": [_json(v) for v in self.losses],
            "target_loss": self.target_loss,
            "updates": [
                {"name": u.name, "type": u.type, "ratio": _json(u.ratio), "log10": _json(u.log10)}
                for u in self.updates
            ],
            "killed": [{**asdict(k), "killed": k.killed} for k in self.killed],
            "nonfinite": None
            if self.nonfinite is None
            else {**asdict(self.nonfinite), "loss": _json(self.nonfinite.loss)},
            "frozen": list(self.frozen),
            "unmoved": list(self.unmoved),
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
        }


def format_problems(problems: list[Problem], types: dict[str, str] | None = None) -> str:
    """One line per problem, then one remedy per failure mode with its nnlint twin rules."""
    from nnlint.catalog import static_twin

    types = types or {}
    lines = []
    for p in problems:
        module = f"{p.module} ({types[p.module]})" if p.module in types else p.module
        lines.append(f"  - {module}: {p.code}: {p.message}")
    seen: dict[str, Problem] = {}
    for p in problems:
        seen.setdefault(p.code, p)
    for code, p in seen.items():
        lines.append(f"{code} ({p.title}): {p.remedy} ({static_twin(code)})")
    return "\n".join(lines)


# --- running ---------------------------------------------------------------------------------


def short_run(
    model: nn.Module,
    inputs: Any,
    target: Any = None,
    loss_fn: Callable[..., Any] | None = None,
    *,
    optimizer: OptimizerSpec = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    steps: int = DEFAULT_STEPS,
    bounds: Bounds | None = None,
    seed: int | None = 0,
    start: GradientReport | None = None,
) -> TrainingReport:
    """Train a deep copy of ``model`` for ``steps`` optimizer steps on one batch and judge it.

    Checks: the loss goes down (the mean of the last third of the curve is below that of the
    first third), the update-to-weight ratio of every layer after the first step lies within
    ``min_update_ratio``..``max_update_ratio``, the updates kill at most ``max_killed_fraction``
    of any ReLU's units (measured by the gradient probe before and after), and no NaN/Inf
    appears in the loss or the weights. ``inputs``, ``target`` and ``loss_fn`` mean what they
    mean for :func:`pytest_gradcheck.probe`. ``seed`` seeds torch for the run (None: the current
    RNG); the RNG state is restored afterwards either way. ``start``, a probe of ``model`` on the
    same batch and seed, is reused as the measurement before the run instead of probing again.
    """
    __tracebackhide__ = True
    bounds = _bounds(bounds)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise GradcheckUsageError(f"steps must be a positive integer, got {steps!r}")
    run = _Run(model, optimizer, optimizer_kwargs, seed)
    with run:
        before = start if start is not None else probe(run.model, inputs, target, loss_fn)
        run.train(inputs, target, loss_fn, steps)
        after = None
        if run.nonfinite is None:
            after = probe(run.model, inputs, target, loss_fn)
            run.losses.append(after.loss if after.loss is not None else math.nan)
    report = run.report("short run")
    if after is not None:
        report.killed = _killed(before, after)
    report.problems = _short_run_problems(report, bounds)
    return report


def overfit(
    model: nn.Module,
    inputs: Any,
    target: Any = None,
    loss_fn: Callable[..., Any] | None = None,
    *,
    optimizer: OptimizerSpec = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    target_loss: float | None = None,
    max_steps: int = DEFAULT_OVERFIT_STEPS,
    seed: int | None = 0,
) -> TrainingReport:
    """Train a deep copy of ``model`` on one batch until its loss is at most ``target_loss``.

    Any model that can learn at all memorises one small batch; one that cannot has a cut path
    (frozen or detached parameters), an optimizer that misses its parameters, or an output that
    does not fit the loss. ``target_loss`` defaults to a tenth of the first loss. The run stops at
    the target or after ``max_steps`` steps; a failure shows the loss curve and the parameters
    that never moved.
    """
    __tracebackhide__ = True
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise GradcheckUsageError(f"max_steps must be a positive integer, got {max_steps!r}")
    if target_loss is not None and (
        isinstance(target_loss, bool) or not isinstance(target_loss, (int, float))
    ):
        raise GradcheckUsageError(f"target_loss must be a number, got {target_loss!r}")
    run = _Run(model, optimizer, optimizer_kwargs, seed)
    with run:
        run.train(inputs, target, loss_fn, max_steps, overfit=True, target_loss=target_loss)
    report = run.report("overfit")
    report.target_loss = run.target_loss
    report.problems = _overfit_problems(report)
    return report


def _default_target(first_loss: float, target_loss: float | None) -> float:
    __tracebackhide__ = True
    if target_loss is not None:
        return float(target_loss)
    if first_loss <= 0:
        raise GradcheckUsageError(
            f"the first loss is {first_loss:.4g}, so a tenth of it is no target; pass target_loss="
        )
    return first_loss / 10


def _bounds(bounds: Bounds | None) -> Bounds:
    __tracebackhide__ = True
    if bounds is None:
        return Bounds()
    if not isinstance(bounds, Bounds):
        raise GradcheckUsageError(
            f"bounds must be a pytest_gradcheck.Bounds, got {type(bounds).__name__}"
        )
    return bounds


def deep_copy(model: nn.Module, purpose: str) -> tuple[nn.Module, dict[int, Any]]:
    """A deep copy of ``model`` and the memo mapping ``id(original object)`` to its copy."""
    __tracebackhide__ = True
    if not isinstance(model, nn.Module):
        raise GradcheckUsageError(f"{purpose} needs a torch.nn.Module, got {type(model).__name__}")
    memo: dict[int, Any] = {}
    try:
        return copy.deepcopy(model, memo), memo
    except Exception as error:  # whatever the model holds that cannot be copied
        raise GradcheckUsageError(
            f"cannot deep-copy {type(model).__name__} for {purpose} ({type(error).__name__}: "
            f"{error}); the check runs on a copy so that your model stays untouched"
        ) from None


@contextlib.contextmanager
def preserved_rng(seed: int | None, model: nn.Module) -> Iterator[None]:
    """Seed torch for a check (None: leave it) and put the RNG state back afterwards."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    saved = _rng_state(device)
    try:
        if seed is not None:
            _seed(seed, device)
        yield
    finally:
        _set_rng_state(device, saved)


class _Run:
    """A deep copy of the model with its own optimizer; torch's RNG is restored on exit."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerSpec,
        optimizer_kwargs: dict[str, Any] | None,
        seed: int | None,
    ) -> None:
        __tracebackhide__ = True
        self.original = model
        self.model, memo = deep_copy(model, "a short run")
        self.names = {p: n for n, p in self.model.named_parameters()}
        self.optimizer, self.optimizer_name, self.optimizer_given = _build_optimizer(
            optimizer, optimizer_kwargs, model, self.model, memo
        )
        self.seed = seed
        self.losses: list[float] = []
        self.updates: list[LayerUpdate] = []
        self.nonfinite: NonFiniteStep | None = None
        self.steps = 0
        self.target_loss: float | None = None

    def __enter__(self) -> _Run:
        self._rng = preserved_rng(self.seed, self.model)
        self._rng.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._rng.__exit__(*exc)

    def train(
        self,
        inputs: Any,
        target: Any,
        loss_fn: Callable[..., Any] | None,
        steps: int,
        *,
        overfit: bool = False,
        target_loss: float | None = None,
    ) -> None:
        """Up to ``steps`` optimizer steps; an overfit run stops once the loss is on target."""
        __tracebackhide__ = True
        model, optimizer = self.model, self.optimizer
        trained = [p for p in model.parameters() if p.requires_grad]
        model.train()
        with torch.enable_grad():
            for step in range(1, steps + 1):
                optimizer.zero_grad(set_to_none=True)
                _, loss = _loss(_call(model, inputs), target, loss_fn)
                value = float(loss.detach())
                self.losses.append(value)
                if not math.isfinite(value):
                    self.nonfinite = NonFiniteStep(step, "loss", [], value)
                    return
                if overfit:
                    if self.target_loss is None:
                        self.target_loss = _default_target(value, target_loss)
                    if value <= self.target_loss:
                        return
                loss.backward()
                stepped = [p for p in trained if p.grad is not None]
                before = [p.detach().clone() for p in stepped] if step == 1 else None
                optimizer.step()
                self.steps = step
                if before is not None:
                    self.updates = self._updates(stepped, before)
                broken = self._nonfinite_layers(trained)
                if broken:
                    self.nonfinite = NonFiniteStep(step, "weights", broken, value)
                    return
            if overfit:
                # The loss after the last step, so that the curve shows where the run ended.
                _, loss = _loss(_call(model, inputs), target, loss_fn)
                self.losses.append(float(loss.detach()))

    def _updates(
        self, stepped: list[nn.Parameter], before: list[torch.Tensor]
    ) -> list[LayerUpdate]:
        device = stepped[0].device if stepped else torch.device("cpu")
        with torch.no_grad():
            sums = [
                torch.stack([(p - b).abs().sum(), b.abs().sum()]).float().to(device)
                for p, b in zip(stepped, before)
            ]
            values = torch.stack(sums).tolist() if sums else []  # one host transfer
        by_layer: dict[str, list[float]] = {}
        owned: dict[str, list[tuple[str, nn.Parameter]]] = {}
        for p, (delta, weight) in zip(stepped, values):
            owner, _, local = self.names[p].rpartition(".")
            totals = by_layer.setdefault(owner, [0.0, 0.0])
            totals[0] += delta
            totals[1] += weight
            owned.setdefault(owner, []).append((local, p))
        modules = dict(self.model.named_modules())
        updates = []
        for owner, (delta, weight) in by_layer.items():
            module = modules.get(owner, self.model)
            updates.append(
                LayerUpdate(
                    name=owner,
                    type=type(module).__name__,
                    ratio=delta / weight if weight > 0 else None,
                    is_weight_layer=_is_weight_layer(module, owned[owner]),
                )
            )
        return updates

    def _nonfinite_layers(self, params: list[nn.Parameter]) -> list[str]:
        if not params:
            return []
        device = params[0].device
        with torch.no_grad():
            finite = torch.stack([torch.isfinite(p).all().to(device) for p in params])
            if bool(finite.all()):  # one host transfer per step
                return []
            flags = finite.tolist()
        layers: list[str] = []
        for p, ok in zip(params, flags):
            owner = self.names[p].rpartition(".")[0] or "<model>"
            if not ok and owner not in layers:
                layers.append(owner)
        return layers

    def report(self, kind: str) -> TrainingReport:
        frozen, unmoved = [], []
        originals = dict(self.original.named_parameters())
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                if not p.requires_grad:
                    frozen.append(name)
                elif self.steps and torch.equal(p, originals[name]):
                    unmoved.append(name)
        return TrainingReport(
            model=type(self.original).__name__,
            optimizer=self.optimizer_name,
            optimizer_given=self.optimizer_given,
            kind=kind,
            steps=self.steps,
            losses=list(self.losses),
            updates=self.updates,
            nonfinite=self.nonfinite,
            frozen=frozen,
            unmoved=unmoved,
        )


# --- the optimizer of the copy ---------------------------------------------------------------


def _build_optimizer(
    spec: OptimizerSpec,
    kwargs: dict[str, Any] | None,
    original: nn.Module,
    model: nn.Module,
    memo: dict[int, Any],
) -> tuple[torch.optim.Optimizer, str, bool]:
    """The copy's optimizer, its short description, and whether the caller chose it."""
    __tracebackhide__ = True
    params = list(model.parameters())
    if kwargs and not (isinstance(spec, type) or spec is None):
        raise GradcheckUsageError(
            "optimizer_kwargs go with an optimizer class (optimizer=torch.optim.SGD, "
            "optimizer_kwargs={'lr': 0.1}); a factory or an optimizer instance carries its own"
        )
    if spec is None:
        if kwargs:
            raise GradcheckUsageError("optimizer_kwargs need an optimizer class (optimizer=...)")
        return torch.optim.Adam(params, lr=1e-3), DEFAULT_OPTIMIZER, False
    try:
        if isinstance(spec, torch.optim.Optimizer):
            optimizer = _copy_optimizer(spec, memo)
        elif isinstance(spec, type):
            if not issubclass(spec, torch.optim.Optimizer):
                raise GradcheckUsageError(
                    f"optimizer class {spec.__name__} is not a torch.optim.Optimizer"
                )
            optimizer = spec(params, **(kwargs or {}))
        elif callable(spec):
            optimizer = spec(params)
        else:
            raise GradcheckUsageError(
                f"optimizer must be an optimizer, an optimizer class or a factory "
                f"params -> optimizer, got {type(spec).__name__}"
            )
    except GradcheckUsageError:
        raise
    except Exception as error:
        raise GradcheckUsageError(
            f"building the optimizer for the short run failed: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise GradcheckUsageError(
            f"the optimizer factory returned {type(optimizer).__name__}, not a "
            f"torch.optim.Optimizer; it is called with the model's parameters"
        )
    return optimizer, _describe(optimizer), True


def _copy_optimizer(
    optimizer: torch.optim.Optimizer, memo: dict[int, Any]
) -> torch.optim.Optimizer:
    """The same optimizer (groups, hyperparameters, state) over the copy's parameters."""
    __tracebackhide__ = True
    groups = []
    for group in optimizer.param_groups:
        twins = []
        for p in group["params"]:
            twin = memo.get(id(p))
            if twin is None:
                raise GradcheckUsageError(
                    "the optimizer holds parameters that are not the model's; build it over "
                    "model.parameters() (or pass a factory params -> optimizer)"
                )
            twins.append(twin)
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": twins})
    cls = type(optimizer)
    try:
        twin_optimizer = cls(groups, **optimizer.defaults)
    except TypeError:  # a custom optimizer whose constructor does not take its defaults back
        twin_optimizer = cls(groups)
    # A deep copy: load_state_dict keeps the tensors it is given, and the momentum buffers
    # must stay the user's.
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    return twin_optimizer


def _describe(optimizer: torch.optim.Optimizer) -> str:
    groups = optimizer.param_groups
    parts = []
    lrs = sorted({float(g["lr"]) for g in groups if "lr" in g})
    if lrs:
        parts.append(f"lr={lrs[0]:g}" if len(lrs) == 1 else f"lr={lrs[0]:g}..{lrs[-1]:g}")
    momentum = groups[0].get("momentum") if groups else None
    if momentum:
        parts.append(f"momentum={float(momentum):g}")
    return f"{type(optimizer).__name__}({', '.join(parts)})"


# --- judging ---------------------------------------------------------------------------------


def _killed(before: GradientReport, after: GradientReport) -> list[KilledUnits]:
    """ReLU sites whose dead fraction grew between the probe before and the probe after."""
    at_end = {act.name: act for act in after.activations if act.dead_fraction is not None}
    killed = []
    for act in before.activations:
        end = at_end.get(act.name)
        if act.dead_fraction is None or end is None or end.dead_fraction is None:
            continue
        if end.dead_fraction > act.dead_fraction:
            killed.append(
                KilledUnits(act.name, act.kind, act.units, act.dead_fraction, end.dead_fraction)
            )
    return sorted(killed, key=lambda k: -k.killed)


def _nonfinite_problem(report: TrainingReport) -> Problem | None:
    site = report.nonfinite
    if site is None:
        return None
    run = f"step {site.step} of {report.optimizer_note}"
    if site.step == 1:
        cause = "already at the first step: the gradient probe says where it begins"
    else:
        cause = f"after {site.step - 1} finite step(s): the learning rate is the likely cause"
    if site.where == "loss":
        message = f"the loss became {site.loss} at {run}, {cause}"
        module = "<loss>"
    else:
        shown = ", ".join(site.layers[:4]) + (" ..." if len(site.layers) > 4 else "")
        message = (
            f"the weights of {shown} hold NaN/Inf after {run} (the loss before that step was "
            f"{_f(site.loss)}); the learning rate is the likely cause"
        )
        module = site.layers[0]
    return _problem(NON_FINITE, module, None, None, None, message)


def _short_run_problems(report: TrainingReport, bounds: Bounds) -> list[Problem]:
    problems = []
    nonfinite = _nonfinite_problem(report)
    if nonfinite is not None:
        problems.append(nonfinite)
    run = f"{report.optimizer_note}"
    updates = [u for u in report.updates if not is_ignored(u.name, bounds.ignore)]
    too_large = sorted(
        (u for u in updates if u.ratio is not None and u.ratio > bounds.max_update_ratio),
        key=lambda u: -(u.ratio or 0),
    )
    if too_large:
        worst = too_large[0]
        problems.append(
            _problem(
                LEARNING_RATE,
                worst.name or "<model>",
                worst.ratio,
                bounds.max_update_ratio,
                "max_update_ratio",
                f"one step of {run} changed its weights by {_f(worst.ratio)}x their mean size "
                f"(log10 update/weight {_f(worst.log10)}, healthy training sits near -3)"
                f"{_more(too_large, 'above max_update_ratio')}: the learning rate is likely "
                f"too high",
            )
        )
    too_small = sorted(
        (
            u
            for u in updates
            if u.is_weight_layer and u.ratio is not None and 0 < u.ratio < bounds.min_update_ratio
        ),
        key=lambda u: u.ratio or 0,
    )
    if too_small:
        worst = too_small[0]
        problems.append(
            _problem(
                LEARNING_RATE,
                worst.name or "<model>",
                worst.ratio,
                bounds.min_update_ratio,
                "min_update_ratio",
                f"one step of {run} changed its weights by {_f(worst.ratio)} of their mean size "
                f"(log10 update/weight {_f(worst.log10)})"
                f"{_more(too_small, 'below min_update_ratio')}: the learning rate is likely "
                f"too low for it (or its gradient vanishes)",
            )
        )
    killed = [
        k
        for k in report.killed
        if k.killed > bounds.max_killed_fraction and not is_ignored(k.name, bounds.ignore)
    ]
    if killed:
        worst = killed[0]
        problems.append(
            _problem(
                DEAD_RELU,
                worst.name,
                worst.killed,
                bounds.max_killed_fraction,
                "max_killed_fraction",
                f"{worst.dead_after:.0%} of its {worst.units} {worst.kind} units are dead after "
                f"{report.steps} step(s) of {run}, {worst.dead_before:.0%} before"
                f"{_more(killed, 'with units killed')}: a learning rate that is too high is the "
                f"likely cause",
            )
        )
    if report.nonfinite is None and len(report.losses) >= 2:
        window = max(1, len(report.losses) // 3)
        first = sum(report.losses[:window]) / window
        last = sum(report.losses[-window:]) / window
        if not last < first:
            rose = (
                ": it rose, a learning rate that is too high is the likely cause"
                if last > 1.5 * first > 0
                else ""
            )
            problems.append(
                _problem(
                    NOT_LEARNING,
                    "<model>",
                    last,
                    None,
                    None,
                    f"the loss did not go down in {report.steps} step(s) of {run}: mean of the "
                    f"first {window} {_f(first)}, of the last {window} {_f(last)}{rose}"
                    f"{_stuck_parameters(report)}",
                )
            )
    return problems


def _overfit_problems(report: TrainingReport) -> list[Problem]:
    nonfinite = _nonfinite_problem(report)
    if nonfinite is not None:
        return [nonfinite]
    target = report.target_loss
    if target is None or not report.losses or report.losses[-1] <= target:
        return []
    return [
        _problem(
            NOT_LEARNING,
            "<model>",
            report.losses[-1],
            target,
            "target_loss",
            f"the loss went from {_f(report.losses[0])} to {_f(report.losses[-1])} in "
            f"{report.steps} step(s) of {report.optimizer_note} and never reached the target "
            f"{_f(target)}{_stuck_parameters(report)}",
        )
    ]


def _stuck_parameters(report: TrainingReport) -> str:
    """The parameters that cannot have learned: often the reason the loss does not move."""
    text = ""
    if report.frozen:
        text += f"; frozen (requires_grad=False): {_names(report.frozen)}"
    if report.unmoved:
        text += (
            f"; never moved although they require grad (no gradient reaches them: a detached "
            f"path or an unused module?): {_names(report.unmoved)}"
        )
    return text


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:4])
    return shown + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _more(items: list[Any], what: str) -> str:
    return f", and {len(items) - 1} more layer(s) {what}" if len(items) > 1 else ""


def _f(value: float | None) -> str:
    return fmt_number(value)


def _json(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
