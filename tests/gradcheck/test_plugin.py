"""pytester tests of the gradcheck plugin run in-process: fixture, marker, ini options, header,
summary, report directory and seeding."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

# Import torch and the probe before pytester snapshots sys.modules: an in-process sub-session
# that imported them first would have them dropped afterwards, and torch cannot be re-imported.
torch = pytest.importorskip("torch")
import pytest_gradcheck._probe  # noqa: E402,F401
import pytest_gradcheck.assertions  # noqa: E402,F401
from pytest_gradcheck.bounds import Bounds  # noqa: E402
from pytest_gradcheck.plot import matplotlib_available, plot_gradient_flow  # noqa: E402
from pytest_gradcheck.plugin import report_basename  # noqa: E402

MODELS = """
import pytest
import torch
from torch import nn


def healthy_mlp():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def mostly_dead_mlp(dead_units=12):
    # A strongly negative bias keeps `dead_units` of 16 ReLU units at 0 for every example.
    model = healthy_mlp()
    with torch.no_grad():
        model[0].weight.mul_(0.1)
        model[0].bias.zero_()
        model[0].bias[:dead_units] = -100.0
    return model


def batch(n=32):
    return torch.randn(n, 4), torch.randint(0, 3, (n,))
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory with the tiny models importable as ``gc_tiny_models``."""
    pytester.makepyfile(gc_tiny_models=MODELS)
    pytester.syspathinsert()
    return pytester


def write_tests(pytester: pytest.Pytester, source: str, name: str = "test_gcsuite") -> Path:
    return pytester.makepyfile(**{name: textwrap.dedent(source)})


def test_fixture_passes_on_healthy_model_and_returns_report(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, healthy_mlp

        def test_healthy(gradcheck):
            report = gradcheck(healthy_mlp(), *batch())
            assert report.ok
            assert [layer["name"] for layer in report.to_dict()["layers"]] == ["0", "2"]
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1)


def test_fixture_failure_shows_diagnosis_without_plugin_frames(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, mostly_dead_mlp

        def test_dead(gradcheck):
            gradcheck(mostly_dead_mlp(), *batch())
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gradient check failed*",
            "E * dead-relu  1: 75% of 16 relu units*(> 0.5 max_dead_fraction)",
            "E *dead-relu (*",
        ]
    )
    # The failure points at the test line, not at the plugin's or the helper's internals.
    assert "pytest_gradcheck/plugin.py" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*gradcheck(mostly_dead_mlp(), *batch())"])


def test_fixture_keeps_every_report_and_probes_eval_mode_on_request(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, healthy_mlp

        def test_two_probes(gradcheck):
            model = healthy_mlp()
            train_report = gradcheck(model, *batch())
            eval_report = gradcheck(model, *batch(), train=False)
            assert gradcheck.reports == [train_report, eval_report]
            assert (train_report.train, eval_report.train) == (True, False)
            assert model.training  # the probe restored the mode it found
        """,
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_marker_kwargs_override_ini_defaults(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import pytest
        from gc_tiny_models import batch, mostly_dead_mlp

        @pytest.mark.gradcheck(max_dead_fraction=0.9)
        def test_tolerates_dead_units(gradcheck, gradcheck_bounds):
            assert gradcheck_bounds.max_dead_fraction == 0.9
            assert gradcheck(mostly_dead_mlp(), *batch()).ok

        def test_default_bound_still_applies(gradcheck):
            gradcheck(mostly_dead_mlp(), *batch())
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *test_default_bound_still_applies*"])


def test_closest_marker_wins_over_class_and_module_markers(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import pytest

        pytestmark = pytest.mark.gradcheck(max_dead_fraction=0.2, max_grad_norm=7.0)

        @pytest.mark.gradcheck(max_dead_fraction=0.3)
        class TestLayered:
            @pytest.mark.gradcheck(max_dead_fraction=0.4)
            def test_function_marker(self, gradcheck_bounds):
                assert gradcheck_bounds.max_dead_fraction == 0.4
                assert gradcheck_bounds.max_grad_norm == 7.0

            def test_class_marker(self, gradcheck_bounds):
                assert gradcheck_bounds.max_dead_fraction == 0.3
        """,
    )
    suite.runpytest().assert_outcomes(passed=2)


def test_call_kwargs_override_marker(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import pytest
        from gc_tiny_models import batch, mostly_dead_mlp

        @pytest.mark.gradcheck(max_dead_fraction=0.1)
        def test_call_wins(gradcheck):
            assert gradcheck(mostly_dead_mlp(), *batch(), max_dead_fraction=0.9).ok
        """,
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_unknown_marker_key_errors_at_setup_naming_key_and_known_bounds(
    suite: pytest.Pytester,
) -> None:
    write_tests(
        suite,
        """
        import pytest

        @pytest.mark.gradcheck(max_dead_fractoin=0.9)
        def test_typo(gradcheck):
            raise AssertionError("the test body must not run")
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.gradcheck: unknown gradcheck bound(s) 'max_dead_fractoin'; "
            "known bounds: max_grad_norm, *max_dead_fraction*"
        ]
    )
    output = result.stdout.str()
    assert "the test body must not run" not in output
    assert "Traceback" not in output and "another exception occurred" not in output


def test_positional_marker_args_are_rejected(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import pytest

        @pytest.mark.gradcheck(0.9)
        def test_positional(gradcheck):
            pass
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*gradcheck takes keyword arguments only (got positional 0.9)*"])


def test_bad_marker_value_errors_at_setup(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import pytest

        @pytest.mark.gradcheck(max_dead_fraction=3)
        def test_out_of_range(gradcheck):
            pass
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*'max_dead_fraction' is a fraction in [[]0, 1], got 3*"])


def test_unknown_call_kwarg_fails_with_known_bounds(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, healthy_mlp

        def test_typo(gradcheck):
            gradcheck(healthy_mlp(), *batch(), max_grad_nrom=1.0)
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*gradcheck(...): unknown gradcheck bound(s) 'max_grad_nrom'; known bounds: *"]
    )
    assert "another exception occurred" not in result.stdout.str()


def test_ini_bounds_from_pytest_ini(suite: pytest.Pytester) -> None:
    suite.makeini(
        """
        [pytest]
        gradcheck_max_dead_fraction = 0.9
        gradcheck_ignore = head.* decoder
        """
    )
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, mostly_dead_mlp

        def test_ini_default(gradcheck, gradcheck_bounds):
            assert gradcheck_bounds.ignore == ("head.*", "decoder")
            assert gradcheck(mostly_dead_mlp(), *batch()).ok
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck: *max_dead_fraction=0.9 *ignore=head.*,decoder"])


def test_ini_bounds_from_pyproject_ini_options(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        gradcheck_max_dead_fraction = 0.9
        gradcheck_ignore = ["head.*"]
        gradcheck_seed = 7
        """
    )
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, mostly_dead_mlp

        def test_pyproject_default(gradcheck, gradcheck_bounds):
            assert gradcheck_bounds.ignore == ("head.*",)
            assert gradcheck(mostly_dead_mlp(), *batch()).ok
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck: torch *, seed 7, bounds *max_dead_fraction=0.9*"])


def test_native_toml_config_accepts_numbers(suite: pytest.Pytester) -> None:
    if tuple(int(p) for p in pytest.__version__.split(".")[:2]) < (9, 0):
        pytest.skip("native [tool.pytest] config needs pytest >= 9")
    suite.makepyprojecttoml(
        """
        [tool.pytest]
        gradcheck_max_grad_norm = 25.0
        gradcheck_seed = 3
        """
    )
    write_tests(suite, "def test_uses_it(gradcheck_bounds):\n    pass\n")
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck: torch *, seed 3, bounds max_grad_norm=25 *"])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("gradcheck_max_grad_norm", "lots", "'max_grad_norm' must be a number, got 'lots'"),
        ("gradcheck_max_dead_fraction", "1.5", "'max_dead_fraction' is a fraction in [[]0, 1]*"),
        ("gradcheck_min_grad_norm", "-1", "'min_grad_norm' must be a non-negative number*"),
        ("gradcheck_seed", "abc", "expected a non-negative integer seed or 'none', got 'abc'"),
    ],
)
def test_bad_ini_value_is_a_usage_error_naming_the_option(
    suite: pytest.Pytester, option: str, value: str, message: str
) -> None:
    suite.makeini(f"[pytest]\n{option} = {value}\n")
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: ini option {option} in *tox.ini: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_bad_seed_option_is_a_usage_error(suite: pytest.Pytester) -> None:
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest("--gradcheck-seed=-3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --gradcheck-seed: expected a non-negative integer*"])


def test_report_dir_that_is_a_file_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makefile(".txt", taken="not a directory")
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest("--gradcheck-report=taken.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --gradcheck-report: *taken.txt exists and is not a dir*"])


def test_header_line_reports_torch_version_seed_and_bounds(suite: pytest.Pytester) -> None:
    from importlib.metadata import version

    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest("--gradcheck-seed=11")
    names = " ".join(f"{name}=*" for name in Bounds.names() if name != "ignore")
    result.stdout.fnmatch_lines([f"gradcheck: torch {version('torch')}, seed 11, bounds {names}"])


def test_header_says_when_seeding_is_off(suite: pytest.Pytester) -> None:
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest("--gradcheck-seed=none")
    result.stdout.fnmatch_lines(["gradcheck: torch *, seed none, bounds *"])


def test_plugin_can_be_disabled_with_p_no_gradcheck(suite: pytest.Pytester) -> None:
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest("-p", "no:gradcheck")
    result.assert_outcomes(passed=1)
    assert "gradcheck:" not in result.stdout.str()


def test_summary_lists_closest_values_findings_and_counts(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, healthy_mlp, mostly_dead_mlp

        def test_healthy(gradcheck):
            gradcheck(healthy_mlp(), *batch())
            gradcheck(healthy_mlp(), *batch(8))

        def test_dead(gradcheck):
            gradcheck(mostly_dead_mlp(), *batch())
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*= gradcheck summary =*",
            "3 probe(s) in 2 test(s); 1 with problems, 2 healthy",
            "closest to each bound over the run (value vs bound, where):",
            "  max_grad_norm *(bound <= 1e+03)  test_gcsuite.py::test_*",
            "  max_dead_fraction *0.75 (bound <= 0.5)  test_gcsuite.py::test_dead  1 (relu)*BROKEN",
            "findings (* of * shown, -v shows all):",
            "  test_gcsuite.py::test_dead  dead-relu  1  max_dead_fraction 0.75 vs bound 0.5",
        ]
    )


def test_summary_is_quiet_when_no_test_probes(suite: pytest.Pytester) -> None:
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest()
    assert "gradcheck summary" not in result.stdout.str()


@pytest.mark.slow
def test_report_dir_writes_json_per_probe_and_png(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        from gc_tiny_models import batch, healthy_mlp, mostly_dead_mlp

        def test_healthy(gradcheck):
            gradcheck(healthy_mlp(), *batch(8))
            gradcheck(healthy_mlp(), *batch(16))

        def test_dead(gradcheck):
            gradcheck(mostly_dead_mlp(), *batch())
        """,
    )
    result = suite.runpytest("--gradcheck-report=reports")
    result.assert_outcomes(passed=1, failed=1)
    out = suite.path / "reports"
    names = sorted(p.name for p in out.glob("*.json"))
    assert names == [
        "test_gcsuite.py__test_dead.json",
        "test_gcsuite.py__test_healthy-call2.json",
        "test_gcsuite.py__test_healthy.json",
    ]
    failing = json.loads((out / "test_gcsuite.py__test_dead.json").read_text())
    assert failing["test"] == "test_gcsuite.py::test_dead"
    assert failing["ok"] is False
    assert failing["seed"] == 0
    assert failing["effective_bounds"]["max_dead_fraction"] == 0.5
    assert [p["code"] for p in failing["report"]["problems"]] == ["dead-relu"]
    assert failing["report"]["activations"][0]["dead_fraction"] == 0.75
    second = json.loads((out / "test_gcsuite.py__test_healthy-call2.json").read_text())
    assert second["ok"] is True and second["call"] == 2
    assert [layer["name"] for layer in second["report"]["layers"]] == ["0", "2"]
    result.stdout.fnmatch_lines([f"gradcheck reports: {out} (* file(s))"])
    if matplotlib_available():
        pngs = sorted(p.stem for p in out.glob("*.png"))
        assert pngs == sorted(Path(n).stem for n in names)
        assert (out / "test_gcsuite.py__test_dead.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_makes_probes_reproducible_and_restores_rng(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tests(
        suite,
        """
        import os
        from gc_tiny_models import batch, healthy_mlp

        def test_record_loss(gradcheck):
            # Model init and batch come from torch's global RNG, seeded by the plugin.
            report = gradcheck(healthy_mlp(), *batch())
            with open(os.environ["LOSS_LOG"], "a") as log:
                log.write(repr(report.loss) + "\\n")
        """,
    )
    log = suite.path / "losses.txt"
    monkeypatch.setenv("LOSS_LOG", str(log))
    torch.manual_seed(1234)
    state_before = torch.get_rng_state()
    suite.runpytest().assert_outcomes(passed=1)
    suite.runpytest().assert_outcomes(passed=1)
    suite.runpytest("--gradcheck-seed=5").assert_outcomes(passed=1)
    # The sub-sessions ran in this process: seeding must not leak into the caller's RNG.
    assert torch.equal(torch.get_rng_state(), state_before)
    first, second, other_seed = log.read_text().split()
    assert first == second
    assert other_seed != first


@pytest.mark.slow
def test_demo_suite_has_healthy_passes_and_one_intended_failure(pytester: pytest.Pytester) -> None:
    demo = Path(__file__).resolve().parents[2] / "fixtures" / "gradcheck_demo"
    result = pytester.runpytest(str(demo), "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed", 0) >= 3
    result.stdout.fnmatch_lines(
        ["*gradient check failed*", "*vanishing-gradients*", "*= gradcheck summary =*"]
    )


def test_report_basename_sanitises_nodeids() -> None:
    assert report_basename("tests/test_a.py::test_b[x-1]") == "tests_test_a.py__test_b_x-1"
    assert report_basename("t.py::TestC::test_d", call=3) == "t.py__TestC__test_d-call3"
    long_a = report_basename("t.py::test[" + "a" * 300 + "]")
    long_b = report_basename("t.py::test[" + "a" * 299 + "b]")
    assert len(long_a) <= 120 and long_a != long_b


@pytest.mark.slow
def test_plot_marks_missing_gradients_and_handles_no_activations(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report = {
        "layers": [
            {"name": "0", "grad_norm": 1.5, "grad_rms": 0.1},
            {"name": "1", "grad_norm": None, "grad_rms": None},
        ],
        "activations": [],
        "vanishing_ratio": None,
    }
    path = tmp_path / "flow.png"
    assert plot_gradient_flow(report, Bounds(), path, title="t.py::test")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_summary_uses_the_checks_ignore_and_lists_every_bound(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import pytest
        import torch
        from torch import nn
        from gc_tiny_models import batch


        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(4, 8)
                with torch.no_grad():
                    self.lin.bias.fill_(-100.0)

            def forward(self, x):
                return torch.relu(self.lin(x))  # a functional site: block/relu


        class WithDeadBlock(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.head = nn.Linear(4, 3)

            def forward(self, x):
                return self.head(x) + 0 * self.block(x).sum()


        @pytest.mark.gradcheck(ignore=["block", "block.*"])
        def test_ignored_part(gradcheck):
            gradcheck(WithDeadBlock(), *batch())
        """,
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    summary = out.split("gradcheck summary")[1]
    assert "block/relu" not in summary and "block.lin" not in summary
    result.stdout.fnmatch_lines(
        [
            "  max_dead_fraction       - (nothing in the run measured it)",
            "  max_saturated_fraction  - (nothing in the run measured it)",
        ]
    )


def test_fixture_passes_full_output_to_the_loss(suite: pytest.Pytester) -> None:
    write_tests(
        suite,
        """
        import torch
        from torch import nn
        from torch.nn import functional as F


        class TwoHeads(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(4, 8)
                self.main, self.aux = nn.Linear(8, 3), nn.Linear(8, 3)

            def forward(self, x):
                h = torch.tanh(self.body(x))
                return {"main": self.main(h), "aux": self.aux(h)}


        def loss(out, y):
            return F.cross_entropy(out["main"], y) + F.cross_entropy(out["aux"], y)


        def test_whole_output(gradcheck):
            x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
            gradcheck(TwoHeads(), x, y, loss, full_output=True)
        """,
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_plugin_prints_nothing_in_a_suite_that_does_not_use_it(suite: pytest.Pytester) -> None:
    write_tests(suite, "def test_nothing():\n    pass\n")
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    assert "gradcheck" not in result.stdout.str()


def test_plugin_line_appears_once_a_collected_test_carries_the_marker(
    suite: pytest.Pytester,
) -> None:
    write_tests(
        suite,
        "import pytest\n\n@pytest.mark.gradcheck(max_dead_fraction=0.5)\n"
        "def test_marked():\n    pass\n",
    )
    result = suite.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck: torch *, seed 0, bounds *max_dead_fraction=*"])
