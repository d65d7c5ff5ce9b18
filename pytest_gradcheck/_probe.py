"""One real forward and backward pass of a model, measured with cheap hooks; the model is unchanged.

Per parameterised layer (in forward order) it reads gradient and weight norms after backward in one
batched call; activation statistics are reduced to per-unit masks on the device by forward hooks on
activation modules and a ``TorchFunctionMode`` for functional calls; every number crosses to the
host in a single transfer. Train/eval mode, ``.grad``, ``requires_grad``, buffers, hooks and RNG
state are restored in ``finally``, whatever happens.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from pytest_gradcheck._recurrent import RECURRENT_MODULES, RecurrentCall, gate_stats
from pytest_gradcheck._units import saturated_output_fraction, unit_dim, unit_maxima
from pytest_gradcheck.bounds import Bounds
from pytest_gradcheck.checks import depth_ratio, find_problems
from pytest_gradcheck.report import ActivationStats, GradientReport, LayerStats, NonFiniteSite

__all__ = ["GradcheckUsageError", "probe"]

LossFn = Callable[..., Tensor]

# A sigmoid/tanh output is saturated when it is within 1% of its range from a limit: the local
# derivative is then below 4% of its maximum (sigmoid y(1-y) < 0.0099, tanh 1-y^2 < 0.04).
_SATURATION_MARGIN = 0.01

_DEAD_MODULES: tuple[tuple[type[nn.Module], str], ...] = ((nn.ReLU6, "relu6"), (nn.ReLU, "relu"))
# Kinds whose units can die (0 for every example); "prelu" is dead only where every output is 0.
_DEAD_KINDS = ("relu", "relu6", "prelu")
_SATURATING_MODULES: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.Sigmoid, "sigmoid"),
    (nn.Tanh, "tanh"),
)
# Composite activations (GELU's tanh approximation, SiLU = x * sigmoid(x), Mish) call
# tanh/sigmoid internally; those inner calls are not hidden units and must not be counted.
_COMPOSITE_ACTIVATION = re.compile(r"gelu|silu|swish|mish|glu|softplus", re.IGNORECASE)


def _functional_activations() -> dict[Any, str]:
    table: dict[Any, str] = {}
    candidates = {
        "relu": [F.relu, F.relu_, torch.relu, torch.relu_, Tensor.relu, Tensor.relu_],
        "relu6": [F.relu6],
        "sigmoid": [F.sigmoid, torch.sigmoid, Tensor.sigmoid, Tensor.sigmoid_],
        "tanh": [F.tanh, torch.tanh, Tensor.tanh, Tensor.tanh_],
    }
    for name in ("sigmoid_", "tanh_"):
        if hasattr(torch, name):
            candidates[name.rstrip("_")].append(getattr(torch, name))
    for kind, funcs in candidates.items():
        for func in funcs:
            table[func] = kind
    # A leaky ReLU is a ReLU when its negative slope is 0 (decided per call, from its arguments).
    for func in (F.leaky_relu, F.leaky_relu_):
        table[func] = "leaky_relu"
    return table


_FUNCTIONAL = _functional_activations()


class GradcheckUsageError(ValueError):
    """The probe cannot run on what it was given (no parameters, no usable loss, wrong device)."""


# Shown as pytest_gradcheck.GradcheckUsageError in tracebacks: the name users import.
GradcheckUsageError.__module__ = "pytest_gradcheck"


def probe(
    model: nn.Module,
    inputs: Any,
    target: Any = None,
    loss_fn: LossFn | None = None,
    *,
    bounds: Bounds | None = None,
    train: bool = True,
    seed: int | None = None,
    full_output: bool = False,
) -> GradientReport:
    """Run one forward and backward pass of ``model`` on ``inputs`` and measure gradient health.

    ``inputs`` is a tensor (``model(x)``), a tuple/list (``model(*inputs)``) or a mapping
    (``model(**inputs)``). The loss is ``loss_fn(prediction, target)`` (``loss_fn(prediction)``
    without a target) when given; else the output's ``loss`` (Hugging Face style); else
    cross-entropy for an integer target, MSE for a float target, BCE-with-logits for a bool target;
    else the mean of the prediction. The prediction is the output tensor, the first tensor of a
    tuple/list, or the ``logits`` of a dict/model output. With ``full_output=True``, ``loss_fn``
    receives the model's whole output as returned (a dict with an auxiliary head, a tuple, a
    Hugging Face output object) instead of the prediction.

    A ``torch.compile``'d model is probed through its original module, run eagerly (a compiled
    graph does not run the probe's hooks); the probe always runs in grad mode, also inside
    ``torch.no_grad()`` or ``torch.inference_mode()``.

    The model runs in train mode by default (``train=False``: eval mode), as training does:
    dropout and batch norm behave as they do during training. ``seed`` seeds torch's RNG for the
    pass. Nothing is left changed: module modes, ``.grad`` values, ``requires_grad``, buffers
    (batch-norm running statistics), hooks and RNG states are restored.
    """
    __tracebackhide__ = True
    if not isinstance(model, nn.Module):
        raise GradcheckUsageError(
            f"gradcheck needs a torch.nn.Module, got {type(model).__name__}; pass the model, "
            f"not its output or its parameters"
        )
    model = _eager_module(model)
    bounds = Bounds() if bounds is None else bounds
    if not isinstance(bounds, Bounds):
        raise GradcheckUsageError(
            f"bounds must be a pytest_gradcheck.Bounds, got {type(bounds).__name__}; pass bound "
            f"values as keyword arguments instead"
        )
    named = _named_parameters(model)
    trainable = [(n, p) for n, p in named if p.requires_grad]
    if not named:
        raise GradcheckUsageError(
            f"{type(model).__name__} has no parameters, so there is no gradient to check"
        )
    if not trainable:
        raise GradcheckUsageError(
            f"every parameter of {type(model).__name__} has requires_grad=False; unfreeze the "
            f"layers you want checked (or ignore the model)"
        )
    device = _model_device(named)
    _check_usable(model, named, inputs, device)
    _check_devices(inputs, "inputs", device)
    _check_devices(target, "target", device)
    if torch.is_inference_mode_enabled():
        # Tensors made under inference_mode can never join a graph: work on normal copies.
        inputs, target = _outside_inference(inputs), _outside_inference(target)

    modules = _named_modules(model)
    state = _SavedState(model, modules, [p for _, p in named], device)
    recorder = _Recorder(modules)
    compiled = _EagerCalls(modules)
    try:
        model.train(train)
        rng_at_start = state.rng
        if seed is not None:
            _seed(seed, device)
            rng_at_start = _rng_state(device)
        for p in state.params:
            p.grad = None
        recorder.attach()
        compiled.attach()
        with _grad_mode():
            try:
                with recorder.mode or contextlib.nullcontext():
                    output = _call(model, inputs)
            except Exception as exc:
                if hasattr(exc, "add_note"):
                    exc.add_note(
                        f"(raised by {type(model).__name__}.forward during a gradcheck probe; "
                        f"the model's state was restored)"
                    )
                raise
            finally:
                recorder.detach()
            prediction, loss = _loss(output, target, loss_fn, full_output)
            params = [p for _, p in trainable]
            torch.autograd.backward(loss, inputs=params)
            recorder.measure_recurrent()
        report = _measure(
            model, modules, trainable, recorder, prediction, loss, device, train, bounds
        )
        if train and (report.no_grad or report.zero_grad) and report.nonfinite is None:
            state.restore_buffers()
            _excuse_random_skips(report, model, trainable, inputs, target, loss_fn, full_output)
        if report.nonfinite is not None and report.nonfinite.where in ("forward", "loss"):
            # Replay the identical forward (same RNG, same buffers) to find the first culprit.
            state.restore_buffers()
            _set_rng_state(device, rng_at_start)
            report.nonfinite = _locate_nonfinite_forward(
                model, inputs, report.nonfinite, _is_finite_tree(inputs)
            )
        report.problems = find_problems(report, bounds)
        return report
    finally:
        recorder.detach()
        compiled.detach()
        state.restore()


# Re-runs that look for a gradient the probe's pass did not get (see ``_excuse_random_skips``).
RANDOM_SKIP_RERUNS = 3


def _excuse_random_skips(
    report: GradientReport,
    model: nn.Module,
    trainable: list[tuple[str, nn.Parameter]],
    inputs: Any,
    target: Any,
    loss_fn: LossFn | None,
    full_output: bool,
) -> None:
    """Parameters with no (or an exactly zero) gradient may belong to a layer the model skipped
    by its own randomness in this pass: Wav2Vec2/HuBERT's LayerDrop skips a whole layer for the
    batch (one probe in five fails on a 2-layer Wav2Vec2), batch-level stochastic depth zeroes a
    branch. Up to ``RANDOM_SKIP_RERUNS`` more forward/backward passes, with the RNG's next draws
    and without hooks, look for a nonzero gradient; a parameter that gets one is taken off
    ``no_grad``/``zero_grad`` and listed in ``skipped_at_random``. A layer that no draw reaches
    (dead code, a detached branch) is still reported."""
    suspects = set(report.no_grad) | set(report.zero_grad)
    by_name = {name: p for name, p in trainable if name in suspects}
    reached: set[str] = set()
    for _ in range(RANDOM_SKIP_RERUNS):
        waiting = [(n, p) for n, p in by_name.items() if n not in reached]
        if not waiting:
            break
        for _, p in waiting:
            p.grad = None
        with _grad_mode():
            try:
                output = _call(model, inputs)
                _, loss = _loss(output, target, loss_fn, full_output)
                torch.autograd.backward(loss, inputs=[p for _, p in waiting])
            except Exception:  # noqa: BLE001 - the pass itself already ran; keep its verdict
                return
        for name, p in waiting:
            if p.grad is not None and bool(p.grad.detach().abs().sum() > 0):
                reached.add(name)
    if not reached:
        return
    report.skipped_at_random = [n for n in by_name if n in reached]
    for layer in report.layers:
        layer.no_grad = [n for n in layer.no_grad if _qualified(layer, [n])[0] not in reached]
        layer.zero_grad = [n for n in layer.zero_grad if _qualified(layer, [n])[0] not in reached]
    report.no_grad = _qualified_all(report.layers, "no_grad")
    report.zero_grad = _qualified_all(report.layers, "zero_grad")


# --- model, inputs and loss ----------------------------------------------------------------------


def _named_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return _user_paths(list(model.named_parameters()))


def _named_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return _user_paths(list(model.named_modules()))


def _user_paths(named: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Module paths as the user wrote them: without the ``_orig_mod`` of compiled submodules."""
    if not any("_orig_mod" in name for name, _ in named):
        return named
    return [
        (".".join(part for part in name.split(".") if part != "_orig_mod"), value)
        for name, value in named
    ]


def _eager_module(model: nn.Module) -> nn.Module:
    """The module a ``torch.compile`` wrapper holds: dynamo's cached graph of a model that was
    already called would run without the hooks added afterwards, and every layer would read as
    never called. Compiled submodules are switched to eager calls by ``_EagerCalls``."""
    while _compiled_original(model) is not None:
        model = _compiled_original(model)  # type: ignore[assignment]
    return model


def _compiled_original(module: nn.Module) -> nn.Module | None:
    # Read the dicts directly: nn.Module.__getattr__ raises (slowly) for a missing name.
    original = module._modules.get("_orig_mod")
    return original if type(module).__name__ == "OptimizedModule" else None


class _EagerCalls:
    """Makes compiled submodules (``torch.compile`` wrappers or ``module.compile()``) run eagerly
    for the pass, and puts their compiled calls back afterwards."""

    def __init__(self, modules: list[tuple[str, nn.Module]]) -> None:
        self.wrapped = [m for _, m in modules if _compiled_original(m) is not None]
        self.in_place = [m for _, m in modules if m.__dict__.get("_compiled_call_impl")]
        self.saved: list[tuple[nn.Module, str, Any]] = []

    def attach(self) -> None:
        for module in self.wrapped:
            # OptimizedModule keeps its dynamo-wrapped forward as an instance attribute.
            self.saved.append((module, "forward", module.__dict__.get("forward")))
            module.__dict__["forward"] = module._modules["_orig_mod"].__call__
        for module in self.in_place:
            self.saved.append((module, "_compiled_call_impl", module._compiled_call_impl))
            module._compiled_call_impl = None

    def detach(self) -> None:
        for module, attr, value in reversed(self.saved):
            if attr == "forward":
                if value is None:
                    module.__dict__.pop("forward", None)
                else:
                    module.__dict__["forward"] = value
            else:
                module._compiled_call_impl = value
        self.saved.clear()


@contextlib.contextmanager
def _grad_mode() -> Any:
    """Grad mode for the pass, whatever the caller's: an outer ``no_grad`` or ``inference_mode``
    is about the caller's code, and a gradient check needs a graph."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _check_usable(
    model: nn.Module, named: list[tuple[str, nn.Parameter]], inputs: Any, device: torch.device
) -> None:
    __tracebackhide__ = True
    if device.type == "meta":
        raise GradcheckUsageError(
            f"{type(model).__name__} is on the meta device: its parameters hold no values, so "
            f"there is no gradient to measure; materialize it first (model.to_empty(device=...) "
            f"and initialize or load its weights)"
        )
    inference = [n for n, p in named if p.is_inference()]
    if inference:
        raise GradcheckUsageError(
            f"parameter {inference[0]} was created under torch.inference_mode() and can never "
            f"get a gradient; build the model outside inference_mode"
        )
    tensors = _iter_tensors(inputs)
    if tensors and tensors[0].ndim > 0 and tensors[0].shape[0] == 0:
        raise GradcheckUsageError(
            f"the batch is empty (inputs of shape {tuple(tensors[0].shape)}): there is no "
            f"example to compute a loss on; pass at least one example (a few dozen is better)"
        )


def _outside_inference(obj: Any, depth: int = 0) -> Any:
    """``obj`` with every inference tensor replaced by a normal copy (same structure)."""
    if isinstance(obj, Tensor):
        if not obj.is_inference():
            return obj
        with torch.inference_mode(False):
            return obj.clone()
    if depth > 4:
        return obj
    if isinstance(obj, dict):
        return {k: _outside_inference(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(_outside_inference(v, depth + 1) for v in obj)
    return obj


def _model_device(named: list[tuple[str, nn.Parameter]]) -> torch.device:
    return named[0][1].device


def _iter_tensors(obj: Any, depth: int = 0) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if depth > 4:
        return []
    if isinstance(obj, Mapping):
        return [t for v in obj.values() for t in _iter_tensors(v, depth + 1)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _iter_tensors(v, depth + 1)]
    return []


def _check_devices(obj: Any, what: str, device: torch.device) -> None:
    __tracebackhide__ = True
    for tensor in _iter_tensors(obj):
        if tensor.device != device:
            raise GradcheckUsageError(
                f"{what} are on {tensor.device} but the model is on {device}; move them with "
                f".to({str(device)!r}) (or the model with .to({str(tensor.device)!r}))"
            )


def _call(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Tensor):
        return model(inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    # Hugging Face BatchEncoding is a UserDict, not a dict: treat any mapping-like as kwargs.
    if hasattr(inputs, "keys") and hasattr(inputs, "__getitem__"):
        return model(**{k: inputs[k] for k in inputs.keys()})
    return model(inputs)


def _split_output(output: Any) -> tuple[Tensor | None, Any]:
    """(prediction tensor, loss from the output or None)."""
    if isinstance(output, Tensor):
        return output, None
    if isinstance(output, Mapping):
        loss = output.get("loss")
        prediction = output.get("logits")
        if prediction is None:
            prediction = next((v for v in output.values() if isinstance(v, Tensor)), None)
        return prediction, loss
    if hasattr(output, "loss") or hasattr(output, "logits"):
        prediction = getattr(output, "logits", None)
        return prediction if isinstance(prediction, Tensor) else None, getattr(output, "loss", None)
    if isinstance(output, (tuple, list)):
        return next((v for v in output if isinstance(v, Tensor)), None), None
    return None, None


def _loss(
    output: Any, target: Any, loss_fn: LossFn | None, full_output: bool = False
) -> tuple[Tensor | None, Tensor]:
    __tracebackhide__ = True
    prediction, output_loss = _split_output(output)
    with torch.enable_grad():
        if loss_fn is not None and full_output:
            loss = loss_fn(output) if target is None else loss_fn(output, target)
            source = "loss_fn"
        elif loss_fn is not None:
            if prediction is None:
                raise GradcheckUsageError(
                    f"the model returned {type(output).__name__} with no tensor to pass to "
                    f"loss_fn; return a tensor, a tuple starting with a tensor, or a dict with "
                    f"'logits' (or pass full_output=True to give loss_fn the whole output)"
                )
            loss = loss_fn(prediction) if target is None else loss_fn(prediction, target)
            source = "loss_fn"
        elif output_loss is not None:
            loss, source = output_loss, "the model output's loss"
        elif prediction is None:
            raise GradcheckUsageError(
                f"the model returned {type(output).__name__}, which holds no tensor and no loss; "
                f"pass loss_fn=... that computes a scalar loss from it"
            )
        elif not (prediction.is_floating_point() or prediction.is_complex()):
            raise GradcheckUsageError(
                f"the model output has dtype {prediction.dtype}: no gradient flows through "
                f"integer/bool outputs (argmax, rounding?); return the logits instead"
            )
        elif target is None:
            loss, source = prediction.mean(), "the mean of the output"
        else:
            loss, source = _default_loss(prediction, target), "the default loss"
    if not isinstance(loss, Tensor):
        raise GradcheckUsageError(
            f"{source} is {type(loss).__name__}, not a tensor; the loss must be a scalar tensor"
        )
    if loss.numel() != 1:
        raise GradcheckUsageError(
            f"{source} has shape {tuple(loss.shape)}, not a scalar; reduce it (e.g. .mean())"
        )
    if not loss.requires_grad:
        raise GradcheckUsageError(
            f"{source} does not depend on any parameter that requires grad: is forward run under "
            f"torch.no_grad(), or is the output detached (.detach(), .item(), numpy)?"
        )
    return prediction, loss.reshape(())


def _default_loss(prediction: Tensor, target: Any) -> Tensor:
    __tracebackhide__ = True
    if not isinstance(target, Tensor):
        raise GradcheckUsageError(
            f"target must be a tensor for the default loss, got {type(target).__name__}; "
            f"pass loss_fn=... to use another kind of target"
        )
    shapes = f"output {tuple(prediction.shape)} vs target {tuple(target.shape)}"
    if target.dtype == torch.bool:
        if prediction.shape != target.shape:
            raise GradcheckUsageError(
                f"bool target needs the output's shape for BCE-with-logits: {shapes}"
            )
        return F.binary_cross_entropy_with_logits(prediction, target.to(prediction.dtype))
    if not (target.is_floating_point() or target.is_complex()):
        if prediction.ndim == target.ndim + 1 and prediction.shape[:-1] == target.shape:
            # Class scores in the last dim: (N, C) classification, (N, T, C) sequences.
            return F.cross_entropy(
                prediction.reshape(-1, prediction.shape[-1]), target.reshape(-1).long()
            )
        if (
            prediction.ndim == target.ndim + 1
            and prediction.shape[0] == target.shape[0]
            and prediction.shape[2:] == target.shape[1:]
        ):
            return F.cross_entropy(prediction, target.long())  # (N, C, H, W) segmentation
        raise GradcheckUsageError(
            f"integer target needs class scores in the output's last dim for cross-entropy: "
            f"{shapes}; pass loss_fn=..."
        )
    if prediction.shape != target.shape:
        # Broadcasting in MSE silently computes the wrong thing; refuse instead.
        raise GradcheckUsageError(f"float target needs the output's shape for MSE: {shapes}")
    return F.mse_loss(prediction, target)


# --- state saved and restored --------------------------------------------------------------------


def _rng_state(device: torch.device) -> tuple[Tensor, list[Tensor] | None]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_rng_state(device: torch.device, state: tuple[Tensor, list[Tensor] | None]) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _seed(seed: int, device: torch.device) -> None:
    torch.default_generator.manual_seed(seed)
    # Seed CUDA only where it is already in use: torch.manual_seed would queue a seed for a lazy
    # CUDA init and change the user's CUDA RNG after we restored it.
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)


class _SavedState:
    """Everything a forward/backward pass can change, captured before and put back after."""

    def __init__(
        self,
        model: nn.Module,
        modules: list[tuple[str, nn.Module]],
        params: list[nn.Parameter],
        device: torch.device,
    ) -> None:
        self.model = model
        self.params = params
        self.modes = [(m, m.training) for _, m in modules]
        self.grads = [(p, p.grad) for p in params]
        self.requires_grad = [(p, p.requires_grad) for p in params]
        self.rng = _rng_state(device)
        # Batch norm running stats (and any other buffer) move in a train-mode forward.
        self.buffers: list[tuple[nn.Module, str, Tensor, Tensor]] = []
        with torch.no_grad():
            for _, module in modules:
                for name, buf in module._buffers.items():
                    if buf is not None:
                        self.buffers.append((module, name, buf, buf.detach().clone()))

    def restore_buffers(self) -> None:
        with torch.no_grad():
            for module, name, buf, saved in self.buffers:
                module._buffers[name] = buf
                buf.copy_(saved)

    def restore(self) -> None:
        # nn.Module.__setattr__ is slow (it searches the parameter, buffer and module dicts):
        # write only what the pass changed.
        for module, training in self.modes:
            if module.training != training:
                module.training = training
        for p, grad in self.grads:
            if p.grad is not grad:
                p.grad = grad
        for p, requires_grad in self.requires_grad:
            if p.requires_grad != requires_grad:
                p.requires_grad_(requires_grad)
        self.restore_buffers()
        _set_rng_state(torch.device("cpu"), self.rng)


# --- recording during forward --------------------------------------------------------------------


class _ActivationMode(TorchFunctionMode):
    """Sees functional relu/sigmoid/tanh calls made outside activation modules."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        # Every op of the forward passes through here: one dict lookup, then straight through.
        kind = _FUNCTIONAL.get(func)
        if kind == "leaky_relu":
            slope = args[1] if len(args) > 1 else (kwargs or {}).get("negative_slope", 0.01)
            kind = "relu" if slope == 0 else None
        out = func(*args, **kwargs) if kwargs else func(*args)
        if kind is not None and isinstance(out, Tensor):
            self.recorder.record_functional(kind, out)
        return out


# Forward methods of torch.nn modules that never call relu/sigmoid/tanh as functions outside an
# activation module: a model built only from these needs no function mode (modules whose class
# keeps one of these forwards, subclasses included, qualify; a custom forward does not).
_PLAIN_FORWARD_CLASSES: tuple[type[nn.Module], ...] = (
    nn.Module,  # containers without a forward (ModuleList, ModuleDict) are never called
    nn.Sequential,
    nn.Identity,
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.Embedding,
    nn.Flatten,
    nn.Unflatten,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.AdaptiveAvgPool1d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d,
    nn.AdaptiveMaxPool2d,
    nn.AdaptiveMaxPool3d,
    nn.ReLU,
    nn.ReLU6,
    nn.Sigmoid,
    nn.Tanh,
    nn.LeakyReLU,
    nn.PReLU,
    nn.LSTM,
    nn.GRU,
    nn.RNN,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Softmax,
    nn.LogSoftmax,
)
_PLAIN_FORWARDS = frozenset(cls.forward for cls in _PLAIN_FORWARD_CLASSES)


def _needs_function_mode(modules: list[tuple[str, nn.Module]]) -> bool:
    """Whether any code that runs in the forward could call relu/sigmoid/tanh as a function.

    The mode costs a Python call per op, a large share of a small model's step, so it is entered
    only when a custom forward or a hook could make such a call.
    """
    if _global_forward_hooks():
        return True
    return any(
        type(module).forward not in _PLAIN_FORWARDS or _has_forward_hooks(module)
        for _, module in modules
    )


def _global_forward_hooks() -> bool:
    return bool(nn.modules.module._global_forward_hooks) or bool(
        nn.modules.module._global_forward_pre_hooks
    )


def _has_forward_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks) or bool(module._forward_pre_hooks)


@dataclass
class _Site:
    """One measured activation call, its numbers still on the device."""

    site: str
    kind: str
    units: int
    measured: Tensor
    """Dead kinds: per-unit maxima (1-D), or a dead-unit count (0-D, recurrent); saturating
    kinds: the saturated fraction (0-D)."""
    unit_kind: str = "unit"


class _Recorder:
    """Forward hooks and the function mode of one probe; ``detach`` removes all of them.

    Hooks go only where they are needed (each hooked module leaves nn.Module's fast call path):
    modules that own parameters directly (their first call gives the layer order, their last the
    layout of the activation that follows) and activation modules (their outputs are measured).
    With the function mode, modules that can make functional calls (custom forwards) and
    composite activations also keep a stack of what is running, so a functional call is named
    after its innermost module. Recurrent modules also keep their inputs, to recompute gates.
    """

    def __init__(self, modules: list[tuple[str, nn.Module]]) -> None:
        self.modules = modules
        self.first_call: dict[str, int] = {}
        # The parameterised module that started last: it produced what the next activation sees.
        self.last_owner: nn.Module | None = None
        # (module path, activation kind or None, is composite) of the modules currently running.
        self.stack: list[tuple[str, str | None, bool]] = []
        self.activations: list[_Site] = []
        self.recurrent_calls: list[RecurrentCall] = []
        self.site_counts: dict[str, int] = {}
        self.handles: list[Any] = []
        self.mode = _ActivationMode(self) if _needs_function_mode(modules) else None

    def attach(self) -> None:
        tracked = self.mode is not None
        # A user's hook runs as part of its module's call and may call F.relu & co. itself.
        hooked_everywhere = tracked and _global_forward_hooks()
        for name, module in self.modules:
            kind = _module_kind(module)
            owns = any(p is not None for p in module._parameters.values())
            if isinstance(module, RECURRENT_MODULES):
                self.handles.append(
                    module.register_forward_hook(self._recurrent_hook(name), with_kwargs=True)
                )
            if not tracked:
                if owns:
                    self.handles.append(module.register_forward_pre_hook(self._order_hook(name)))
                if kind is not None:
                    self.handles.append(module.register_forward_hook(self._output_hook(name, kind)))
                continue
            composite = kind is None and bool(_COMPOSITE_ACTIVATION.search(type(module).__name__))
            plain = (
                type(module).forward in _PLAIN_FORWARDS
                and not composite
                and not hooked_everywhere
                and not _has_forward_hooks(module)
            )
            if kind is None and plain:
                # Nothing inside runs a functional activation: no stack entry is needed.
                if owns:
                    self.handles.append(module.register_forward_pre_hook(self._order_hook(name)))
                continue
            self.handles.append(
                module.register_forward_pre_hook(self._push_hook(name, kind, composite, owns))
            )
            self.handles.append(module.register_forward_hook(self._pop_hook(kind)))

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def measure_recurrent(self) -> None:
        """Gate saturation of every recorded recurrent call (after the pass; nothing to undo)."""
        for call in self.recurrent_calls:
            for gate in gate_stats(call):
                unit_kind = "gate"
                if gate.kind == "relu":
                    unit_kind = "unit"
                elif gate.site.endswith(("/cell_gate", "/new_gate", "/hidden")):
                    unit_kind = "cell"
                site = self._site_name(gate.site)
                self.activations.append(_Site(site, gate.kind, gate.units, gate.value, unit_kind))
        self.recurrent_calls.clear()

    def _order_hook(self, name: str) -> Callable[..., None]:
        first_call = self.first_call

        def hook(module: nn.Module, args: Any) -> None:
            self.last_owner = module
            if name not in first_call:
                first_call[name] = len(first_call)

        return hook

    def _output_hook(self, name: str, kind: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, Tensor):
                self._record(name, kind, output)

        return hook

    def _recurrent_hook(self, name: str) -> Callable[..., None]:
        calls = self.recurrent_calls

        def hook(module: Any, args: Any, kwargs: Any, output: Any) -> None:
            inputs = args[0] if args else kwargs.get("input")
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            calls.append(RecurrentCall(name, module, inputs, hx, output))

        return hook

    def _push_hook(
        self, name: str, kind: str | None, composite: bool, owns: bool
    ) -> Callable[..., None]:
        first_call, stack, entry = self.first_call, self.stack, (name, kind, composite)

        def hook(module: nn.Module, args: Any) -> None:
            if owns:
                self.last_owner = module
                if name not in first_call:
                    first_call[name] = len(first_call)
            stack.append(entry)

        return hook

    def _pop_hook(self, kind: str | None) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            name, _, _ = self.stack.pop() if self.stack else ("", None, False)
            if kind is not None and isinstance(output, Tensor):
                self._record(name, kind, output)

        return hook

    def record_functional(self, kind: str, output: Tensor) -> None:
        if self.stack:
            module, module_kind, composite = self.stack[-1]
            # Inside nn.ReLU & co. the module hook records it; inside GELU/SiLU it is not a unit.
            if module_kind is not None or composite:
                return
        else:
            module = ""
        self._record(f"{module or '<model>'}/{kind}", kind, output)

    def _site_name(self, site: str) -> str:
        count = self.site_counts.get(site, 0) + 1
        self.site_counts[site] = count
        return site if count == 1 else f"{site}#{count}"

    def _record(self, site: str, kind: str, output: Tensor) -> None:
        if output.ndim == 0 or output.numel() == 0 or not output.is_floating_point():
            return
        site = self._site_name(site)
        # Detached, so no graph is built; the reductions finish in _measure, batched.
        y = output.detach()
        producer = self.last_owner
        dim = unit_dim(y, producer)
        units = 1 if dim is None else y.shape[dim]
        unit_kind = "channel" if dim is not None and _is_channel_map(y, dim, producer) else "unit"
        if kind in _DEAD_KINDS:
            # A unit is dead iff its maximum over the batch is 0 (of |y| for PReLU).
            measured = unit_maxima(y, dim, magnitude=kind == "prelu")
        else:
            # Saturation is counted per output (example x unit): a unit pinned for most
            # examples already starves the layers below, even if one example gets through.
            measured = saturated_output_fraction(y, kind, _SATURATION_MARGIN)
        self.activations.append(_Site(site, kind, units, measured, unit_kind))


def _is_channel_map(y: Tensor, dim: int, producer: nn.Module | None) -> bool:
    # Units of a convolution's map are channels (dead for every position of every example).
    return y.ndim >= 3 and (dim == 1 or isinstance(producer, nn.modules.conv._ConvNd))


def _module_kind(module: nn.Module) -> str | None:
    for cls, kind in _DEAD_MODULES + _SATURATING_MODULES:
        if isinstance(module, cls):
            return kind
    # A leaky ReLU with slope 0 is a ReLU and dies like one.
    if isinstance(module, nn.LeakyReLU) and module.negative_slope == 0:
        return "relu"
    if isinstance(module, nn.PReLU):
        return "prelu"
    return None


# --- measuring after backward --------------------------------------------------------------------


def _norms(tensors: list[Tensor], device: torch.device) -> Tensor:
    """L2 norms as one float32 1-D tensor on ``device``, in order; one batched call per dtype."""
    if not tensors:
        return torch.zeros(0, device=device)
    groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}
    for i, t in enumerate(tensors):
        groups.setdefault((t.dtype, t.device), []).append(i)
    parts = []
    for (dtype, _), idx in groups.items():
        group = [tensors[i].detach() for i in idx]
        # Half-precision norms overflow at 65504: accumulate them in float32.
        wide = torch.float32 if dtype in (torch.float16, torch.bfloat16) else None
        try:
            norms = (
                torch._foreach_norm(group, 2, dtype=wide) if wide else torch._foreach_norm(group)
            )
        except (RuntimeError, TypeError, AttributeError):
            norms = [torch.linalg.vector_norm(t, dtype=wide) for t in group]
        parts.append(torch.stack(norms).to(device=device, dtype=torch.float32))
    if len(parts) == 1:
        return parts[0]
    # Several dtypes or devices: put the norms back in input order.
    order = [i for idx in groups.values() for i in idx]
    position = torch.empty(len(order), dtype=torch.long)
    position[order] = torch.arange(len(order))
    return torch.cat(parts)[position.to(device)]


def _is_maxima(site: _Site) -> bool:
    return site.kind in _DEAD_KINDS and site.measured.ndim == 1


def _activation_scalars(activations: list[_Site], device: torch.device) -> list[Tensor]:
    """1-D float32 tensors: the dead-unit counts of the sites measured as per-unit maxima, then
    the other sites' values (saturated fractions, recurrent dead counts), in site order.

    The per-unit maxima of all those sites are compared to 0 in one call, and a cumulative sum
    read at each site's end gives every site's count without a kernel per site.
    """
    maxima = [a.measured for a in activations if _is_maxima(a)]
    scalars = [a.measured for a in activations if not _is_maxima(a)]
    out = []
    if maxima:
        ends, end = [], 0
        for m in maxima:
            end += m.numel()
            ends.append(end - 1)
        flat = torch.cat([m.to(device=device, dtype=torch.float32) for m in maxima])
        cumulative = (flat <= 0).cumsum(0)
        out.append(cumulative[torch.tensor(ends, device=device)].to(torch.float32))
    if scalars:
        out.append(torch.stack([f.to(device=device, dtype=torch.float32) for f in scalars]))
    return out


def _measure(
    model: nn.Module,
    modules: list[tuple[str, nn.Module]],
    trainable: list[tuple[str, nn.Parameter]],
    recorder: _Recorder,
    prediction: Tensor | None,
    loss: Tensor,
    device: torch.device,
    train: bool,
    bounds: Bounds,
) -> GradientReport:
    with torch.no_grad():
        with_grad = [(n, p) for n, p in trainable if p.grad is not None]
        # Gradient and weight norms in one batched call (per dtype).
        parts = [_norms([p.grad for _, p in with_grad] + [p for _, p in trainable], device)]
        parts += _activation_scalars(recorder.activations, device)
        finite_output = (
            torch.isfinite(prediction.detach()).all().float()
            if prediction is not None and prediction.is_floating_point()
            else torch.ones((), device=device)
        )
        parts.append(torch.stack([finite_output.to(device), loss.detach().float().to(device)]))
        values = torch.cat(parts).tolist()  # the one host transfer
    n_grad, n_param = len(with_grad), len(trainable)
    grad_norm = {n: values[i] for i, (n, _) in enumerate(with_grad)}
    weight_norm = {n: values[n_grad + i] for i, (n, _) in enumerate(trainable)}
    activation_values = iter(values[n_grad + n_param : -2])
    n_maxima = sum(_is_maxima(a) for a in recorder.activations)
    dead_cumulative = [next(activation_values) for _ in range(n_maxima)]
    dead_counts = iter(
        [c - (dead_cumulative[i - 1] if i else 0.0) for i, c in enumerate(dead_cumulative)]
    )
    flagged_counts = [
        next(dead_counts) if _is_maxima(a) else next(activation_values)
        for a in recorder.activations
    ]
    output_finite, loss_value = values[-2] == 1.0, values[-1]

    layers = _layers(modules, model, trainable, recorder.first_call, grad_norm, weight_norm)
    activations = [
        ActivationStats(
            name=a.site,
            kind=a.kind,
            units=a.units,
            dead_fraction=count / a.units if a.kind in _DEAD_KINDS else None,
            saturated_fraction=count if a.kind in ("sigmoid", "tanh") else None,
            unit_kind=a.unit_kind,
        )
        for a, count in zip(recorder.activations, flagged_counts)
    ]
    nonfinite = None
    if not output_finite:
        nonfinite = NonFiniteSite("forward", None, "the model output holds NaN/Inf")
    elif not math.isfinite(loss_value):
        nonfinite = NonFiniteSite(
            "loss", None, f"the loss is {loss_value} but the output is finite"
        )
    else:
        bad = [layer for layer in layers if layer.nonfinite_grad]
        if bad:
            # Backward runs from the output: the last layer in forward order is reached first.
            first = max(bad, key=lambda layer: (layer.called, _order(layer, recorder.first_call)))
            nonfinite = NonFiniteSite(
                "gradient",
                first.name or "<model>",
                f"the gradient of {', '.join(first.nonfinite_grad)} in {first.name or '<model>'} "
                f"holds NaN/Inf (loss {loss_value:.4g} is finite; {len(bad)} layer(s) affected)",
            )
    depth = depth_ratio(layers, bounds.ignore)
    return GradientReport(
        model=type(model).__name__,
        device=str(device),
        train=train,
        loss=loss_value,
        bounds=bounds,
        layers=layers,
        activations=activations,
        vanishing_ratio=depth.ratio if depth else None,
        vanishing_pair=(depth.first, depth.last) if depth else None,
        growth_per_layer=depth.growth if depth else None,
        depth_role=depth.role if depth else None,
        no_grad=_qualified_all(layers, "no_grad"),
        zero_grad=_qualified_all(layers, "zero_grad"),
        nonfinite=nonfinite,
    )


def _qualified(layer: LayerStats, names: list[str]) -> list[str]:
    return [f"{layer.name}.{n}" if layer.name else n for n in names]


def _qualified_all(layers: list[LayerStats], which: str) -> list[str]:
    """The full names of every layer's ``no_grad`` or ``zero_grad`` parameters."""
    return [n for layer in layers for n in _qualified(layer, getattr(layer, which))]


def _order(layer: LayerStats, first_call: dict[str, int]) -> int:
    return first_call.get(layer.name, -1)


def _layers(
    modules: list[tuple[str, nn.Module]],
    model: nn.Module,
    trainable: list[tuple[str, nn.Parameter]],
    first_call: dict[str, int],
    grad_norm: dict[str, float],
    weight_norm: dict[str, float],
) -> list[LayerStats]:
    by_name = dict(modules)
    owned: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for name, p in trainable:
        owner, _, local = name.rpartition(".")
        owned.setdefault(owner, []).append((local, p))
    layers = []
    for owner, params in owned.items():
        module = by_name.get(owner, model)
        norms = [grad_norm.get(f"{owner}.{n}" if owner else n) for n, _ in params]
        present = [g for g in norms if g is not None]
        numel = sum(p.numel() for _, p in params)
        g_norm = math.sqrt(sum(g * g for g in present)) if present else None
        w_norm = math.sqrt(sum(weight_norm[f"{owner}.{n}" if owner else n] ** 2 for n, _ in params))
        layers.append(
            LayerStats(
                name=owner,
                type=type(module).__name__,
                params=[n for n, _ in params],
                numel=numel,
                grad_norm=g_norm,
                weight_norm=w_norm,
                grad_rms=None if g_norm is None else g_norm / math.sqrt(max(numel, 1)),
                ratio=None if g_norm is None or w_norm == 0 else g_norm / w_norm,
                is_weight_layer=_is_weight_layer(module, params),
                called=owner in first_call,
                no_grad=[n for (n, _), g in zip(params, norms) if g is None],
                zero_grad=[n for (n, _), g in zip(params, norms) if g == 0.0],
                nonfinite_grad=[
                    n for (n, _), g in zip(params, norms) if g is not None and not math.isfinite(g)
                ],
                # Embeddings are left out: their rows are looked up, not multiplied through.
                weight_gain=_weight_gain(owner, params, weight_norm)
                if _is_weight_layer(module, params)
                else None,
            )
        )
    # Forward order; modules that never ran keep registration order after the others.
    order = {layer.name: i for i, layer in enumerate(layers)}
    layers.sort(
        key=lambda layer: (
            not layer.called,
            first_call.get(layer.name, 0) if layer.called else order[layer.name],
        )
    )
    return layers


def _weight_gain(
    owner: str, params: list[tuple[str, nn.Parameter]], weight_norm: dict[str, float]
) -> float | None:
    """``||W|| / sqrt(fan_out)`` of the layer's first >=2-D weight: its RMS times sqrt(fan_in),
    the factor by which it scales a unit-variance input."""
    for name, p in params:
        if name.startswith("weight") and p.ndim >= 2 and p.shape[0] > 0:
            return weight_norm[f"{owner}.{name}" if owner else name] / math.sqrt(p.shape[0])
    return None


def _is_weight_layer(module: nn.Module, params: list[tuple[str, nn.Parameter]]) -> bool:
    # Embedding gradients are sparse (only the rows looked up), which says nothing about depth.
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return False
    return any(name.startswith("weight") and p.ndim >= 2 for name, p in params)


# --- locating the first non-finite value ---------------------------------------------------------


def _is_finite_tree(obj: Any) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in _iter_tensors(obj) if t.is_floating_point())


class _NonFiniteMode(TorchFunctionMode):
    """Replay-only: records the first op whose output has NaN while its inputs had none."""

    def __init__(self, stack: list[str]) -> None:
        super().__init__()
        self.stack = stack
        self.first: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        if self.first is None:
            outs = [t for t in _iter_tensors(out) if t.is_floating_point()]
            if any(bool(torch.isnan(t).any()) for t in outs):
                ins = [t for t in _iter_tensors([args, kwargs or {}]) if t.is_floating_point()]
                if not any(bool(torch.isnan(t).any()) for t in ins):
                    where = self.stack[-1] if self.stack else ""
                    op = getattr(func, "__name__", str(func))
                    self.first = f"{op}() in {where or '<model>'}"
        return out


def _locate_nonfinite_forward(
    model: nn.Module, inputs: Any, found: NonFiniteSite, inputs_finite: bool
) -> NonFiniteSite:
    if not inputs_finite:
        return NonFiniteSite("inputs", None, "the inputs already hold NaN/Inf")
    if found.where == "loss":
        return found
    stack: list[str] = []
    first_module: list[str] = []
    handles = []

    def pre(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            stack.append(name)

        return hook

    def post(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if stack:
                stack.pop()
            if not first_module and not _is_finite_tree(output):
                first_module.append(name)

        return hook

    mode = _NonFiniteMode(stack)
    try:
        for name, module in _named_modules(model):
            handles.append(module.register_forward_pre_hook(pre(name)))
            handles.append(module.register_forward_hook(post(name)))
        with torch.no_grad(), mode:
            _call(model, inputs)
    except Exception:  # the diagnosis is best effort; the original finding still stands
        return found
    finally:
        for handle in handles:
            handle.remove()
    if not first_module:
        return found
    module = first_module[0]
    kind = type(dict(_named_modules(model))[module]).__name__
    detail = f"the output of {module or '<model>'} ({kind}) is the first to hold NaN/Inf"
    if mode.first:
        detail += f"; first NaN produced by {mode.first}"
    return NonFiniteSite("forward", module or "<model>", detail)
