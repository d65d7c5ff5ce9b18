"""The zero-code check, ``python -m pytest_gradcheck MODULE:FACTORY``: reports and exit codes on the
demo factories in fixtures/gradcheck_demo, and every kind of usage error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from pytest_gradcheck.__main__ import main  # noqa: E402
from pytest_gradcheck.model_check import SpecError, load_case  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "gradcheck_demo"
FACTORIES = DEMO / "model_factories.py"


@pytest.fixture
def in_demo(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the demo directory, as its README section does; sys.path is restored after."""
    monkeypatch.chdir(DEMO)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return DEMO


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_healthy_factory_exits_0_and_says_the_short_run_was_skipped(in_demo, capsys) -> None:
    code, out, err = run_main(capsys, "model_factories:healthy_classifier")

    assert code == 0, out + err
    assert out.splitlines()[-1] == "healthy"
    assert "gradient probe: Classifier on cpu (train mode)" in out
    assert "dropout: 1 site(s) in Classifier, eval deterministic, ok" in out
    assert "short run: skipped (the factory gives no optimizer; --steps N runs it)" in out


def test_steps_without_an_optimizer_say_which_default_optimizer_ran(in_demo, capsys) -> None:
    code, out, _ = run_main(capsys, "model_factories:healthy_classifier", "--steps", "3")

    assert code == 0
    assert "short run: 3 step(s) of Adam(lr=0.001) (default) on a copy of Classifier" in out


def test_factory_dict_with_an_optimizer_runs_the_short_run(in_demo, capsys) -> None:
    code, out, _ = run_main(capsys, "model_factories:healthy_convnet", "--format", "json")

    data = json.loads(out)
    assert code == 0 and data["ok"] and data["exit_code"] == 0
    assert data["short_run"]["optimizer"] == "SGD(lr=0.05, momentum=0.9)"
    assert data["short_run"]["optimizer_given"] is True
    assert len(data["short_run"]["losses"]) == 6


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        ("high_learning_rate", "learning rate that is too high is the likely cause"),
        ("dropout_rate_one", "drop: dropout-misuse: Dropout has rate 1"),
        ("dropout_on_in_eval", "still drops units with the model in eval mode"),
    ],
)
def test_broken_factories_exit_1_with_the_diagnosis(in_demo, capsys, factory, expected) -> None:
    code, out, _ = run_main(capsys, f"model_factories:{factory}")

    assert code == 1
    assert expected in out
    assert out.splitlines()[-1].endswith("problem(s)")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("model_factories", "bad model spec 'model_factories': expected MODULE:FACTORY"),
        ("no_such_module:make", "cannot import 'no_such_module': ModuleNotFoundError"),
        ("missing.py:make", "cannot import 'missing.py': no such file"),
        ("model_factories:no_such", "model_factories has no 'no_such'; it defines"),
        ("model_factories:Config", "the factory raised TypeError"),
        ("model_factories:broken_factory", "the factory raised RuntimeError: checkpoint"),
        ("model_factories:not_a_model", "the model is a str, not a torch.nn.Module"),
    ],
)
def test_usage_errors_exit_2_with_a_message_and_no_traceback(
    in_demo, capsys, spec, message
) -> None:
    code, out, err = run_main(capsys, spec)

    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_traceback_is_shown_when_asked(in_demo, capsys) -> None:
    code, _, err = run_main(capsys, "model_factories:broken_factory", "--traceback")

    assert code == 2
    assert "Traceback" in err and "in broken_factory" in err


def test_usage_error_in_json_mode_is_json_too(in_demo, capsys) -> None:
    code, out, _ = run_main(capsys, "model_factories:broken_factory", "--format", "json")

    assert code == 2
    assert json.loads(out)["exit_code"] == 2


def test_bad_bound_is_a_usage_error(in_demo, capsys) -> None:
    code, _, err = run_main(
        capsys, "model_factories:healthy_classifier", "--bound", "max_dead_fractoin=0.9"
    )

    assert code == 2 and "unknown gradcheck bound(s) 'max_dead_fractoin'" in err


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("(1, 2, 3)", "returned a 3-tuple; expected (model, batch)"),
        ("{'model': M(), 'inputs': X, 'lr': 1}", "unknown key(s) lr"),
        ("{'model': M()}", "missing inputs"),
        ("{'model': M(), 'inputs': X, 'optimizer': 0.1}", "optimizer must be callable"),
    ],
)
def test_factory_results_that_break_the_contract_are_spec_errors(
    tmp_path: Path, monkeypatch, returned, message
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    module = tmp_path / "odd_factories.py"
    module.write_text(
        "import torch\nM = lambda: torch.nn.Linear(2, 2)\nX = torch.randn(3, 2)\n"
        f"def make():\n    return {returned}\n"
    )
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_case(f"{module}:make")


def test_a_file_path_spec_works_from_anywhere(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    case = load_case(f"{FACTORIES}:healthy_classifier")

    assert type(case.model).__name__ == "Classifier" and case.target is not None


def test_plot_writes_the_gradient_flow_png(in_demo, capsys, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "flow.png"
    code, out, _ = run_main(capsys, "model_factories:healthy_classifier", "--plot", str(png))

    assert code == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert f"gradient-flow plot: {png}" in out


def test_the_module_entry_point_exits_with_the_contract_codes() -> None:
    # Real subprocesses: what CI scripts see (the in-process tests cover the reports).
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_gradcheck", *args],
            cwd=DEMO,
            capture_output=True,
            text=True,
        )

    broken = run("model_factories:dropout_rate_one")
    usage = run("model_factories")

    assert (broken.returncode, usage.returncode) == (1, 2)
    assert "Dropout has rate 1" in broken.stdout
    assert usage.stderr.startswith("pytest_gradcheck: error: bad model spec")
    assert "Traceback" not in usage.stderr


def test_verbose_lists_every_layers_gradient_and_update(in_demo, capsys) -> None:
    code, out, _ = run_main(capsys, "model_factories:high_learning_rate", "-v")

    assert code == 1
    assert "module  type    grad norm" in out
    assert "layer  type    update/weight  log10" in out
    assert "dead before  dead after" in out
