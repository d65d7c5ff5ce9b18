"""Python is the judge of syntax: decode a file as Python does, compile it with the running Python,
and blank out the statements it rejects so that the rest of the file can still be linted.

``compile`` to bytecode is the judge because it is what ``python file.py`` runs: it also rejects
what only the compiler sees (``return`` outside a function, a nesting too deep to compile), and it
is cheaper than ``ast.parse`` (no Python objects are built: about 1.0 CPU-s on timm's 304 files,
against 9.5 s for ``libcst.parse_module``).
"""

from __future__ import annotations

import bisect
import codecs
import keyword
import re
import sys
import tokenize
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

BOM = codecs.BOM_UTF8
_NEWLINE = re.compile(r"\r\n|\r|\n")
# Bytes lines as Python counts them: \n, \r\n or a lone \r ends a line (not a form feed).
_BYTES_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n|$)")


@dataclass(frozen=True)
class SyntaxProblem:
    """Why Python refuses a file: 1-based line and column (characters), and Python's message."""

    line: int
    column: int
    message: str
    # False when Python gives no position (a nesting too deep to compile): the line is a guess.
    located: bool = True


@dataclass(frozen=True)
class Decoded:
    """A file's text as Python reads it, and the codec that maps it back to the file's bytes."""

    text: str
    encoding: str


class Undecodable(Exception):
    """The bytes are not text Python would read; ``problem`` says where and why."""

    def __init__(self, problem: SyntaxProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


# ---------------------------------------------------------------------------------------------
# Decoding


def decode(source: bytes) -> Decoded:
    """Decode like Python (BOM, coding cookie, UTF-8 default), or raise ``Undecodable``."""
    # Lines as Python splits them: with BytesIO.readline a CR-only file would be one line, and
    # its coding cookie would go unseen.
    lines = (match.group() for match in _BYTES_LINE.finditer(source))
    try:
        encoding, cookie_lines = tokenize.detect_encoding(lambda: next(lines, b""))
    except SyntaxError as error:
        line = getattr(error, "lineno", None) or 1
        raise Undecodable(SyntaxProblem(line, 1, f"SyntaxError: {error.msg}")) from None
    try:
        is_text = getattr(codecs.lookup(encoding), "_is_text_encoding", True)
    except LookupError:  # pragma: no cover - detect_encoding looked it up already
        is_text = False
    if not is_text:
        # rot13, hex, base64, zlib...: Python refuses them with this message.
        raise Undecodable(
            SyntaxProblem(
                max(1, len(cookie_lines)),
                1,
                f"SyntaxError: {encoding!r} is not a text encoding; "
                "use a text encoding such as utf-8 in the coding cookie",
            )
        )
    body = source[len(BOM) :] if source.startswith(BOM) else source
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    nul = body.find(b"\0")
    if nul >= 0:
        line, column = _position_of_byte(body, nul, codec)
        raise Undecodable(
            SyntaxProblem(
                line,
                column,
                "source code cannot contain null bytes (a NUL byte: is it a binary file?)",
            )
        )
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as error:
        line, column = _position_of_byte(body, error.start, codec)
        raise Undecodable(
            SyntaxProblem(
                line,
                column,
                f"cannot decode the file: byte 0x{body[error.start]:02x} is not valid {codec} "
                "(declare the encoding with a `# -*- coding: ... -*-` line, or re-save the file "
                "as UTF-8)",
            )
        ) from None
    except LookupError as error:  # pragma: no cover - a codec that fails on use
        raise Undecodable(SyntaxProblem(1, 1, f"SyntaxError: {error}")) from None
    return Decoded(text=text, encoding=encoding)


def _position_of_byte(body: bytes, offset: int, codec: str) -> tuple[int, int]:
    """1-based line and character column of ``body[offset]`` (the BOM already stripped)."""
    line = 1
    line_start = 0
    for match in _BYTES_LINE.finditer(body):
        if match.end() > offset or match.end() == len(body):
            line_start = match.start()
            break
        line += 1
    prefix = body[line_start:offset].decode(codec, "replace")
    return line, len(prefix) + 1


# ---------------------------------------------------------------------------------------------
# Python's verdict

_PYTHON2_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        # A cell exported from a notebook: `!pip install timm`, `%matplotlib inline`, `%%time`.
        re.compile(r"^\s*(?:!\s*\S|%{1,2}[A-Za-z_])"),
        "a notebook line? `!command` and `%magic` are IPython syntax, not Python: comment it "
        "out or lint the .ipynb itself",
    ),
    (
        re.compile(r"^\s*print\s*(?:>>|[^\s(=.,)\]:;])"),
        "Python 2 code? In Python 3 `print` is a function: print(...)",
    ),
    (
        re.compile(r"^\s*exec\s+[^\s(=.,)\]:;]"),
        "Python 2 code? In Python 3 `exec` is a function: exec(code, globals)",
    ),
    (
        re.compile(r"^\s*except\s+[^:#]+,\s*[A-Za-z_]\w*\s*:"),
        "Python 2 code? Write `except E as e:`",
    ),
    (re.compile(r"`"), "Python 2 code? Backticks are `repr(...)` in Python 3"),
    (re.compile(r"<>"), "Python 2 code? Write `!=` instead of `<>`"),
    (re.compile(r"^\s*raise\s+[^,(#]+,"), "Python 2 code? Write `raise E(message)`"),
    (re.compile(r"\b0[0-7]+\b"), "Python 2 code? Octal literals are written 0o777 in Python 3"),
    (re.compile(r"\b[uU][rR]['\"]"), "Python 2 code? `ur''` strings do not exist in Python 3"),
    (
        re.compile(r"(?:\basync\s*(?:=[^=]|[,)])|\.\s*async\b|\bdef\s+async\b|\(\s*async\s*[,)=])"),
        "`async` is a keyword since Python 3.7; rename it",
    ),
)


def _python2_hint(line_text: str) -> str | None:
    for pattern, hint in _PYTHON2_HINTS:
        if pattern.search(line_text):
            return hint
    return None


_TEXT_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def text_lines(text: str) -> list[str]:
    """The lines of ``text`` with their line ends, split where Python splits them."""
    return _TEXT_LINE.findall(text)


def python_tokens(text: str) -> Iterator[tokenize.TokenInfo]:
    """``tokenize.generate_tokens`` over ``text`` with Python's line numbers: lines split where
    Python splits them (a lone CR ends one, a form feed does not), each ended by one ``\n``."""
    lines = iter([_NEWLINE.sub("\n", line) for line in text_lines(text)])
    return tokenize.generate_tokens(lambda: next(lines, ""))


def _line_text(text: str, line: int) -> str:
    lines = text_lines(text)
    return lines[line - 1] if 0 < line <= len(lines) else ""


def compile_problem(text: str, path: str, *, max_depth: int | None = None) -> SyntaxProblem | None:
    """None when the running Python compiles ``text``; else its error, where Python puts it.

    With ``max_depth``, code nested deeper than about that many levels is refused too (an
    unlocated ``RecursionError``), at no extra cost: see ``_compiler_depth_limit``.
    Python's warnings for accepted code (``SyntaxWarning: invalid escape sequence``) are not
    nnlint's to print, so they are silenced here.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _compiler_depth_limit(max_depth):
                compile(text, path, "exec", dont_inherit=True)
        return None
    except SyntaxError as error:
        line = error.lineno or 1
        column = error.offset if error.offset and error.offset > 0 else 1
        message = f"{type(error).__name__}: {error.msg}"
    except (RecursionError, MemoryError) as error:
        # Python cannot compile the file (a chain or nesting thousands of levels deep).
        detail = str(error) or "out of memory while parsing"
        message = (
            f"{type(error).__name__}: {detail} (Python cannot compile code nested this deeply)"
        )
        return SyntaxProblem(1, 1, message, located=False)
    except (ValueError, OverflowError) as error:
        return SyntaxProblem(1, 1, f"{type(error).__name__}: {error}", located=False)
    hint = _python2_hint(_line_text(text, line))
    if hint is not None:
        message += f" ({hint})"
    return SyntaxProblem(line, column, message)


# ---------------------------------------------------------------------------------------------
# What libcst's native parser must not be given

# libcst's parser recurses natively once per level of an expression chain. Measured (libcst 1.9,
# Python 3.11): a 1,000-term `+`, attribute or call chain parses in 0.5-1.2 s, 2,000 terms in
# 4-7 s, 4,000 in 25-35 s, and an `and` chain of 40,000 (flat for Python) ends the process with
# SIGSEGV. Nesting deeper than this is refused before libcst sees it.
LIBCST_MAX_DEPTH = 1000
# CPython <= 3.11 bounds the compiler's recursion by 3 x the interpreter's recursion limit.
_COMPILER_FRAMES_PER_LEVEL = 3
_BOOLEAN_WORD = re.compile(r"\b(?:and|or)\b")


def _stack_depth() -> int:
    frame = sys._getframe()
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


@contextmanager
def _compiler_depth_limit(max_depth: int | None) -> Iterator[None]:
    """Make ``compile`` refuse code nested deeper than ``max_depth`` (RecursionError), where the
    running Python's compiler honours the recursion limit; else do nothing."""
    if max_depth is None or not _recursion_limit_bounds_compiler():
        yield
        return
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + max_depth // _COMPILER_FRAMES_PER_LEVEL)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@lru_cache(maxsize=1)
def _recursion_limit_bounds_compiler() -> bool:
    """Whether this Python's compiler depth follows ``sys.setrecursionlimit`` (CPython 3.9-3.11;
    3.12 moved to a fixed C limit). Measured once, on two small chains."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 100)
    try:
        compile("x = " + "+".join(["a"] * 1500), "<probe>", "exec", dont_inherit=True)
    except RecursionError:
        return True
    except Exception:  # noqa: BLE001 - any other answer means the trick does not apply
        return False
    finally:
        sys.setrecursionlimit(old)
    return False


def _longest_chain(text: str, *, booleans_only: bool) -> int:
    """The most operators chained at one bracket level of one statement (the stdlib tokenizer;
    only run on the rare files a cheap count cannot clear)."""
    longest = 0
    levels = [0]
    try:
        for token in python_tokens(text):
            kind, string = token.type, token.string
            if kind == tokenize.NEWLINE:
                levels = [0]
            elif kind == tokenize.OP and string in "([{":
                levels.append(0)
            elif kind == tokenize.OP and string in ")]}":
                if len(levels) > 1:
                    levels.pop()
            elif kind == tokenize.OP and string in ",;:":
                levels[-1] = 0
            elif (string in ("and", "or")) or (
                not booleans_only and (kind == tokenize.OP or string in ("not", "if", "lambda"))
            ):
                levels[-1] += 1
                longest = max(longest, sum(levels) + len(levels))
    except (tokenize.TokenError, SyntaxError):
        pass
    return longest


def libcst_problem(text: str, path: str) -> SyntaxProblem | None:
    """Why ``text`` must not be handed to libcst: Python refuses it, or it is nested deeper than
    ``LIBCST_MAX_DEPTH`` (that problem is unlocated). None when libcst may parse it."""
    problem = compile_problem(text, path, max_depth=LIBCST_MAX_DEPTH)
    if problem is not None:
        return problem
    # `a and b and ...` is flat for Python's compiler but one level per term for libcst; the
    # word count clears every ordinary file. Pythons whose compiler depth cannot be bounded
    # measure every chain with the tokenizer.
    bounded = _recursion_limit_bounds_compiler()
    if bounded and len(_BOOLEAN_WORD.findall(text)) < LIBCST_MAX_DEPTH:
        return None
    if _longest_chain(text, booleans_only=bounded) < LIBCST_MAX_DEPTH:
        return None
    return _too_deep()


def _too_deep() -> SyntaxProblem:
    return SyntaxProblem(
        1,
        1,
        f"nested more than {LIBCST_MAX_DEPTH} levels deep (an expression chain this long would "
        "take minutes or crash libcst's native parser)",
        located=False,
    )


def check(text: str, path: str) -> tuple[SyntaxProblem | None, SyntaxProblem | None]:
    """(Python's verdict, why libcst must not read the file although Python accepts it).

    One ``compile`` on the normal path: the depth bound is part of it (see ``libcst_problem``).
    """
    problem = libcst_problem(text, path)
    if problem is None:
        return None, None
    if problem.located:
        return problem, None
    python = compile_problem(text, path)
    return python, (None if python is not None else _too_deep())


# Python resets the indentation count at a form feed; libcst's tokenizer miscounts it.
_FORM_FEED_INDENT = re.compile(r"(?:(?<=[\r\n])|\A)[ \t\x0c]*\x0c")


def libcst_compatible(text: str) -> tuple[str, dict[int, int]]:
    """``text`` without the form feeds (and what precedes them) in indentation, which Python
    ignores and libcst refuses; with the number of characters removed from each changed line."""
    if "\x0c" not in text:
        return text, {}
    removed: dict[int, int] = {}
    line_starts = [m.start() for m in _TEXT_LINE.finditer(text)]

    def drop(match: re.Match[str]) -> str:
        line = bisect.bisect_right(line_starts, match.start())
        removed[line] = match.end() - match.start()
        return ""

    return _FORM_FEED_INDENT.sub(drop, text), removed


# ---------------------------------------------------------------------------------------------
# Linting around errors: blank what Python rejects, keep every byte offset


@dataclass(frozen=True)
class _Region:
    """Lines ``first``..``last`` (1-based, inclusive) of one logical line or block."""

    first: int
    last: int
    first_token: str = ""
    # A Python 2 ``print x`` / ``exec code`` statement (a name or literal right after the word).
    python2_statement: bool = False
    # A compound statement's header (``def f(a, (b, c)):``), which needs a header placeholder.
    is_header: bool = False


# Placeholders by the header's first keyword; a loop stays a loop so `break` still compiles.
_HEADER_PLACEHOLDER = {
    "def": b"def _():",
    "async": b"def _():",
    "class": b"class _:",
    "for": b"while 1:",
    "while": b"while 1:",
    "elif": b"elif 1:",
    "else": b"else:",
    "except": b"except 0:",
    "finally": b"finally:",
    "try": b"try:",
}
_CONTINUATION_KEYWORDS = frozenset({"else", "elif", "except", "finally"})
# Each repair is one compile of the file (a few ms for a large one); Python 2 print and exec
# statements, the common case by far, are blanked all at once before the first repair.
MAX_REPAIRS = 200


def _logical_regions(text: str) -> tuple[list[_Region], int]:
    """The logical lines the tokenizer reads before it gives up, and the line it stopped at
    (0 when it read the whole file)."""
    regions: list[_Region] = []
    start: int | None = None
    first_token = last_significant = ""
    python2_statement = False
    stopped = 0
    try:
        for token in python_tokens(text):
            kind = token.type
            if kind in (tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            if kind == tokenize.ENDMARKER:
                break
            if kind == tokenize.NEWLINE:
                if start is not None:
                    regions.append(
                        _Region(
                            start,
                            token.start[0],
                            first_token,
                            python2_statement,
                            last_significant == ":",
                        )
                    )
                start, first_token, last_significant = None, "", ""
                continue
            if start is None:
                start, first_token, python2_statement = token.start[0], token.string, False
            elif last_significant == first_token and first_token in ("print", "exec"):
                python2_statement = token.string == ">>" or (
                    kind in (tokenize.STRING, tokenize.NUMBER, tokenize.NAME)
                    and not keyword.iskeyword(token.string)
                )
            last_significant = token.string
    except (tokenize.TokenError, SyntaxError):
        stopped = start if start is not None else (regions[-1].last + 1 if regions else 1)
    return regions, stopped


_Lines = list[tuple[int, int, int]]


def _byte_lines(source: bytes) -> _Lines:
    """(start, end of content, end including the newline) of every line of ``source``."""
    spans = []
    for match in _BYTES_LINE.finditer(source):
        if match.start() == match.end():
            break
        chunk = match.group()
        newline = 2 if chunk.endswith(b"\r\n") else 1 if chunk.endswith((b"\n", b"\r")) else 0
        spans.append((match.start(), match.end() - newline, match.end()))
    return spans


def _indent_end(buffer: bytes | bytearray, line: tuple[int, int, int]) -> int:
    end = line[0]
    while end < line[1] and buffer[end] in b" \t\x0c":
        end += 1
    return end


def _blank(buffer: bytearray, lines: _Lines, region: _Region) -> bool:
    """Overwrite ``region`` with a placeholder statement padded with spaces, keeping its
    indentation and every newline, so every byte offset of the file; False if it cannot fit."""
    first = lines[region.first - 1]
    indent_end = _indent_end(buffer, first)
    placeholder = b"0"
    if region.is_header:
        placeholder = _HEADER_PLACEHOLDER.get(region.first_token, b"if 1:")
    if indent_end + len(placeholder) > first[1]:
        return False
    buffer[indent_end : first[1]] = b" " * (first[1] - indent_end)
    for start, content_end, _ in lines[region.first : region.last]:
        buffer[start:content_end] = b" " * (content_end - start)
    buffer[indent_end : indent_end + len(placeholder)] = placeholder
    return True


def _top_level_blocks(regions: list[_Region], lines: _Lines, source: bytes) -> list[_Region]:
    """The top-level statements (a compound one with its decorators and its ``else``/``except``
    clauses)."""
    starts: list[int] = []
    after_decorator = False
    for region in regions:
        at_top = _indent_end(source, lines[region.first - 1]) == lines[region.first - 1][0]
        if at_top and region.first_token not in _CONTINUATION_KEYWORDS and not after_decorator:
            starts.append(region.first)
        if at_top:
            after_decorator = region.first_token == "@"
    if not starts or starts[0] != 1:
        starts.insert(0, 1)
    ends = [s - 1 for s in starts[1:]] + [len(lines)]
    return [_Region(first, max(first, last)) for first, last in zip(starts, ends)]


def _region_to_blank(
    problem: SyntaxProblem,
    text: str,
    judge: Callable[[str], SyntaxProblem | None],
    regions: list[_Region],
    stopped: int,
    lines: _Lines,
    source: bytes,
    blanked: set[tuple[int, int]],
) -> _Region | None:
    blocks = _top_level_blocks(regions, lines, source)
    if not problem.located:
        # No line to go by: the first top-level statement Python cannot compile on its own.
        lines_of_text = text_lines(text)
        for block in blocks:
            if (block.first, block.last) in blanked:
                continue
            if judge("".join(lines_of_text[block.first - 1 : block.last])):
                return block
        return None
    line = min(max(problem.line, 1), len(lines))
    candidates = [r for r in regions if r.first <= line <= r.last]
    if not candidates and stopped and line >= stopped:
        # Past what the tokenizer could read: the line itself first (Python 3.12's tokenizer
        # stops at 200 nested brackets, but the next line may be fine), then the rest (an
        # unclosed bracket or string).
        candidates = [_Region(line, line), _Region(stopped, len(lines))]
    elif not candidates:
        candidates = [_Region(line, line)]
    # When blanking the statement was not enough, the whole top-level statement goes.
    candidates += [b for b in blocks if b.first <= line <= b.last]
    for region in candidates:
        if (region.first, region.last) not in blanked:
            return region
    return None


def blank_blocks(
    source: bytes, decoded: Decoded, readable: Callable[[str], bool]
) -> Blanked | None:
    """``source`` with each top-level statement that ``readable`` refuses on its own blanked
    out (for code Python accepts but libcst does not); None when every statement is readable
    alone."""
    lines = _byte_lines(source)
    regions, _ = _logical_regions(decoded.text)
    lines_of_text = text_lines(decoded.text)
    buffer = bytearray(source)
    blanked: list[int] = []
    for block in _top_level_blocks(regions, lines, source):
        if not readable("".join(lines_of_text[block.first - 1 : block.last])):
            if _blank(buffer, lines, block):
                blanked.append(block.first)
    return Blanked(bytes(buffer), tuple(blanked)) if blanked else None


@dataclass(frozen=True)
class Blanked:
    """A file's bytes with rejected statements blanked out, and the first line of each."""

    source: bytes
    lines: tuple[int, ...]


def blank_rejected(
    source: bytes, decoded: Decoded, path: str, first: SyntaxProblem
) -> Blanked | None:
    """``source`` with every statement that Python rejects (or that is too deep for libcst)
    replaced by a placeholder of the same length (``0``, or ``if 1:`` for a compound header),
    so that what remains compiles and every position still points into the user's file; None
    when that does not converge."""

    def judge(text: str) -> SyntaxProblem | None:
        return libcst_problem(text, path)

    lines = _byte_lines(source)
    if not lines:
        return None
    regions, stopped = _logical_regions(decoded.text)
    buffer = bytearray(source)
    blanked: set[tuple[int, int]] = set()
    problem: SyntaxProblem | None = first
    text = decoded.text
    if "Python 2 code?" in first.message:
        # A Python 2 file has print statements by the hundred: blank them all at once rather
        # than one compile each.
        for region in regions:
            if region.python2_statement and _blank(buffer, lines, region):
                blanked.add((region.first, region.last))
        if blanked:
            text = bytes(buffer).decode(decoded.encoding)
            problem = judge(text)
    for _ in range(MAX_REPAIRS):
        if problem is None:
            return Blanked(bytes(buffer), tuple(sorted({first for first, _ in blanked})))
        region = _region_to_blank(
            problem, text, judge, regions, stopped, lines, bytes(buffer), blanked
        )
        if region is None:
            return None
        blanked.add((region.first, region.last))
        if not _blank(buffer, lines, region):
            continue  # too short for its placeholder: the next round takes the enclosing block
        try:
            text = bytes(buffer).decode(decoded.encoding)
        except UnicodeDecodeError:  # pragma: no cover - blanking writes ASCII over whole lines
            return None
        problem = judge(text)
    return None
