"""The probe on a CUDA model: tensors stay on its device, one host transfer (skipped on CPU)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from model_zoo import build  # noqa: E402
from torch import nn  # noqa: E402

from pytest_gradcheck import GradcheckUsageError, probe  # noqa: E402

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("name", ["resnet18", "sigmoid_mlp20", "negative_bias_relu", "nan_model"])
def test_cuda_verdicts_match_the_cpu_verdicts(name):
    case = build(name)
    cpu = {p.code for p in probe(case.model, case.inputs, case.target).problems}
    model = case.model.cuda()
    inputs, target = case.inputs.cuda(), case.target.cuda()
    report = probe(model, inputs, target)
    assert report.device.startswith("cuda")
    assert {p.code for p in report.problems} == cpu


def test_cuda_probe_restores_the_cuda_rng_state():
    model = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 2)).cuda()
    x = torch.randn(4, 8, device="cuda")
    before = torch.cuda.get_rng_state_all()
    probe(model, x)
    after = torch.cuda.get_rng_state_all()
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_cpu_inputs_for_a_cuda_model_are_refused():
    with pytest.raises(GradcheckUsageError, match="inputs are on cpu but the model is on cuda"):
        probe(nn.Linear(3, 2).cuda(), torch.randn(2, 3))


def test_cuda_probe_makes_one_device_to_host_copy():
    from torch.overrides import TorchFunctionMode

    class Count(TorchFunctionMode):
        n = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (
                torch.Tensor.tolist,
                torch.Tensor.item,
                torch.Tensor.cpu,
                torch.Tensor.__bool__,
            ):
                Count.n += 1
            return func(*args, **(kwargs or {}))

    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2)).cuda()
    x = torch.randn(4, 8, device="cuda")
    with Count():
        probe(model, x)
    assert Count.n == 1
