"""Reading and rewriting the user's files without surprises: only regular files are read (a FIFO
or a device would block or never end), reads are bounded, and a fix is written in place (the
file keeps its inode, so its owner, permissions and hard links) only if nobody changed it
meanwhile."""

from __future__ import annotations

import os
import stat
import tempfile

# Larger files are not linted (NN004): libcst needs about 600 bytes of memory and 7 us per byte
# of source (a 5 MB file took 37 s and 3 GB). The largest .py file of timm, transformers, keras
# and torchvision is 448 KB. `max-file-size` in [tool.nnlint] changes it.
DEFAULT_MAX_FILE_SIZE = 1024 * 1024


class NotARegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder: it is skipped, not read."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(f"{path}: not a regular file ({kind})")
        self.kind = kind


class FileTooLarge(OSError):
    """The file is larger than the size limit (``size`` is at least the limit plus one)."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(f"{path}: {size} bytes, over the {limit}-byte limit")
        self.size = size
        self.limit = limit


def file_kind(mode: int) -> str:
    """A word for what a non-regular file is."""
    for test, word in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def read_regular_file(path: str, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Opened non-blocking and checked on the open descriptor, so a FIFO without a writer never
    blocks the run and there is no window between the check and the read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(path, file_kind(info.st_mode))
        if max_bytes is not None and info.st_size > max_bytes:
            raise FileTooLarge(path, info.st_size, max_bytes)
        limit = (max_bytes if max_bytes is not None else info.st_size) + 1
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, max(limit - size, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise FileTooLarge(path, size, max_bytes)  # it grew while being read
        return b"".join(chunks)
    finally:
        os.close(fd)


class FileChanged(Exception):
    """The file's content is no longer what was linted: a fix is not written over it."""


class ReadOnlyFile(Exception):
    """The file is not writable: nnlint does not change its permissions to fix it."""


def write_in_place(path: str, expected: bytes, content: bytes) -> str | None:
    """``write_fix_in_place``, answering None when the file was written, else why it was not
    (a sentence for a warning: the file changed meanwhile, is read-only, or cannot be written)."""
    try:
        write_fix_in_place(path, expected, content)
    except FileChanged:
        return "it changed while nnlint was linting it; run nnlint again"
    except ReadOnlyFile:
        return "it is read-only"
    except OSError as exc:
        return f"cannot write it: {exc.strerror or exc}"
    return None


def write_fix_in_place(path: str, expected: bytes, content: bytes) -> None:
    """Replace the content of ``path`` (which must still be ``expected``) with ``content``.

    The new content is first written to a temporary file next to it and read back, so that a
    full disk fails before the file is touched. Then the file itself is rewritten through a
    descriptor on which its content is checked once more: its inode, owner, permissions and
    hard links are kept, and a concurrent edit is never overwritten (``FileChanged``). A
    read-only file is refused (``ReadOnlyFile``). If the rewrite fails half way, the original
    content is written back.
    """
    target = os.path.realpath(path)
    # The mode bits too: root may write anywhere, but a 0444 file says "do not change me".
    if not os.access(target, os.W_OK) or not os.stat(target).st_mode & stat.S_IWUSR:
        raise ReadOnlyFile(path)
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w+b") as copy:
            copy.write(content)
            copy.flush()
            os.fsync(copy.fileno())
            copy.seek(0)
            if copy.read() != content:
                raise OSError(f"{tmp}: the temporary copy does not read back as written")
        try:
            handle = open(target, "r+b")  # noqa: SIM115 - closed below, after the checks
        except PermissionError:
            raise ReadOnlyFile(path) from None
        with handle:
            if handle.read() != expected:
                raise FileChanged(path)
            try:
                _overwrite(handle, content)
            except OSError:
                _overwrite(handle, expected)
                raise
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _overwrite(handle, content: bytes) -> None:  # type: ignore[no-untyped-def]
    handle.seek(0)
    handle.write(content)
    handle.truncate(len(content))
    handle.flush()
    os.fsync(handle.fileno())
