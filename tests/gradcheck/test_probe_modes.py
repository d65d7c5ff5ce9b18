"""The probe under the caller's grad modes, on compiled models, and with whole-output losses."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from pytest_gradcheck import Bounds, GradcheckUsageError, probe  # noqa: E402


def _mlp(dead: bool = False) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
    model.append(nn.Linear(32, 3))
    if dead:  # the last hidden ReLU only, so nothing else depends on the draw
        with torch.no_grad():
            model[2].bias.fill_(-50.0)
    return model


def _batch(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, 8), torch.randint(0, 3, (n,))


def test_outer_no_grad_does_not_stop_the_probe():
    model, (x, y) = _mlp(), _batch()
    expected = probe(model, x, y)
    with torch.no_grad():
        report = probe(model, x, y)
        assert not torch.is_grad_enabled()
    assert report.ok and report.loss == pytest.approx(expected.loss)
    assert [layer.grad_norm for layer in report.layers] == pytest.approx(
        [layer.grad_norm for layer in expected.layers]
    )


def test_outer_inference_mode_with_inference_inputs_still_probes():
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    running_mean = model[1].running_mean.clone()
    with torch.inference_mode():
        x, y = _batch()
        report = probe(model, x, y)
        assert torch.is_inference_mode_enabled()
    assert report.ok and all(layer.grad_norm for layer in report.layers)
    # The batch-norm statistics the train-mode pass moved are put back, as normal tensors.
    assert torch.equal(model[1].running_mean, running_mean)
    assert not model[1].running_mean.is_inference()


def test_model_built_under_inference_mode_is_a_usage_error_naming_the_cause():
    with torch.inference_mode():
        model = nn.Linear(8, 3)
    with pytest.raises(GradcheckUsageError, match="created under torch.inference_mode"):
        probe(model, torch.randn(4, 8))


def test_meta_device_model_is_a_usage_error_not_a_traceback():
    model = nn.Linear(8, 3).to("meta")
    with pytest.raises(GradcheckUsageError, match="meta device.*to_empty"):
        probe(model, torch.empty(4, 8, device="meta"))


def test_empty_batch_is_a_usage_error():
    with pytest.raises(GradcheckUsageError, match=r"batch is empty \(inputs of shape \(0, 8\)\)"):
        probe(_mlp(), torch.randn(0, 8), torch.zeros(0, dtype=torch.long))


def test_usage_error_carries_its_public_name():
    assert GradcheckUsageError.__module__ == "pytest_gradcheck"
    assert GradcheckUsageError.__qualname__ == "GradcheckUsageError"


def _dead_findings(report):
    return {(p.code, p.module) for p in report.problems if p.code == "dead-relu"}


def test_warm_compiled_model_is_probed_through_its_original_module():
    model, (x, y) = _mlp(dead=True), _batch()
    compiled = torch.compile(model, backend="eager")
    compiled(x)  # warm: dynamo's cached graph would skip hooks added afterwards
    report = probe(compiled, x, y)
    assert _dead_findings(report) == {("dead-relu", "3")}
    assert all(layer.called for layer in report.layers)
    assert report.model == "Sequential"


class WithCompiledBody(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.compile(_mlp(dead=True)[:4], backend="eager")
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.body(x))


def test_compiled_submodule_runs_eagerly_and_keeps_its_users_names():
    model, (x, y) = WithCompiledBody(), _batch()
    model(x)
    compiled_forward = model.body.forward
    report = probe(model, x, y)
    assert _dead_findings(report) == {("dead-relu", "body.3")}
    assert "_orig_mod" not in report.format_failure()
    assert model.body.forward is compiled_forward or model.body.forward == compiled_forward


def test_module_compile_in_place_runs_eagerly_and_is_restored():
    model, (x, y) = _mlp(dead=True), _batch()
    model.compile(backend="eager")
    model(x)
    compiled_call = model._compiled_call_impl
    report = probe(model, x, y)
    assert _dead_findings(report) == {("dead-relu", "3")}
    assert model._compiled_call_impl is compiled_call


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.Tanh())
        self.main = nn.Linear(16, 3)
        self.aux = nn.Linear(16, 3)

    def forward(self, x):
        h = self.body(x)
        return {"main": self.main(h), "aux": self.aux(h)}


def _two_head_loss(output, target):
    return F.cross_entropy(output["main"], target) + 0.3 * F.cross_entropy(output["aux"], target)


def test_full_output_gives_loss_fn_the_whole_output():
    x, y = _batch()
    report = probe(TwoHeads(), x, y, _two_head_loss, full_output=True)
    assert report.ok, report.format_failure()


def test_by_default_loss_fn_gets_the_prediction_and_the_aux_head_gets_no_gradient():
    x, y = _batch()
    report = probe(TwoHeads(), x, y, F.cross_entropy)
    assert {(p.code, p.module) for p in report.problems} == {("no-gradient", "aux")}
    assert "ignore=['aux']" in report.format_failure()


class GAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8))
        self.D = nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, z):
        # The discriminator step: the generator's sample is detached on purpose.
        return self.D(self.G(z).detach())


def test_detached_subtree_failure_suggests_ignore_and_ignore_silences_it():
    model, z = GAN(), torch.randn(16, 4)
    report = probe(model, z)
    assert {p.module for p in report.problems} == {"G.0", "G.2"}
    message = report.format_failure()
    assert "ignore=['G.*']" in message
    assert "call the module in forward" not in message
    assert probe(model, z, bounds=Bounds(ignore=("G.*",))).ok
