"""Independent cross-check of nnlint's dropout rules: a crude stdlib-``ast`` scan of a corpus.

It shares no code with nnlint, so a site it lists that nnlint does not report is a recall gap to
look at (and one nnlint reports that it does not list, a precision question).
"""

from __future__ import annotations

import argparse
import ast
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CorpusError, ensure_corpus, python_files  # noqa: E402

# Matched by attribute or bare name, whatever the import: deliberately over-inclusive.
DROPOUT_LAYERS = frozenset(
    {
        "Dropout",
        "Dropout1d",
        "Dropout2d",
        "Dropout3d",
        "AlphaDropout",
        "FeatureAlphaDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
    }
)
FUNCTIONAL_DROPOUT = frozenset(
    {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
)
# The last part of the receiver of a functional call: `F.dropout`, `nn.functional.dropout`.
FUNCTIONAL_RECEIVERS = frozenset({"F", "functional"})


def _literal_number(node: ast.expr) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal_number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _callee(call: ast.Call) -> tuple[str | None, str | None]:
    """(name, last part of the receiver) of a call: `nn.Dropout` -> ("Dropout", "nn")."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id, None
    if isinstance(func, ast.Attribute):
        receiver = func.value
        last = receiver.attr if isinstance(receiver, ast.Attribute) else None
        if isinstance(receiver, ast.Name):
            last = receiver.id
        return func.attr, last
    return None, None


def scan_source(source: bytes, filename: str = "<corpus>") -> Iterator[tuple[int, str, str]]:
    """(line, kind, call text) for each suspicious dropout call in ``source``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # old escape sequences warn; they are not our business
        tree = ast.parse(source, filename=filename)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name, receiver = _callee(node)
        if name in DROPOUT_LAYERS:
            rates = [*node.args[:1], *(k.value for k in node.keywords if k.arg in ("p", "rate"))]
            for rate in rates:
                value = _literal_number(rate)
                if value is not None and not 0 < value < 1:
                    yield node.lineno, "literal-rate", ast.unparse(node)
        elif name in FUNCTIONAL_DROPOUT and receiver in FUNCTIONAL_RECEIVERS:
            has_training = len(node.args) >= 3 or any(k.arg == "training" for k in node.keywords)
            if not has_training:
                yield node.lineno, "functional-without-training", ast.unparse(node)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpora", nargs="*", default=["timm", "transformers"])
    args = parser.parse_args(argv)
    try:
        for spec in args.corpora:
            root = ensure_corpus(spec)
            for path in python_files(root):
                try:
                    sites = list(scan_source(path.read_bytes(), str(path)))
                except (SyntaxError, ValueError) as exc:
                    print(f"{path.relative_to(root)}: does not parse ({exc})")
                    continue
                for line, kind, text in sites:
                    print(f"{path.relative_to(root)}:{line}: {kind} {text[:120]}")
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
