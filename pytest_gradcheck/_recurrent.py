"""Gates of nn.LSTM / nn.GRU / nn.RNN, recomputed from the module's weights on the same pass.

The fused recurrent kernels hide their sigmoid/tanh gates from hooks and function modes, so a
saturated LSTM looks healthy from outside. After the forward, each recorded call is replayed
layer by layer (one fused single-layer call per layer and direction below the last, without
dropout, under ``no_grad``; the last layer's outputs are the module's own) to get every layer's
input sequence and hidden states; the gate pre-activations then follow for all time steps at once
from two matrix products, and a gate output is saturated where its pre-activation is beyond the
matching threshold. The user's module is only read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

__all__ = ["RecurrentCall", "GateStats", "gate_stats"]

RECURRENT_MODULES = (nn.LSTM, nn.GRU, nn.RNN)

# Gate names in PyTorch's weight layout (rows of weight_ih / weight_hh), with their activation.
_GATES = {
    "LSTM": (("input_gate", "sigmoid"), ("forget_gate", "sigmoid"), ("cell_gate", "tanh"),
             ("output_gate", "sigmoid")),
    "GRU": (("reset_gate", "sigmoid"), ("update_gate", "sigmoid"), ("new_gate", "tanh")),
}  # fmt: skip


@dataclass
class RecurrentCall:
    """One call of a recurrent module, as recorded by a forward hook (tensors detached)."""

    name: str
    module: nn.RNNBase
    input: Any
    hx: Any
    output: Any = None


@dataclass
class GateStats:
    """One gate kind of one recurrent module over all its layers, directions and time steps."""

    site: str
    kind: str
    """``sigmoid`` or ``tanh`` (saturation), or ``relu`` (``nn.RNN(nonlinearity='relu')``)."""
    units: int
    value: Tensor
    """0-D: the saturated fraction of the outputs, or (relu) the number of dead hidden units."""


_RNN_GATES = (("hidden", "tanh"),)


def gate_stats(call: RecurrentCall) -> list[GateStats]:
    """Saturation of every gate kind of ``call`` (dead hidden units for a ReLU RNN)."""
    module = call.module
    with torch.no_grad():
        x, lengths = _as_time_major(call.input, module.batch_first)
        if x is None:
            return []
        directions = 2 if module.bidirectional else 1
        last_output = _output_sequence(call.output, module, x)
        h0, c0 = _initial_state(call.hx, module, x)
        valid = None if lengths is None else _valid_mask(lengths, x)
        pinned: dict[str, list[Tensor]] = {}
        total = 0  # outputs of each gate counted, over layers and directions
        maxima: list[Tensor] = []
        for layer in range(module.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                weights = _layer_weights(module, layer, direction)
                xs = x if direction == 0 else _reverse(x, lengths)
                state = (h0[index : index + 1],) + (
                    (c0[index : index + 1],) if c0 is not None else ()
                )
                if layer == module.num_layers - 1 and last_output is not None:
                    # The module's own output is the last layer's: no need to run it again.
                    out = last_output.chunk(directions, -1)[direction]
                    out = out if direction == 0 else _reverse(out, lengths)
                else:
                    out = _run_layer(module, xs, state, weights)
                prev = torch.cat([state[0], out[:-1]], 0)
                if isinstance(module, nn.RNN) and module.nonlinearity == "relu":
                    pre = _pre_activations(module, xs, prev, weights)
                    pre = pre if valid is None else pre[valid]
                    maxima.append(pre.reshape(-1, pre.shape[-1]).amax(0))
                else:
                    counts, sampled = _pinned_counts(module, xs, prev, weights, valid)
                    for gate, count in counts.items():
                        pinned.setdefault(gate, []).append(count)
                    total += sampled
                outputs.append(out if direction == 0 else _reverse(out, lengths))
            x = torch.cat(outputs, -1) if directions == 2 else outputs[0]
    name = call.name
    if maxima:
        dead = (torch.stack(maxima).amax(0) <= 0).sum().to(torch.float32)
        return [GateStats(f"{name}/hidden", "relu", module.hidden_size, dead)]
    kinds = dict(_GATES.get(type(module).__name__, _RNN_GATES))
    return [
        GateStats(f"{name}/{gate}", kinds[gate], module.hidden_size, sum(counts) / total)
        for gate, counts in pinned.items()
    ]


# Saturation on the pre-activation: a sigmoid output is within 1% of a limit (below 0.01 or above
# 0.99) iff |z| > logit(0.99); a tanh output (beyond +-0.98) iff |z| > atanh(0.98).
_PINNED = {"sigmoid": math.log(0.99 / 0.01), "tanh": math.atanh(0.98)}


#: Saturation is a fraction over outputs: this many (time step, example) positions, evenly
#: spaced, estimate it as well as all of them do, and bound the cost on long sequences.
SAMPLED_POSITIONS = 256


def _pinned_counts(
    module: nn.RNNBase, x: Tensor, prev: Tensor, weights: list[Tensor], valid: Tensor | None
) -> tuple[dict[str, Tensor], int]:
    """Per gate, how many sampled outputs sit at a limit (0-D tensors), and how many outputs of
    each gate were sampled."""
    x, prev = _flat_positions(x, valid), _flat_positions(prev, valid)
    if x.shape[0] > SAMPLED_POSITIONS:
        rows = torch.linspace(0, x.shape[0] - 1, SAMPLED_POSITIONS, device=x.device).long()
        x, prev = x[rows], prev[rows]
    from_x, from_h = _projections(module, x, prev, weights)
    if isinstance(module, nn.GRU):
        xr, xz, xn = from_x.chunk(3, -1)
        hr, hz, hn = from_h.chunk(3, -1)
        reset_pre = xr + hr
        pre = torch.cat([reset_pre, xz + hz, xn + torch.sigmoid(reset_pre) * hn], -1)
    else:
        pre = from_x + from_h
    gates = _GATES.get(type(module).__name__, _RNN_GATES)
    limits = torch.tensor([_PINNED[kind] for _, kind in gates], dtype=pre.dtype, device=pre.device)
    width = module.hidden_size
    at_limit = pre.abs() > limits.repeat_interleave(width)
    counts = at_limit.reshape(-1, len(gates), width).sum((0, 2))
    return {gate: counts[i] for i, (gate, _) in enumerate(gates)}, x.shape[0] * width


def _flat_positions(t: Tensor, valid: Tensor | None) -> Tensor:
    """(T, N, F) as (positions, F), padded positions of a packed batch left out."""
    return t.reshape(-1, t.shape[-1]) if valid is None else t[valid]


def _pre_activations(module: nn.RNNBase, x: Tensor, prev: Tensor, weights: list[Tensor]) -> Tensor:
    from_x, from_h = _projections(module, x, prev, weights)
    return from_x + from_h


def _projections(
    module: nn.RNNBase, x: Tensor, prev: Tensor, weights: list[Tensor]
) -> tuple[Tensor, Tensor]:
    """``x W_ih^T + b_ih`` and ``h_{t-1} W_hh^T + b_hh`` for every time step at once."""
    from_x = x @ weights[0].T
    from_h = prev @ weights[1].T
    if module.bias:
        from_x = from_x + weights[2]
        from_h = from_h + weights[3]
    return from_x, from_h


def _output_sequence(output: Any, module: nn.RNNBase, x: Tensor) -> Tensor | None:
    """The module's output sequence as (T, N, D*H), or None when it cannot be read."""
    out = output[0] if isinstance(output, tuple) and output else None
    if isinstance(out, PackedSequence):
        out = pad_packed_sequence(out, batch_first=False)[0]
    elif isinstance(out, Tensor):
        if out.ndim == 2:  # unbatched
            out = out.unsqueeze(1)
        elif module.batch_first:
            out = out.transpose(0, 1)
    else:
        return None
    return out if out.shape[:2] == x.shape[:2] else None


def _as_time_major(inputs: Any, batch_first: bool) -> tuple[Tensor | None, Tensor | None]:
    """(T, N, F) input and the lengths of a packed batch (None when not packed)."""
    if isinstance(inputs, PackedSequence):
        padded, lengths = pad_packed_sequence(inputs, batch_first=False)
        return padded, lengths.to(padded.device)
    if not isinstance(inputs, Tensor) or not inputs.is_floating_point():
        return None, None
    if inputs.ndim == 2:  # unbatched (T, F)
        return inputs.unsqueeze(1), None
    return (inputs.transpose(0, 1) if batch_first else inputs), None


def _initial_state(hx: Any, module: nn.RNNBase, x: Tensor) -> tuple[Tensor, Tensor | None]:
    layers = module.num_layers * (2 if module.bidirectional else 1)
    out_size = module.proj_size if getattr(module, "proj_size", 0) else module.hidden_size
    zeros_h = x.new_zeros(layers, x.shape[1], out_size)
    lstm = isinstance(module, nn.LSTM)
    if hx is None:
        return zeros_h, x.new_zeros(layers, x.shape[1], module.hidden_size) if lstm else None
    h, c = (hx[0], hx[1]) if lstm else (hx, None)
    if h.ndim == 2:  # unbatched
        h = h.unsqueeze(1)
        c = c.unsqueeze(1) if c is not None else None
    return h, c


def _layer_weights(module: nn.RNNBase, layer: int, direction: int) -> list[Tensor]:
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    names = ["weight_ih", "weight_hh"]
    if module.bias:
        names += ["bias_ih", "bias_hh"]
    if getattr(module, "proj_size", 0):
        names.append("weight_hr")
    return [getattr(module, name + suffix) for name in names]


def _run_layer(
    module: nn.RNNBase, x: Tensor, state: tuple[Tensor, ...], weights: list[Tensor]
) -> Tensor:
    """The output sequence (T, N, H) of one layer in one direction, no dropout."""
    args = (module.bias, 1, 0.0, False, False, False)
    if isinstance(module, nn.LSTM):
        return torch.lstm(x, state, weights, *args)[0]
    if isinstance(module, nn.GRU):
        return torch.gru(x, state[0], weights, *args)[0]
    run = torch.rnn_relu if module.nonlinearity == "relu" else torch.rnn_tanh
    return run(x, state[0], weights, *args)[0]


def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Time-reverse (T, N, ...) sequences, each within its own length when packed."""
    if lengths is None:
        return x.flip(0)
    steps = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


def _valid_mask(lengths: Tensor, x: Tensor) -> Tensor:
    return torch.arange(x.shape[0], device=x.device).unsqueeze(1) < lengths
