"""Jupyter notebooks: cell-aware linting (IPython syntax skipped), findings by cell in every
output format, and ``--fix`` that rewrites only the changed cells' source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nnlint.cli import cli
from nnlint.notebook import NotebookError, read_notebook

OUTPUTS = [{"output_type": "stream", "name": "stdout", "text": ["épochs: 3\n"]}]
CELLS = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# A tutorial"]},
    {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {"tags": ["model"]},
        "outputs": OUTPUTS,
        "source": [
            "%matplotlib inline\n",
            "import torch.nn as nn\n",
            "import torch.nn.functional as F\n",
            "!pip install tqdm\n",
            "class Head(nn.Module):\n",
            "    def forward(self, x):\n",
            "        return F.dropout(x, 0.5)",
        ],
    },
    {
        "cell_type": "code",
        "execution_count": 2,
        "metadata": {},
        "outputs": [],
        "source": "%%bash\n  ls\n",
    },
    {
        "cell_type": "code",
        "execution_count": 3,
        "metadata": {},
        "outputs": [],
        "source": [
            "import tensorflow as tf\n",
            "files = !ls\n",
            "h = tf.layers.dropout(h, 0.7, is_training)\n",
            "drop = nn.Dropout(1.0)",
        ],
    },
]
NOTEBOOK = {
    "cells": CELLS,
    "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
# As Jupyter writes it: indent 1, non-ASCII kept, a final newline.
NOTEBOOK_TEXT = json.dumps(NOTEBOOK, indent=1, ensure_ascii=False) + "\n"

CONCISE = [
    "model.ipynb:cell 2:7:16: NN404 [*] `F.dropout` in `forward` without `training=` stays on "
    "after `model.eval()` (it defaults to training=True); pass `training=self.training`",
    "model.ipynb:cell 4:3:5: NN404 `tf.layers.dropout` without `training=` never drops anything "
    "(it defaults to training=False); pass your is-training flag as `training=`",
    "model.ipynb:cell 4:4:8: NN401 `nn.Dropout` with p=1.0 drops every activation, so the model "
    "learns nothing; use a rate strictly between 0 and 1 (0.1-0.5 is typical)",
]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "model.ipynb").write_text(NOTEBOOK_TEXT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNLINT_CACHE_DIR", raising=False)
    return tmp_path


def invoke(*args: str, input: bytes | None = None):
    return CliRunner().invoke(cli, ["check", "--no-cache", *args], input=input)


# ---- reading -----------------------------------------------------------------------------------


def test_ipython_lines_become_placeholders_and_cells_are_mapped_back():
    notebook = read_notebook(NOTEBOOK_TEXT.encode())
    assert [cell.number for cell in notebook.cells] == [2, 3, 4]
    assert "pip" not in notebook.virtual and "%matplotlib" not in notebook.virtual
    assert notebook.cells[0].escaped == ("%matplotlib inline\n", "!pip install tqdm\n")
    # A %%bash cell stands aside whole.
    assert notebook.cells[1].escaped == ("%%bash\n", "  ls\n")
    assert notebook.locate(notebook.cells[2].first_line + 2) == (4, 3)


def test_python_cell_magics_keep_their_body():
    cell = {"cell_type": "code", "source": "%%time\nimport torch.nn as nn\nnn.Dropout(1.0)\n"}
    notebook = read_notebook(json.dumps({"cells": [cell]}).encode())
    assert "nn.Dropout(1.0)" in notebook.virtual and notebook.cells[0].escaped == ("%%time\n",)


def test_a_magic_inside_brackets_is_left_as_code():
    cell = {"cell_type": "code", "source": "x = (a\n     % b)\n"}
    notebook = read_notebook(json.dumps({"cells": [cell]}).encode())
    assert "% b)" in notebook.virtual and notebook.cells[0].escaped == ()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not valid notebook JSON"),
        (b'{"nbformat": 4}', "no `cells` list"),
        (b"\xff\xfe", "not valid UTF-8"),
        (b'{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1: `source`"),
    ],
)
def test_unreadable_notebooks_raise_with_the_reason(raw, reason):
    with pytest.raises(NotebookError, match=reason.replace("(", r"\(")):
        read_notebook(raw)


def test_a_notebook_of_another_language_has_no_python():
    data = {**NOTEBOOK, "metadata": {"kernelspec": {"language": "R", "name": "ir"}}}
    assert read_notebook(json.dumps(data).encode()).cells == []


# ---- every output format -------------------------------------------------------------------


def test_concise_reports_cell_and_line_within_it(project):
    result = invoke()
    assert result.exit_code == 1
    assert result.output.splitlines()[:3] == CONCISE
    assert "Found 1 error and 2 warnings." in result.output


def test_full_shows_the_line_of_the_cell(project):
    output = invoke("--output-format", "full").output
    assert "model.ipynb:cell 4:4:8: NN401" in output
    assert "4 | drop = nn.Dropout(1.0)\n  |        ^^^^^^^^^^^^^^^ NN401" in output


def test_json_has_the_cell_and_cell_relative_rows_and_edits(project):
    records = json.loads(invoke("--output-format", "json").output)
    assert [(r["cell"], r["location"]["row"], r["code"]) for r in records] == [
        (2, 7, "NN404"),
        (4, 3, "NN404"),
        (4, 4, "NN401"),
    ]
    edit = records[0]["fix"]["edits"][0]
    assert edit["content"] == ", training=self.training"
    assert edit["location"] == {"row": 7, "column": 32}


def test_github_and_sarif_name_the_cell(project):
    github = invoke("--output-format", "github").output.splitlines()
    assert github[2].startswith("::error file=model.ipynb,line=4,col=8,")
    assert github[2].endswith(
        "::cell 4, line 4: NN401 `nn.Dropout` with p=1.0 drops every "
        "activation, so the model learns nothing; use a rate strictly "
        "between 0 and 1 (0.1-0.5 is typical)"
    )
    sarif = json.loads(invoke("--output-format", "sarif").output)
    result = sarif["runs"][0]["results"][2]
    assert result["properties"] == {"cell": 4}
    assert result["message"]["text"].startswith("cell 4, line 4: `nn.Dropout`")
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_statistics_count_notebook_findings(project):
    assert invoke("--statistics").output.splitlines()[:2] == [
        "2\tNN404\t[*] functional-dropout-ignores-training",
        "1\tNN401\t[ ] dropout-rate-one",
    ]


# ---- fixing --------------------------------------------------------------------------------


def test_fix_rewrites_only_the_changed_cell_source(project):
    result = invoke("--fix")
    assert result.exit_code == 1
    after = (project / "model.ipynb").read_text(encoding="utf-8")
    expected = NOTEBOOK_TEXT.replace(
        '"        return F.dropout(x, 0.5)"',
        '"        return F.dropout(x, 0.5, training=self.training)"',
    )
    # Byte for byte: outputs, metadata, other cells, key order and indentation untouched.
    assert after == expected
    assert "Found 3 findings (1 fixed, 2 remaining: 1 error and 1 warning)." in result.output


def test_fix_keeps_ipython_lines_in_the_fixed_cell(project):
    invoke("--fix")
    cell = json.loads((project / "model.ipynb").read_text(encoding="utf-8"))["cells"][1]
    assert cell["source"][0] == "%matplotlib inline\n"
    assert cell["source"][3] == "!pip install tqdm\n"
    assert cell["outputs"] == OUTPUTS and cell["metadata"] == {"tags": ["model"]}


def test_fix_of_a_cell_stored_as_one_string_keeps_it_a_string(project):
    data = json.loads(NOTEBOOK_TEXT)
    data["cells"][1]["source"] = "".join(data["cells"][1]["source"])
    (project / "model.ipynb").write_text(json.dumps(data, indent=2), encoding="utf-8")
    invoke("--fix")
    source = json.loads((project / "model.ipynb").read_text(encoding="utf-8"))["cells"][1]["source"]
    assert isinstance(source, str) and source.endswith("F.dropout(x, 0.5, training=self.training)")


def test_diff_shows_the_changed_cell_and_writes_nothing(project):
    result = invoke("--diff")
    assert result.exit_code == 1
    assert "--- model.ipynb:cell 2\n+++ model.ipynb:cell 2\n" in result.output
    assert "+        return F.dropout(x, 0.5, training=self.training)" in result.output
    assert (project / "model.ipynb").read_text(encoding="utf-8") == NOTEBOOK_TEXT


def test_noqa_in_a_cell_suppresses_its_line(project):
    data = json.loads(NOTEBOOK_TEXT)
    data["cells"][3]["source"][-1] = "drop = nn.Dropout(1.0)  # noqa: NN401"
    (project / "model.ipynb").write_text(json.dumps(data, indent=1), encoding="utf-8")
    assert "NN401" not in invoke().output


def test_an_unreadable_notebook_is_an_nn001_finding(project):
    (project / "broken.ipynb").write_text("{", encoding="utf-8")
    output = invoke("broken.ipynb").output
    assert output.startswith(
        "broken.ipynb:1:1: NN001 Cannot read notebook: not valid notebook JSON"
    )


def test_stdin_with_a_notebook_filename_is_read_as_a_notebook(project):
    result = invoke("-", "--stdin-filename", "nb.ipynb", input=NOTEBOOK_TEXT.encode())
    assert result.output.splitlines()[0].startswith("nb.ipynb:cell 2:7:16: NN404")


def test_notebooks_can_be_excluded_by_glob(project):
    Path("pyproject.toml").write_text('[tool.nnlint]\nextend-exclude = ["*.ipynb"]\n')
    result = invoke()
    assert result.exit_code == 0 and "No Python files found" in result.output


@pytest.mark.parametrize(
    "ipython",
    [
        "torch.*Tensor?",
        "np.random.normal?  # the docs",
        "pip install diffusers torch",
        "!accelerate launch train.py \\\n  --lr=1e-4 \\\n  --epochs=3",
        "if True:\n    !ls\n    files = !ls",
    ],
)
def test_ipython_syntax_seen_in_public_notebooks_is_not_a_syntax_error(ipython):
    source = f"import torch.nn as nn\n{ipython}\ndrop = nn.Dropout(1.0)\n"
    notebook = read_notebook(
        json.dumps({"cells": [{"cell_type": "code", "source": source}]}).encode()
    )
    from nnlint.engine import LintSettings, lint_source

    result = lint_source(notebook.virtual_bytes, "nb.ipynb", LintSettings.default())
    assert [notebook.map_finding(f).code for f in result.findings] == ["NN401"]
    assert notebook.split_virtual(notebook.virtual) == {1: source}


def test_add_noqa_writes_directives_into_the_cells_then_the_check_passes(project):
    result = invoke("--add-noqa")
    assert result.exit_code == 0 and "Added 3 noqa directives." in result.output
    cells = json.loads((project / "model.ipynb").read_text(encoding="utf-8"))["cells"]
    assert cells[3]["source"][-1] == "drop = nn.Dropout(1.0)  # noqa: NN401"
    assert cells[1]["outputs"] == OUTPUTS
    assert invoke().output == "All checks passed!\n"


def test_full_format_note_is_the_rules_own_remedy(project):
    output = invoke("--output-format", "full").output
    note_401 = output.split("NN401")[-1]
    assert "= note: Dropout misuse: use a rate strictly between 0 and 1" in note_401
    assert "training=self.training" not in note_401


def test_a_cell_indented_as_a_whole_is_read_as_ipython_reads_it(project):
    data = json.loads(NOTEBOOK_TEXT)
    data["cells"][3]["source"] = ["  import torch.nn as nn\n", "  drop = nn.Dropout(1.0)"]
    (project / "model.ipynb").write_text(json.dumps(data, indent=1), encoding="utf-8")
    lines = invoke("--select", "NN001,NN401").output.splitlines()
    # IPython drops the first line's indentation from every line (its leading_indent cleanup);
    # the finding's column still counts in the cell as written.
    assert lines[0].startswith("model.ipynb:cell 4:2:10: NN401 ")


def test_fixing_an_indented_cell_keeps_its_indentation(project):
    data = json.loads(NOTEBOOK_TEXT)
    data["cells"][1]["source"] = [
        "  import torch.nn as nn\n",
        "  import torch.nn.functional as F\n",
        "\n",
        "  class Head(nn.Module):\n",
        "      def forward(self, x):\n",
        "          return F.dropout(x, 0.5)",
    ]
    (project / "model.ipynb").write_text(json.dumps(data, indent=1), encoding="utf-8")
    invoke("--fix")
    fixed = json.loads((project / "model.ipynb").read_text(encoding="utf-8"))["cells"][1]["source"]
    assert fixed == [
        *data["cells"][1]["source"][:-1],
        "          return F.dropout(x, 0.5, training=self.training)",
    ]
