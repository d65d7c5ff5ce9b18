"""File discovery: which files a directory walk yields, in which order, and what it skips."""

from __future__ import annotations

import os

import pytest

from nnlint.discovery import PathMatcher, iter_python_files


def _touch(path, text: str = "import torch\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _found(root, patterns=(), *, paths=None, force_exclude=False) -> list[str]:
    matcher = PathMatcher(root=str(root), patterns=tuple(patterns))
    found = iter_python_files(
        [str(p) for p in (paths or [root])], lambda _p: matcher, force_exclude=force_exclude
    )
    return [os.path.relpath(f.path, root).replace(os.sep, "/") for f in found]


def test_walk_collects_py_files_in_sorted_depth_first_order(tmp_path):
    for name in ["b.py", "a.py", "pkg/z.py", "pkg/sub/m.py", "notes.txt", "stub.pyi"]:
        _touch(tmp_path / name)
    assert _found(tmp_path) == ["a.py", "b.py", "pkg/z.py", "pkg/sub/m.py"]


@pytest.mark.parametrize(
    "skipped",
    [
        ".git",
        ".hg",
        "__pycache__",
        ".venv",
        "venv",
        "build",
        "dist",
        "node_modules",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".nnlint_cache",
        "site-packages",
        "mypkg.egg-info",
    ],
)
def test_walk_skips_tool_and_environment_folders(tmp_path, skipped):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / skipped / "inside.py")
    assert _found(tmp_path) == ["train.py"]


def test_walk_skips_a_virtualenv_whatever_its_name(tmp_path):
    _touch(tmp_path / "train.py")
    _touch(tmp_path / "py311env" / "lib" / "torch_stub.py")
    (tmp_path / "py311env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert _found(tmp_path) == ["train.py"]


def test_exclude_glob_without_slash_matches_names_anywhere(tmp_path):
    for name in ["train.py", "gen/model_pb2.py", "legacy/old.py", "deep/legacy/older.py"]:
        _touch(tmp_path / name)
    assert _found(tmp_path, ["*_pb2.py", "legacy"]) == ["train.py"]


def test_exclude_glob_with_slash_is_anchored_at_the_config_root(tmp_path):
    for name in ["scripts/a.py", "src/scripts/b.py", "src/models/c.py"]:
        _touch(tmp_path / name)
    assert _found(tmp_path, ["scripts/*.py"]) == ["src/models/c.py", "src/scripts/b.py"]
    assert _found(tmp_path, ["src/**"]) == ["scripts/a.py"]
    assert _found(tmp_path, ["**/models/*.py"]) == ["scripts/a.py", "src/scripts/b.py"]


def test_explicit_file_is_linted_even_if_excluded_unless_forced(tmp_path):
    _touch(tmp_path / "legacy" / "old.py")
    explicit = [tmp_path / "legacy" / "old.py"]
    assert _found(tmp_path, ["legacy"], paths=explicit) == ["legacy/old.py"]
    assert _found(tmp_path, ["legacy"], paths=explicit, force_exclude=True) == []


def test_force_exclude_also_applies_builtin_folders_to_explicit_files(tmp_path):
    _touch(tmp_path / "build" / "lib" / "gen.py")
    explicit = [tmp_path / "build" / "lib" / "gen.py"]
    assert _found(tmp_path, paths=explicit, force_exclude=True) == []
    assert _found(tmp_path, paths=explicit) == ["build/lib/gen.py"]


def test_explicit_stub_or_odd_suffix_is_linted(tmp_path):
    _touch(tmp_path / "types.pyi")
    assert _found(tmp_path, paths=[tmp_path / "types.pyi"]) == ["types.pyi"]


def test_same_file_named_twice_is_yielded_once(tmp_path):
    _touch(tmp_path / "a.py")
    assert _found(tmp_path, paths=[tmp_path / "a.py", tmp_path, tmp_path / "a.py"]) == ["a.py"]


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        _found(tmp_path, paths=[tmp_path / "nope.py"])


def test_directory_symlinks_are_not_followed(tmp_path):
    _touch(tmp_path / "real" / "a.py")
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert _found(tmp_path) == ["real/a.py"]


def test_path_matcher_matches_parent_folders_for_explicit_files(tmp_path):
    matcher = PathMatcher(root=str(tmp_path), patterns=("third_party",))
    assert matcher.matches_self_or_parent(str(tmp_path / "third_party" / "x" / "y.py"))
    assert not matcher.matches_self_or_parent(str(tmp_path / "src" / "y.py"))


def test_glob_character_classes_and_question_mark(tmp_path):
    matcher = PathMatcher(root=str(tmp_path), patterns=("model_v[0-9].py", "t?.py"))
    assert matcher.matches(str(tmp_path / "model_v2.py"))
    assert not matcher.matches(str(tmp_path / "model_vx.py"))
    assert matcher.matches(str(tmp_path / "t1.py"))
    assert not matcher.matches(str(tmp_path / "t12.py"))


def test_force_exclude_ignores_builtin_names_above_the_project_root(tmp_path):
    project = tmp_path / "build" / "project"
    _touch(project / "train.py")
    assert _found(project, paths=[project / "train.py"], force_exclude=True) == ["train.py"]
