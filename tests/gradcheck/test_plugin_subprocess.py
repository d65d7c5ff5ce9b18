"""pytester tests of the gradcheck plugin that need a fresh interpreter: xdist and start-up cost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")


def test_plugin_import_does_not_import_torch_numpy_or_matplotlib() -> None:
    code = (
        "import sys, pytest_gradcheck.plugin\n"
        "heavy = [m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_suite_that_does_not_use_the_plugin_never_imports_torch(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import sys

        def pytest_collection_finish(session):
            print("torch after collection:", "torch" in sys.modules)
        """
    )
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain_arithmetic():
            assert 1 + 1 == 2

        def test_torch_still_not_imported():
            assert "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["torch after collection: False"])
    # Installed but unused, the plugin prints nothing.
    assert "gradcheck" not in result.stdout.str()


def test_xdist_workers_send_reports_to_the_controller_summary(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_models=textwrap.dedent(
            """
            import pytest
            import torch
            from torch import nn

            def mlp(dead_units=0):
                model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
                with torch.no_grad():
                    model[0].weight.mul_(0.1)
                    model[0].bias.zero_()
                    model[0].bias[:dead_units] = -100.0
                return model

            @pytest.mark.parametrize("case", range(4))
            def test_healthy(gradcheck, case):
                gradcheck(mlp(), torch.randn(16, 4), torch.randint(0, 3, (16,)))

            def test_dead(gradcheck):
                gradcheck(mlp(dead_units=12), torch.randn(16, 4), torch.randint(0, 3, (16,)))
            """
        )
    )
    result = pytester.runpytest_subprocess("-n", "2", "--gradcheck-report=out")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "gradcheck: torch *",
            "*= gradcheck summary =*",
            "5 probe(s) in 5 test(s); 1 with problems, 4 healthy",
            "*max_dead_fraction *0.75 (bound <= 0.5)  test_models.py::test_dead  1 (relu)  BROKEN",
            "  test_models.py::test_dead  dead-relu  1  max_dead_fraction 0.75 vs bound 0.5",
        ]
    )
    reports = sorted((pytester.path / "out").glob("*.json"))
    assert len(reports) == 5
    assert {json.loads(p.read_text())["test"] for p in reports} == {
        *(f"test_models.py::test_healthy[{i}]" for i in range(4)),
        "test_models.py::test_dead",
    }


def test_gradcheck_without_torch_fails_the_test_with_an_install_hint(
    pytester: pytest.Pytester,
) -> None:
    # A None entry in sys.modules makes `import torch` raise ImportError, as when it is missing.
    pytester.makeconftest("import sys\nsys.modules['torch'] = None\n")
    pytester.makepyfile(
        test_needs_torch="""
        def test_probe(gradcheck):
            gradcheck(object(), None)

        def test_unrelated():
            assert True
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*pytest-gradcheck needs torch*install it*nnlint[[]gradcheck[]]*"])
    assert "During handling of the above exception" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*gradcheck: torch *seed 0*"])


def test_importing_the_probe_without_torch_names_the_install() -> None:
    code = (
        "import sys\nsys.modules['torch'] = None\n"
        "try:\n    from pytest_gradcheck import probe\n"
        "except ImportError as error:\n    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pytest_gradcheck.probe needs torch" in out.stdout
    assert "nnlint[gradcheck]" in out.stdout
