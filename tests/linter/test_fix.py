"""Fixes: exact output, idempotence, byte preservation (CRLF, encodings), refusing broken output."""

from __future__ import annotations

from nnlint.engine import LintSettings, lint_source
from nnlint.fixes import Edit

DEFAULT = LintSettings.default()

MODULE = (
    "import torch.nn as nn\n"
    "import torch.nn.functional as F  # functional API\n"
    "\n"
    "\n"
    "class Block(nn.Module):\n"
    "    def forward(self, x):\n"
    "        x = F.dropout(x, 0.1)   # keep this comment\n"
    "        return F.dropout2d(\n"
    "            x,\n"
    "            p=0.2,\n"
    "        )\n"
)
FIXED = (
    "import torch.nn as nn\n"
    "import torch.nn.functional as F  # functional API\n"
    "\n"
    "\n"
    "class Block(nn.Module):\n"
    "    def forward(self, x):\n"
    "        x = F.dropout(x, 0.1, training=self.training)   # keep this comment\n"
    "        return F.dropout2d(\n"
    "            x,\n"
    "            p=0.2,\n"
    "            training=self.training,\n"
    "        )\n"
)


def fix(source: bytes, settings: LintSettings = DEFAULT):
    return lint_source(source, "block.py", settings, fix=True)


def test_fix_output_is_exact_and_counts_fixes() -> None:
    result = fix(MODULE.encode())
    assert result.fixed_source == FIXED.encode()
    assert result.fixed_count == 2
    assert result.findings == []


def test_fix_is_idempotent() -> None:
    again = fix(FIXED.encode())
    assert again.fixed_source is None and again.fixed_count == 0
    assert again.findings == []


def test_fix_keeps_crlf_newlines() -> None:
    crlf = MODULE.replace("\n", "\r\n").encode()
    result = fix(crlf)
    assert result.fixed_source == FIXED.replace("\n", "\r\n").encode()


def test_fix_keeps_latin1_encoding_and_bytes() -> None:
    source = ("# -*- coding: latin-1 -*-\n# Gérard's block\n" + MODULE).encode("latin-1")
    result = fix(source)
    assert result.fixed_source == ("# -*- coding: latin-1 -*-\n# Gérard's block\n" + FIXED).encode(
        "latin-1"
    )


def test_fix_keeps_utf8_bom() -> None:
    result = fix(b"\xef\xbb\xbf" + MODULE.encode())
    assert result.fixed_source == b"\xef\xbb\xbf" + FIXED.encode()


def test_fix_without_fix_flag_leaves_source_alone_and_reports_fixable() -> None:
    result = lint_source(MODULE.encode(), "block.py", DEFAULT)
    assert result.fixed_source is None
    assert [f.fixable for f in result.findings] == [True, True]


def test_unfixable_findings_remain_after_fixing() -> None:
    source = MODULE + "\nextra = nn.Dropout(1.0)\n"
    result = fix(source.encode())
    assert result.fixed_count == 2
    assert [f.code for f in result.findings] == ["NN401"]
    # Positions refer to the fixed file (the multi-line fix added a line above).
    assert result.findings[0].line == 14


def test_suppressed_findings_are_not_fixed() -> None:
    source = MODULE.replace("# keep this comment", "# noqa: NN404")
    result = fix(source.encode())
    assert result.fixed_count == 1
    assert b"F.dropout(x, 0.1)   # noqa: NN404" in result.fixed_source


def test_disabled_rule_is_not_fixed() -> None:
    result = fix(MODULE.encode(), LintSettings(enabled=frozenset({"NN401"})))
    assert result.fixed_source is None and result.fixed_count == 0


def test_no_fix_without_self_parameter() -> None:
    source = MODULE.replace("def forward(self, x)", "def forward(this, x)")
    result = fix(source.encode())
    assert result.fixed_source is None
    assert [(f.code, f.fixable) for f in result.findings] == [("NN404", False), ("NN404", False)]


def test_fix_that_would_not_parse_is_refused(monkeypatch) -> None:
    import nnlint.engine

    def breaking_edits(module, text, encoding, has_bom, fixes):
        # ``lambda(`` in place of the first call: the file no longer compiles.
        for fix_ in fixes[:1]:
            start = text.index("F.dropout(")
            yield fix_, Edit(start, start + len("F.dropout"), b"lambda")

    monkeypatch.setattr(nnlint.engine, "fix_edits", breaking_edits)
    result = fix(MODULE.encode())
    assert result.fixed_source is None and result.fixed_count == 0
    assert [f.code for f in result.findings] == ["NN404", "NN404"]


def test_refused_fix_keeps_the_finding_and_it_is_not_marked_fixable(monkeypatch) -> None:
    import nnlint.engine

    monkeypatch.setattr(nnlint.engine, "fix_edits", lambda *args: iter(()))
    result = fix(MODULE.encode())
    assert result.fixed_source is None and result.fixed_count == 0
    assert [(f.code, f.fixable) for f in result.findings] == [("NN404", False), ("NN404", False)]


def test_misspelt_training_keyword_is_reported_but_not_fixed() -> None:
    source = (
        b"import torch.nn as nn\nimport torch.nn.functional as F\n\n\nclass Gcn(nn.Module):\n"
        b"    def forward(self, x):\n        return F.dropout(x, 0.5, traning=self.traning)\n"
    )
    result = lint_source(source, "gcn.py", DEFAULT, fix=True)
    assert result.fixed_source is None
    (finding,) = result.findings
    assert finding.code == "NN404" and not finding.fixable
