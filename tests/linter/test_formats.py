"""Output formats: concise, full (caret), ruff JSON, GitHub annotations, SARIF 2.1.0, statistics."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nnlint import catalog
from nnlint.catalog import FailureMode
from nnlint.findings import Finding, Severity
from nnlint.formats import (
    UnknownRule,
    assign_edits,
    edits_between,
    render,
    render_concise,
    render_full,
    render_github,
    render_json,
    render_sarif,
    render_statistics,
    render_statistics_json,
)

# The OASIS SARIF 2.1.0 schema, vendored so that the validation runs in every clean clone.
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


@dataclass(frozen=True)
class StandInRule:
    code: str
    name: str
    message: str
    severity: Severity
    failure_mode: FailureMode | None
    fixable: bool = False
    default_enabled: bool = True
    doc: str = ""
    url: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    remedy: str = "use a rate strictly between 0 and 1"


RULES = {
    "NN401": StandInRule(
        "NN401",
        "dropout-rate-one",
        "Dropout rate of 1 drops every unit",
        Severity.ERROR,
        catalog.DROPOUT_MISUSE,
        doc="## What it does\nFlags a dropout rate of 1.\n\n## Why is this bad?\nNothing learns.\n",
        url="https://example.invalid/rules/dropout-rate-one",
    ),
    "NN403": StandInRule(
        "NN403",
        "functional-dropout-always-on",
        "Functional dropout without `training=self.training`",
        Severity.WARNING,
        catalog.DROPOUT_MISUSE,
        fixable=True,
        doc="## What it does\nFlags F.dropout in forward without training.\n",
        url="https://example.invalid/rules/functional-dropout-always-on",
    ),
}


def lookup(code: str):
    return RULES.get(code) or UnknownRule(code)


MODEL = (
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n"
    "class Net(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.drop = nn.Dropout(1.0)\n"
    "    def forward(self, x):\n"
    "        return F.dropout(x, 0.5)\n"
)
FINDINGS = [
    Finding("models/net.py", 6, 21, "NN401", "Dropout rate 1.0 drops every unit", 6, 36),
    Finding(
        "models/net.py",
        8,
        16,
        "NN403",
        "`F.dropout` stays on at evaluation time",
        8,
        33,
        fixable=True,
        fix_title="Pass `training=self.training`",
    ),
]


def test_concise_is_path_row_col_code_message_with_ruff_fix_marker():
    assert render_concise(FINDINGS, lookup).splitlines() == [
        "models/net.py:6:21: NN401 Dropout rate 1.0 drops every unit",
        "models/net.py:8:16: NN403 [*] `F.dropout` stays on at evaluation time",
    ]


def test_full_shows_the_source_line_with_a_caret_under_the_span_and_the_fix_title():
    text = render_full(FINDINGS, lookup, lambda _path: MODEL.splitlines())
    lines = text.splitlines()
    source_line = lines.index("6 |         self.drop = nn.Dropout(1.0)")
    caret_line = lines[source_line + 1]
    assert caret_line.index("^") - len("  | ") == 20  # column 21, 1-based
    assert caret_line.count("^") == 15 and caret_line.endswith(" NN401")
    assert "  = help: Pass `training=self.training`" in lines
    assert any(line.startswith("  = note: Dropout misuse") for line in lines)


def test_full_without_readable_source_still_prints_the_finding():
    text = render_full(FINDINGS[:1], lookup, lambda _path: None)
    assert text.splitlines()[0] == "models/net.py:6:21: NN401 Dropout rate 1.0 drops every unit"


def test_full_underlines_a_multiline_span_to_the_end_of_its_first_line():
    finding = Finding("m.py", 1, 5, "NN401", "msg", 3, 2)
    text = render_full([finding], lookup, lambda _p: ["x = Dropout(", "  1.0", ")"])
    assert "  |     ^^^^^^^^ NN401" in text.splitlines()


def test_json_has_ruffs_keys_and_one_based_locations():
    records = json.loads(render_json(FINDINGS, lookup))
    assert len(records) == 2
    first, second = records
    assert {
        "code",
        "name",
        "message",
        "filename",
        "location",
        "end_location",
        "fix",
        "url",
        "noqa_row",
        "severity",
    } <= set(first)
    assert first["code"] == "NN401" and first["name"] == "dropout-rate-one"
    assert first["location"] == {"row": 6, "column": 21}
    assert first["end_location"] == {"row": 6, "column": 36}
    assert first["filename"] == os.path.abspath("models/net.py")
    assert first["fix"] is None and first["severity"] == "error" and first["noqa_row"] == 6
    assert first["url"] == "https://example.invalid/rules/dropout-rate-one"
    assert first["failure_mode"] == "dropout-misuse"
    assert second["fix"]["applicability"] == "safe"
    assert second["fix"]["message"] == "Pass `training=self.training`"
    assert second["severity"] == "warning"


def test_json_of_no_findings_is_an_empty_list():
    assert json.loads(render_json([], lookup)) == []


def test_github_annotations_carry_level_location_and_title():
    lines = render_github(FINDINGS, lookup).splitlines()
    assert lines[0] == (
        "::error file=models/net.py,line=6,col=21,endLine=6,endColumn=36,"
        "title=NN401 (dropout-rate-one)::NN401 Dropout rate 1.0 drops every unit"
    )
    assert lines[1].startswith("::warning file=models/net.py,line=8,col=16,")


def test_github_escapes_newlines_and_property_separators():
    finding = Finding("odd,name:x.py", 1, 1, "NN401", "50% of\nunits", 1, 2)
    line = render_github([finding], lookup)
    assert "file=odd%2Cname%3Ax.py" in line and "50%25 of%0Aunits" in line
    assert line.count("\n") == 1


def _sarif(findings=FINDINGS) -> dict:
    return json.loads(render_sarif(findings, lookup, list(RULES.values())))


def test_sarif_has_the_structure_github_code_scanning_reads():
    log = _sarif()
    assert log["version"] == "2.1.0" and "sarif" in log["$schema"]
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "nnlint" and driver["version"] and driver["informationUri"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["NN401", "NN403"]
    rule = rules[0]
    assert rule["name"] == "dropout-rate-one"
    assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert rule["help"]["markdown"].startswith("## What it does")
    assert rule["helpUri"] == "https://example.invalid/rules/dropout-rate-one"
    assert rule["defaultConfiguration"]["level"] == "error"
    assert rules[1]["defaultConfiguration"]["level"] == "warning"
    assert "dropout-misuse" in rule["properties"]["tags"]
    result = run["results"][1]
    assert result["ruleId"] == "NN403" and result["ruleIndex"] == 1
    assert result["level"] == "warning" and result["message"]["text"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "models/net.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 8, "startColumn": 16, "endLine": 8, "endColumn": 33}


def test_sarif_uri_outside_the_cwd_is_an_absolute_file_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outside = str(Path(tmp_path).parent / "other" / "m.py")
    log = _sarif([Finding(outside, 1, 1, "NN401", "m", 1, 2)])
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"].startswith("file:///") and "uriBaseId" not in uri


def test_sarif_validates_against_the_oasis_schema():
    import jsonschema  # a test dependency: a missing one must fail, not skip

    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validate(_sarif(), schema)
    jsonschema.validate(_sarif([]), schema)
    notebook = Finding("nb.ipynb", 2, 5, "NN401", "m", 2, 9, cell=3)
    jsonschema.validate(_sarif([notebook]), schema)


def test_statistics_count_per_code_most_frequent_first():
    findings = [*FINDINGS, FINDINGS[1], FINDINGS[1]]
    assert render_statistics(findings, lookup).splitlines() == [
        "3\tNN403\t[*] functional-dropout-always-on",
        "1\tNN401\t[ ] dropout-rate-one",
    ]
    records = json.loads(render_statistics_json(findings, lookup))
    assert records[0] == {
        "code": "NN403",
        "name": "functional-dropout-always-on",
        "count": 3,
        "fixable": True,
        "fixable_count": 3,
    }


def test_an_unregistered_code_renders_instead_of_crashing():
    finding = Finding("a.py", 1, 1, "NN999", "from a newer engine", 1, 2)
    for output_format in ("concise", "json", "github", "sarif"):
        assert "NN999" in render(output_format, [finding], lookup)


def test_render_rejects_an_unknown_format():
    with pytest.raises(ValueError, match="unknown output format"):
        render("xml", FINDINGS, lookup)


def _apply(text: str, edits) -> str:
    """Apply ruff-style edits (1-based rows/columns), last first so positions stay valid."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(row: int, column: int) -> int:
        return offsets[row - 1] + column - 1

    for edit in sorted(edits, key=lambda e: (e.row, e.column), reverse=True):
        start, end = offset(edit.row, edit.column), offset(edit.end_row, edit.end_column)
        text = text[:start] + edit.content + text[end:]
    return text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (MODEL, MODEL.replace("F.dropout(x, 0.5)", "F.dropout(x, 0.5, training=self.training)")),
        ("a = 1\nb = 2\nc = 3\n", "a = 1\nc = 3\n"),
        ("a = 1\n", "a = 1\nb = 2\n"),
        ("x = f(\n    1,\n)\n", "x = f(\n    1,\n    training=self.training,\n)\n"),
        ("no newline", "no newline at end"),
    ],
    ids=["insert-keyword", "delete-line", "append-line", "multiline-call", "no-final-newline"],
)
def test_json_fix_edits_reproduce_the_fixed_source(before, after):
    edits = edits_between(before, after)
    assert edits and _apply(before, edits) == after


def test_keyword_insertion_is_a_single_zero_width_edit_at_its_column():
    after = MODEL.replace("F.dropout(x, 0.5)", "F.dropout(x, 0.5, training=self.training)")
    [edit] = edits_between(MODEL, after)
    assert (edit.row, edit.column, edit.end_row, edit.end_column) == (8, 32, 8, 32)
    assert edit.content == ", training=self.training"


def test_edits_go_to_the_fixable_finding_that_holds_them():
    edit = edits_between(MODEL, MODEL.replace("0.5)", "0.5, training=self.training)"))[0]
    assigned = assign_edits(FINDINGS, [edit])
    assert assigned == {FINDINGS[1]: [edit]}
    record = json.loads(render_json(FINDINGS, lookup, assigned))[1]
    assert record["fix"]["edits"] == [
        {
            "content": ", training=self.training",
            "location": {"row": 8, "column": 32},
            "end_location": {"row": 8, "column": 32},
        }
    ]
