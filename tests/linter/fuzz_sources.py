"""Generated source files for fuzzing the parse/lint/fix pipeline, and the invariants every one
must keep. Shared by the bounded test in the suite (test_fuzz.py) and the longer run
(benchmarks/fuzz_pipeline.py)."""

from __future__ import annotations

import warnings

from hypothesis import strategies as st

from nnlint.engine import LintSettings, lint_source
from nnlint.rules import all_rules

DEFAULT = LintSettings.default()
KNOWN_CODES = {m.code for m in all_rules()} - {"NN002"}  # NN002 is an nnlint bug

HEADERS = (
    "import torch.nn as nn\nimport torch.nn.functional as F\n",
    "from keras.models import Sequential\nfrom keras.layers import Dense, Dropout\n",
    "import torch\n",
)
# Top-level blocks that compile on their own: model code with findings and fixes, and shapes
# that are hard on parsers (form feeds, deep chains, thousands of implicit strings).
BLOCKS = (
    "class Net(nn.Module):\n    def forward(self, x):\n        return F.dropout(x, 0.1)\n",
    "class Twice(nn.Module):\n    def forward(self, x):\n"
    "        return F.dropout(F.dropout(x, 0.1), 0.2)\n",
    "class Noted(nn.Module):\n    def forward(self, x):\n        return F.dropout(\n"
    "            x,\n            # note\n            p=0.5,\n        )\n",
    "class Fine(nn.Module):\n    def forward(self, x):\n"
    "        return F.dropout(x, p=0.3, training=self.training)  # fine\n",
    "d = nn.Dropout(1.0)\n",
    "model = Sequential()\nmodel.add(Dense(64))\nmodel.add(Dropout(0.0))\n",
    "s = 'caf\u00e9'  # \u00e9t\u00e9\n",
    "if a:\n    x = 1\nelse:\n    x = 2\n",
    "x = 1if y else 2\npattern = '\\d'\n",
    "def train(data):\n\x0c    for x in data:\n        x.backward()\n",
    "\x0c\n",
    "@decorator\ndef head(x):\n    return x\n",
    "net = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid())\n",
    "x = " + " + ".join(["a"] * 400) + "\n",
    "x = " + " + ".join(["a"] * 1200) + "\n",
    "x = " + " and ".join(["a"] * 1200) + "\n",
    "x = " + "(" * 150 + "1" + ")" * 150 + "\n",
    "x = " + " ".join(["'s'"] * 3100) + "\n",
)
# Lines Python refuses: Python 2 leftovers, typos, newer syntax, compiler-only errors.
BROKEN = (
    "print 'python 2'",
    "except ValueError, e:",
    "exec 'x = 1'",
    "y = `x`",
    "async = 1",
    "def f(:",
    "x = (",
    "\\",
    "'''",
    "x = b'a' 'b'",
    "return 1",
    "type Alias = int",
    "x = " + "(" * 250 + "1" + ")" * 250,
    "x = " + " + ".join(["a"] * 6000),
)
INDENTS = ("", "    ", "        ", "\t", "\x0c")
NEWLINES = ("\n", "\n", "\r\n", "\r")


@st.composite
def source_files(draw: st.DrawFn) -> bytes:
    """A file: a header and blocks that compile, often with a line or two that does not (at a
    random place and indentation); one line-ending style; UTF-8, latin-1 with its cookie, or a
    BOM; now and then a few raw bytes."""
    parts = [draw(st.sampled_from(HEADERS))]
    parts += draw(st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=6))
    lines = "".join(parts).splitlines()
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2)))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(INDENTS)) + draw(st.sampled_from(BROKEN)))
    newline = draw(st.sampled_from(NEWLINES))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(("utf-8", "utf-8", "latin-1", "bom")))
    if encoding == "latin-1":
        data = ("# -*- coding: latin-1 -*-" + newline + text).encode("latin-1")
    elif encoding == "bom":
        data = b"\xef\xbb\xbf" + text.encode()
    else:
        data = text.encode()
    if draw(st.integers(0, 19)) == 0:
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(st.binary(min_size=1, max_size=4)) + data[position:]
    return data


def python_accepts(source: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "fuzz.py", "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def invariant_violations(source: bytes) -> list[str]:
    """What the pipeline got wrong on ``source`` (empty when all is well):

    - linting never raises and reports only known codes, never NN002 (an nnlint bug);
    - NN001 appears exactly when the running Python refuses to compile the file;
    - a fix is only produced for a file Python accepts, the fixed file still compiles, fixing
      it again changes nothing, and every original byte is kept (form feeds, carriage
      returns, encodings and comments included).
    """
    problems: list[str] = []
    result = lint_source(source, "fuzz.py", DEFAULT)
    codes = [f.code for f in result.findings]
    unknown = set(codes) - KNOWN_CODES
    if unknown:
        problems.append(f"unexpected codes {sorted(unknown)}: {result.findings}")
    accepted = python_accepts(source)
    if ("NN001" in codes) == accepted:
        problems.append(f"NN001 {'reported' if accepted else 'missing'}: {result.findings}")
    fixed = lint_source(source, "fuzz.py", DEFAULT, fix=True)
    if fixed.fixed_source is None:
        return problems
    new = fixed.fixed_source
    if not accepted:
        problems.append("a file Python rejects was fixed")
    if not python_accepts(new):
        problems.append("the fixed file does not compile")
    again = lint_source(new, "fuzz.py", DEFAULT, fix=True)
    if again.fixed_source is not None:
        problems.append("fixing is not idempotent")
    for marker in (b"\x0c", b"#", b"\xe9", b"\xef\xbb\xbf"):
        if new.count(marker) != source.count(marker):
            problems.append(f"the fix changed the number of {marker!r}")
    # Today's fixes only add text (an argument), so every original byte must still be there, in
    # order: nothing outside a fixed call is dropped or rewritten.
    remaining = iter(new)
    if not all(byte in remaining for byte in source):
        problems.append("the fix dropped or rewrote bytes of the original")
    return problems
