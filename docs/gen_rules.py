"""Generate ``docs/rules.md`` from the rules' own docstrings and metadata.

Usage: ``python docs/gen_rules.py`` (writes the file) or ``python docs/gen_rules.py --check``
(exit 1 when the committed file is out of date).
"""

from __future__ import annotations

import sys
from pathlib import Path

from nnlint.rules import all_rules

RULES_MD = Path(__file__).resolve().parent / "rules.md"


def _mode_title(meta) -> str:
    return meta.failure_mode.title if meta.failure_mode is not None else "- (nnlint diagnostic)"


def render() -> str:
    rules = all_rules()
    out = [
        "# nnlint rules",
        "",
        "<!-- Generated from nnlint/rules/*.py by `python docs/gen_rules.py`; do not edit. -->",
        "",
        "Codes are grouped by failure mode: NN0xx nnlint diagnostics, NN1xx vanishing gradients,",
        "NN2xx exploding gradients, NN3xx dead ReLU / learning rate, NN4xx dropout, NN5xx loss and",
        "training-loop bugs. `nnlint rule CODE` prints one rule's section.",
        "",
        "| Code | Name | Severity | Fixable | Default | Failure mode |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for meta in rules:
        out.append(
            f"| [{meta.code}](#{meta.code.lower()}-{meta.name}) | `{meta.name}` | "
            f"{meta.severity.value} | {'yes' if meta.fixable else 'no'} | "
            f"{'on' if meta.default_enabled else 'off'} | {_mode_title(meta)} |"
        )
    for meta in rules:
        # Rule docs use "##" sections; nest them under the rule's own heading.
        body = meta.doc.replace("\n## ", "\n#### ")
        if body.startswith("## "):
            body = "#" + "#" + body
        out += [
            "",
            f"## {meta.code} {meta.name}",
            "",
            f"*{meta.message}.* Severity: {meta.severity.value}. Failure mode: "
            f"{_mode_title(meta)}. Fixable: {'yes' if meta.fixable else 'no'}.",
            "",
            body,
        ]
        if meta.options:
            out += [
                "",
                "Options (defaults): " + ", ".join(f"`{k}={v!r}`" for k, v in meta.options.items()),
            ]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not RULES_MD.exists() or RULES_MD.read_text(encoding="utf-8") != text:
            print(f"{RULES_MD} is out of date: run `python docs/gen_rules.py`", file=sys.stderr)
            return 1
        return 0
    RULES_MD.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
