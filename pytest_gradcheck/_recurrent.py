"""Gates of nn.LSTM / nn.GRU / nn.RNN, recomputed from the module's weights on the same pass.

The fused recurrent kernels hide their sigmoid/tanh gates from hooks and function modes, so a
saturated LSTM looks healthy from outside. After the forward, each recorded call is replayed
layer by layer (one fused single-layer call per layer and direction, without dropout, under
``no_grad``) to get every layer's input sequence and hidden states; the gate pre-activations
then follow for all time steps at once from two matrix products. The user's module is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from pytest_gradcheck._units import saturated_output_fraction, unit_maxima

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


@dataclass
class GateStats:
    """One gate kind of one recurrent module over all its layers, directions and time steps."""

    site: str
    kind: str
    """``sigmoid`` or ``tanh`` (saturation), or ``relu`` (``nn.RNN(nonlinearity='relu')``)."""
    units: int
    value: Tensor
    """0-D: the saturated fraction of the outputs, or (relu) the number of dead hidden units."""


def gate_stats(call: RecurrentCall, site_suffix: str = "") -> list[GateStats]:
    """Saturation of every gate kind of ``call`` (dead hidden units for a ReLU RNN)."""
    module = call.module
    with torch.no_grad():
        x, lengths = _as_time_major(call.input, module.batch_first)
        if x is None:
            return []
        hidden = module.hidden_size
        directions = 2 if module.bidirectional else 1
        h0, c0 = _initial_state(call.hx, module, x)
        gates: dict[str, list[Tensor]] = {}
        for layer in range(module.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                weights = _layer_weights(module, layer, direction)
                xs = x if direction == 0 else _reverse(x, lengths)
                state = (h0[index : index + 1],) + (
                    (c0[index : index + 1],) if c0 is not None else ()
                )
                out = _run_layer(module, xs, state, weights)
                prev = torch.cat([state[0], out[:-1]], 0)
                for gate, (kind, values) in _gate_values(module, xs, prev, weights).items():
                    valid = values if lengths is None else values[_valid_mask(lengths, x)]
                    gates.setdefault(f"{gate}:{kind}", []).append(valid)
                outputs.append(out if direction == 0 else _reverse(out, lengths))
            x = torch.cat(outputs, -1) if directions == 2 else outputs[0]
    stats = []
    for key, parts in gates.items():
        gate, kind = key.split(":")
        site = f"{call.name}/{gate}{site_suffix}"
        if kind == "relu":
            maxima = torch.stack([unit_maxima(p, p.ndim - 1) for p in parts]).amax(0)
            value = (maxima <= 0).sum().to(torch.float32)
        else:
            value = torch.stack([saturated_output_fraction(p, kind) for p in parts]).mean()
        stats.append(GateStats(site, kind, hidden, value))
    return stats


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


def _gate_values(
    module: nn.RNNBase, x: Tensor, prev: Tensor, weights: list[Tensor]
) -> dict[str, tuple[str, Tensor]]:
    """Each gate's activation output (T, N, H) for every time step at once."""
    w_ih, w_hh = weights[0], weights[1]
    from_x = x @ w_ih.T
    from_h = prev @ w_hh.T
    if module.bias:
        from_x = from_x + weights[2]
        from_h = from_h + weights[3]
    if isinstance(module, nn.LSTM):
        pre = (from_x + from_h).chunk(4, -1)
        return {
            gate: (kind, torch.sigmoid(p) if kind == "sigmoid" else torch.tanh(p))
            for (gate, kind), p in zip(_GATES["LSTM"], pre)
        }
    if isinstance(module, nn.GRU):
        xr, xz, xn = from_x.chunk(3, -1)
        hr, hz, hn = from_h.chunk(3, -1)
        reset = torch.sigmoid(xr + hr)
        return {
            "reset_gate": ("sigmoid", reset),
            "update_gate": ("sigmoid", torch.sigmoid(xz + hz)),
            "new_gate": ("tanh", torch.tanh(xn + reset * hn)),
        }
    pre = from_x + from_h
    if module.nonlinearity == "relu":
        return {"hidden": ("relu", torch.relu(pre))}
    return {"hidden": ("tanh", torch.tanh(pre))}


def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Time-reverse (T, N, ...) sequences, each within its own length when packed."""
    if lengths is None:
        return x.flip(0)
    steps = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


def _valid_mask(lengths: Tensor, x: Tensor) -> Tensor:
    return torch.arange(x.shape[0], device=x.device).unsqueeze(1) < lengths
