"""Fetch real-code corpora (the ``.py`` files of pinned wheels) for the nnlint benchmarks.

Only the package registry is contacted (``pip download --no-deps``); results are cached outside git.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

# The corpora named in issue 2, pinned so that numbers from different days are comparable.
KNOWN_CORPORA: dict[str, str] = {
    "timm": "timm==1.0.31",
    "transformers": "transformers==5.23.0",
    "torchvision": "torchvision==0.28.0",
    "keras": "keras==3.15.1",
}

# Written last, so a half-extracted corpus (interrupted run) is never mistaken for a complete one.
COMPLETE_MARKER = ".nnlint-corpus-complete"


class CorpusError(RuntimeError):
    """A corpus could not be obtained; the message says what to do about it."""


def default_cache_root() -> Path:
    """Where wheels and unpacked corpora live: outside the repository, so no linter config or
    ``.gitignore`` of this project applies to the corpus files."""
    override = os.environ.get("NNLINT_BENCH_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "nnlint-bench"


def parse_requirement(spec: str) -> tuple[str, str]:
    """Split ``name==version`` (the only form accepted: corpora must be pinned)."""
    name, sep, version = spec.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise CorpusError(
            f"corpus spec {spec!r} is not pinned: use NAME==VERSION (e.g. timm==1.0.31), "
            f"one of {', '.join(KNOWN_CORPORA)}, or an existing directory"
        )
    return name.strip(), version.strip()


def pip_download(requirement: str, dest: Path) -> Path:
    """Download the wheel of ``requirement`` (no dependencies) into ``dest``; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
        requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CorpusError(
            f"`pip download --no-deps {requirement}` failed (exit {proc.returncode}); "
            f"is the package registry reachable?\n{proc.stderr.strip()}"
        )
    return find_wheel(dest, requirement, before)


def find_wheel(directory: Path, requirement: str, exclude: set[Path] | None = None) -> Path:
    """The wheel for ``requirement`` in ``directory`` (names are normalised as wheels do)."""
    name, version = parse_requirement(requirement)
    prefix = f"{name.replace('-', '_').lower()}-{version}-"
    candidates = sorted(p for p in directory.glob("*.whl") if p.name.lower().startswith(prefix))
    if not candidates and exclude is not None:
        # pip may spell the distribution differently (e.g. "TorchFix"): take what it just added.
        candidates = sorted(set(directory.glob("*.whl")) - exclude)
    if not candidates:
        raise CorpusError(f"no wheel for {requirement} in {directory}")
    return candidates[0]


def extract_python_files(wheel: Path, dest: Path) -> int:
    """Unpack only the ``.py`` members of ``wheel`` into ``dest`` atomically; return their count.

    The files land in a temporary sibling first and are renamed into place, so concurrent or
    interrupted runs never see a partial corpus.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    count = 0
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.is_dir() or not member.filename.endswith(".py"):
                    continue
                target = (staging / member.filename).resolve()
                # A wheel is untrusted input: refuse members that would escape the corpus folder.
                if staging.resolve() not in target.parents:
                    raise CorpusError(
                        f"{wheel.name}: member {member.filename!r} escapes the corpus"
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
                count += 1
        (staging / COMPLETE_MARKER).write_text(f"{wheel.name}\n{count}\n")
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except zipfile.BadZipFile as exc:
        raise CorpusError(f"{wheel} is not a valid wheel ({exc}); delete it and retry") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return count


def ensure_corpus(
    spec: str,
    cache_root: Path | None = None,
    download: Callable[[str, Path], Path] = pip_download,
) -> Path:
    """Return a directory of ``.py`` files for ``spec``, fetching it only when not cached.

    ``spec`` is a known corpus name (``timm``, ``transformers``), a pinned ``NAME==VERSION``, or
    an existing directory (used as is).
    """
    as_path = Path(spec).expanduser()
    if as_path.is_dir():
        return as_path.resolve()
    requirement = KNOWN_CORPORA.get(spec, spec)
    if "==" not in requirement and (os.sep in spec or spec.startswith(".")):
        raise CorpusError(f"corpus directory {spec!r} does not exist")
    name, version = parse_requirement(requirement)
    root = cache_root or default_cache_root()
    dest = root / "corpora" / f"{name}-{version}"
    if (dest / COMPLETE_MARKER).is_file():
        return dest
    wheels = root / "wheels"
    try:
        wheel = find_wheel(wheels, requirement)
    except CorpusError:
        wheel = download(requirement, wheels)
    extract_python_files(wheel, dest)
    return dest


def python_files(root: Path) -> list[Path]:
    """Every ``.py`` file under ``root``, sorted, so runs see the same files in the same order."""
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def corpus_stats(root: Path) -> tuple[int, int]:
    """(file count, line count) of the ``.py`` files under ``root``."""
    files = python_files(root)
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    return len(files), lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "corpora",
        nargs="*",
        default=["timm", "transformers"],
        help="known names (%(default)s, torchvision), NAME==VERSION, or directories",
    )
    parser.add_argument(
        "--cache-root", type=Path, default=None, help=f"default: {default_cache_root()}"
    )
    args = parser.parse_args(argv)
    try:
        for spec in args.corpora:
            path = ensure_corpus(spec, args.cache_root)
            files, lines = corpus_stats(path)
            print(f"{spec}: {path} ({files} files, {lines} lines)")
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
