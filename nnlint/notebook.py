"""Jupyter notebooks: the code cells as one virtual Python file, findings mapped back to cells,
fixed code written back into the changed cells only.

The notebook is read as plain JSON with the standard library, not with ``nbformat``: a fix must
leave every byte outside the changed cells' ``source`` alone (outputs, metadata, key order,
indentation), and ``nbformat.write`` re-serialises the whole file; nbformat would also add
jsonschema and traitlets to a linter whose runtime needs are three small packages. What is read
is only ``cells[*].cell_type``/``source`` and the kernel language.

IPython syntax is not Python: line magics (``%time``), shell escapes (``!pip``), help (``obj?``)
and their assignments (``files = !ls``) become ``pass`` lines with the same indentation, restored
when fixed code is written back; a cell that starts with a cell magic (``%%bash``) is skipped,
except the magics whose body is Python (``%%time``, ``%%capture``...), whose first line is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from json.decoder import scanstring

from nnlint.findings import Finding
from nnlint.formats import Edit

# Cell magics whose body is Python code (as ruff treats them).
PYTHON_CELL_MAGICS = frozenset(
    {"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"}
)
# Marks a line that stood for IPython syntax; its original text comes back on write.
_ESCAPE_MARK = "# nnlint: ipython-escape"
_CELL_MARK = "# nnlint: notebook-cell "
_CELL_MARK_LINE = re.compile(r"^# nnlint: notebook-cell (\d+)\n", re.MULTILINE)
_ESCAPE_LINE = re.compile(r"^([ \t]*)pass  " + re.escape(_ESCAPE_MARK) + r"$")
# `files = !ls`, `t = %timeit -o f()`: an assignment from a magic or a shell escape.
_MAGIC_ASSIGNMENT = re.compile(r"^[\w.,\s\[\]()*]+=\s*[!%]")
# `obj?`, `obj??`, `torch.*Tensor?` (a wildcard search), with an optional trailing comment.
_HELP = re.compile(r"^[\w.*\[\]()'\"]+\?{1,2}\s*(#.*)?$")
# IPython's automagic runs `pip install x` without the `%`; as Python it is never valid.
_AUTOMAGIC = re.compile(r"^(pip|conda|mamba)\s+(install|uninstall|list|show|freeze|download)\b")
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class NotebookError(ValueError):
    """A file that is not a readable Jupyter notebook; the message says why."""


@dataclass(frozen=True)
class Cell:
    """One code cell as it stands in the virtual file."""

    number: int  # 1-based position among all cells (markdown cells count, as Jupyter shows)
    first_line: int  # virtual line of the cell's first line
    line_count: int
    source: str  # the cell's original text
    # The original text of each line replaced by a `pass` placeholder, in order.
    escaped: tuple[str, ...] = ()
    trailing_newline: bool = False
    # IPython removes the first line's indentation from every line that has it (its
    # `leading_indent` cleanup); the virtual file holds the cell without it.
    dedent: str = ""

    def original_column(self, line: int, column: int) -> int:
        """A virtual column of cell line ``line`` as a column of the cell's own text."""
        lines = self.source.splitlines()
        if self.dedent and 0 < line <= len(lines) and lines[line - 1].startswith(self.dedent):
            return column + len(self.dedent)
        return column


@dataclass
class Notebook:
    """A notebook's code cells, joined into ``virtual`` (each after a marker comment line)."""

    text: str
    cells: list[Cell] = field(default_factory=list)
    virtual: str = ""
    language: str = "python"

    @property
    def virtual_bytes(self) -> bytes:
        return self.virtual.encode("utf-8")

    def locate(self, virtual_line: int) -> tuple[int, int] | None:
        """(cell number, line within the cell) of a virtual line; None for a marker line."""
        for cell in self.cells:
            if cell.first_line <= virtual_line < cell.first_line + max(cell.line_count, 1):
                return cell.number, virtual_line - cell.first_line + 1
        return None

    def map_finding(self, finding: Finding) -> Finding:
        """``finding`` (in virtual coordinates) in cell coordinates."""
        where = self.locate(finding.line)
        if where is None:
            # A file-wide diagnostic (a notebook that does not parse as a whole): first cell.
            first = self.cells[0].number if self.cells else 1
            return replace(finding, cell=first, line=1, end_line=1)
        number, line = where
        cell = self._cell(number)
        column = cell.original_column(line, finding.column)
        end = self.locate(finding.end_line)
        if end is not None and end[0] == number:
            end_line, end_column = end[1], cell.original_column(end[1], finding.end_column)
        else:
            end_line, end_column = line, column
        return replace(
            finding,
            cell=number,
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
        )

    def cell_lines(self) -> dict[int, list[str]]:
        """Each code cell's text lines, by cell number (for source excerpts)."""
        return {cell.number: cell.source.splitlines() for cell in self.cells}

    def split_virtual(self, virtual: str) -> dict[int, str] | None:
        """The cells' text in a (fixed) virtual file, escapes restored; None if the cell markers
        did not survive (then nothing is written)."""
        parts = _CELL_MARK_LINE.split(virtual)
        # parts: [before the first marker, number, text, number, text, ...]
        if parts[0] or len(parts) != 2 * len(self.cells) + 1:
            return None
        texts: dict[int, str] = {}
        for cell, number, text in zip(self.cells, parts[1::2], parts[2::2]):
            if int(number) != cell.number:
                return None
            restored = _restore_escapes(text, cell.escaped)
            if restored is None:
                return None
            if cell.dedent:
                restored = "".join(
                    cell.dedent + line if line.strip() else line
                    for line in restored.splitlines(keepends=True)
                )
            if not cell.trailing_newline and restored.endswith("\n"):
                restored = restored[:-1]
            texts[cell.number] = restored
        return texts

    def with_cells(self, new_sources: dict[int, str]) -> str:
        """The notebook's JSON text with the ``source`` of the changed cells replaced; every other
        byte is kept."""
        changed = {
            number: source
            for number, source in new_sources.items()
            if source != self._cell(number).source
        }
        if not changed:
            return self.text
        pieces: list[str] = []
        position = 0
        for number, start, end in _source_spans(self.text):
            if number not in changed:
                continue
            pieces.append(self.text[position:start])
            pieces.append(_format_source(self.text, start, end, changed[number]))
            position = end
        pieces.append(self.text[position:])
        return "".join(pieces)

    def fixed_text(self, fixed_virtual: str) -> str | None:
        """The notebook JSON after fixes to its virtual file, or None if they cannot be mapped."""
        texts = self.split_virtual(fixed_virtual)
        return None if texts is None else self.with_cells(texts)

    def changed_cells(self, fixed_virtual: str) -> list[tuple[str, str, str]]:
        """(``cell N``, text before, text after) of each cell a fixed virtual file changes."""
        texts = self.split_virtual(fixed_virtual) or {}
        return [
            (f"cell {cell.number}", cell.source, texts[cell.number])
            for cell in self.cells
            if cell.number in texts and texts[cell.number] != cell.source
        ]

    def map_edit(self, edit: Edit) -> Edit | None:
        """An edit of the virtual file with rows counted within its cell (None if it spans
        cells)."""
        start = self.locate(edit.row)
        end = self.locate(edit.end_row)
        if start is None or end is None or start[0] != end[0]:
            return None
        return replace(edit, row=start[1], end_row=end[1])

    def cell_source(self, number: int) -> str:
        """The original text of code cell ``number``."""
        return self._cell(number).source

    def _cell(self, number: int) -> Cell:
        for cell in self.cells:
            if cell.number == number:
                return cell
        raise KeyError(number)


def read_notebook(raw: bytes) -> Notebook:
    """Read a notebook's bytes; raises ``NotebookError`` when they are not a notebook."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not valid notebook JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no `cells` list; nbformat 4 is read)")
    notebook = Notebook(text=text, language=_language(data))
    if notebook.language != "python":
        # An R or Julia notebook has no Python to lint.
        return notebook
    lines: list[str] = []
    line_count = 0
    for index, cell in enumerate(data["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _source_text(cell.get("source", ""))
        if source is None:
            raise NotebookError(f"cell {index + 1}: `source` is neither a string nor a list")
        dedent = _leading_indent(source)
        code, escaped = _python_of(_without_prefix(source, dedent))
        if not code.endswith("\n"):
            code += "\n"
        lines += [f"{_CELL_MARK}{index + 1}\n", code]
        first_line = line_count + 2
        line_count += 1 + code.count("\n")
        notebook.cells.append(
            Cell(
                number=index + 1,
                first_line=first_line,
                line_count=code.count("\n"),
                source=source,
                escaped=tuple(escaped),
                trailing_newline=source.endswith("\n"),
                dedent=dedent,
            )
        )
    notebook.virtual = "".join(lines)
    return notebook


def _language(data: dict) -> str:
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return "python"
    for key, name_key in (("language_info", "name"), ("kernelspec", "language")):
        table = metadata.get(key)
        if isinstance(table, dict) and isinstance(table.get(name_key), str):
            return table[name_key].lower()
    return "python"


def _source_text(source: object) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _leading_indent(source: str) -> str:
    first = source.split("\n", 1)[0]
    return first[: len(first) - len(first.lstrip(" \t"))] if first.strip() else ""


def _without_prefix(source: str, prefix: str) -> str:
    if not prefix:
        return source
    return "".join(
        line[len(prefix) :] if line.startswith(prefix) else line
        for line in source.splitlines(keepends=True)
    )


def _python_of(source: str) -> tuple[str, list[str]]:
    """The cell as Python: IPython-only lines replaced by ``pass`` placeholders."""
    lines = source.splitlines(keepends=True)
    escaped: list[str] = []
    out: list[str] = []
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split(maxsplit=1)
        if not magic or magic[0] not in PYTHON_CELL_MAGICS:
            # Another language (%%bash, %%html...): the whole cell stands aside.
            return "".join(_placeholder(line, escaped, indent=False) for line in lines), escaped
    depth = 0
    continued: str | None = None  # the indentation of a magic continued with a backslash
    for number, line in enumerate(lines):
        body = line.rstrip("\r\n")
        stripped = body.strip()
        if continued is not None:
            # The continuation lines of `!cmd \` belong to the command, at its indentation.
            out.append(continued + _placeholder(line, escaped, indent=False))
            continued = continued if stripped.endswith("\\") else None
            continue
        if (number == 0 and stripped.startswith("%%")) or (
            depth == 0 and _is_ipython_line(stripped)
        ):
            out.append(_placeholder(line, escaped))
            if stripped.endswith("\\"):
                continued = body[: len(body) - len(body.lstrip())]
            continue
        out.append(line)
        depth = max(0, depth + _bracket_balance(body))
    return "".join(out), escaped


def _is_ipython_line(stripped: str) -> bool:
    if not stripped or stripped.startswith("#"):
        return False
    if stripped[0] in "%!?":
        return True
    return bool(
        _HELP.match(stripped) or _MAGIC_ASSIGNMENT.match(stripped) or _AUTOMAGIC.match(stripped)
    )


def _placeholder(line: str, escaped: list[str], *, indent: bool = True) -> str:
    escaped.append(line)
    body = line.rstrip("\r\n")
    prefix = body[: len(body) - len(body.lstrip())] if indent else ""
    return f"{prefix}pass  {_ESCAPE_MARK}{line[len(body) :]}"


def _bracket_balance(line: str) -> int:
    """Open minus closed brackets on a line, outside strings and comments (approximately: a
    string spanning lines is not followed; it only decides where a magic may start)."""
    balance = 0
    quote = ""
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif line.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif char == "#":
            break
        elif char in "\"'":
            quote = line[i : i + 3] if line[i : i + 3] in ('"""', "'''") else char
            i += len(quote) - 1
        elif char in "([{":
            balance += 1
        elif char in ")]}":
            balance -= 1
        i += 1
    return balance


def _restore_escapes(text: str, escaped: Sequence[str]) -> str | None:
    lines = text.splitlines(keepends=True)
    remaining = list(escaped)
    out = []
    for line in lines:
        if _ESCAPE_LINE.match(line.rstrip("\r\n")):
            if not remaining:
                return None
            out.append(remaining.pop(0))
        else:
            out.append(line)
    return None if remaining else "".join(out)


# ---------------------------------------------------------------------------------------------
# Writing back: where each code cell's `source` value lies in the JSON text


def _skip(text: str, index: int) -> int:
    match = _WS.match(text, index)
    assert match is not None
    return match.end()


def _members(text: str, index: int) -> Iterator[tuple[str, int, int]]:
    """(key, value start, value end) of the JSON object starting at ``text[index]``."""
    index = _skip(text, index + 1)
    if text[index] == "}":
        return
    while True:
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        index = _skip(text, index + 1)  # the colon
        _, end = _DECODER.raw_decode(text, index)
        yield key, index, end
        index = _skip(text, end)
        if text[index] == "}":
            return
        index = _skip(text, index + 1)  # the comma


def _items(text: str, index: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each value of the JSON array starting at ``text[index]``."""
    index = _skip(text, index + 1)
    if text[index] == "]":
        return
    while True:
        _, end = _DECODER.raw_decode(text, index)
        yield index, end
        index = _skip(text, end)
        if text[index] == "]":
            return
        index = _skip(text, index + 1)


def _source_spans(text: str) -> Iterator[tuple[int, int, int]]:
    """(cell number, start, end) of every cell's ``source`` value."""
    for key, start, _ in _members(text, _skip(text, 0)):
        if key != "cells":
            continue
        for number, (cell_start, _) in enumerate(_items(text, start), start=1):
            for cell_key, value_start, value_end in _members(text, cell_start):
                if cell_key == "source":
                    yield number, value_start, value_end


def _format_source(text: str, start: int, end: int, source: str) -> str:
    """``source`` as JSON in the shape of the value it replaces (a string, or a list of lines
    with the same indentation), escaping non-ASCII as the notebook does."""
    original = text[start:end]
    ensure_ascii = not any(ord(char) > 127 for char in text) and "\\u" in text
    if original.startswith('"'):
        return json.dumps(source, ensure_ascii=ensure_ascii)
    items = [json.dumps(line, ensure_ascii=ensure_ascii) for line in source.splitlines(True)]
    if "\n" not in original:
        return "[" + ", ".join(items) + "]"
    first_item = re.match(r"\[\r?\n([ \t]*)", original)
    closing = re.search(r"\n([ \t]*)\]$", original)
    newline = "\r\n" if "\r\n" in original else "\n"
    item_indent = first_item.group(1) if first_item else " "
    close_indent = closing.group(1) if closing else ""
    if not items:
        return "[]"
    body = ("," + newline).join(item_indent + item for item in items)
    return "[" + newline + body + newline + close_indent + "]"
