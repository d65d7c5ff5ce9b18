"""File discovery: which files a directory walk yields, in which order, and what it skips."""

from __future__ import annotations

import os
import re

import pytest

from nnlint.discovery import (
    DEFAULT_INCLUDE,
    DiscoveryRules,
    GlobError,
    PathMatcher,
    compile_globs,
    iter_python_files,
)


def _touch(path, text: str = "import torch\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _found(
    root,
    patterns=(),
    *,
    paths=None,
    force_exclude=False,
    include=DEFAULT_INCLUDE,
    respect_gitignore=True,
    loops=None,
) -> list[str]:
    rules = DiscoveryRules(
        exclude=PathMatcher(root=str(root), patterns=tuple(patterns)),
        include=PathMatcher(root=str(root), patterns=tuple(include)),
    )
    found = iter_python_files(
        [str(p) for p in (paths or [root])],
        lambda _p: rules,
        force_exclude=force_exclude,
        respect_gitignore=respect_gitignore,
        on_symlink_loop=loops.append if loops is not None else None,
    )
    return [os.path.relpath(f.path, root).replace(os.sep, "/") for f in found]


def test_walk_collects_py_files_and_notebooks_in_sorted_depth_first_order(tmp_path):
    for name in ["b.py", "a.py", "pkg/z.py", "pkg/sub/m.py", "notes.txt", "stub.pyi", "nb.ipynb"]:
        _touch(tmp_path / name)
    assert _found(tmp_path) == ["a.py", "b.py", "nb.ipynb", "pkg/z.py", "pkg/sub/m.py"]


def test_include_replaces_the_default_file_globs(tmp_path):
    for name in ["a.py", "nb.ipynb", "scripts/run.pyw"]:
        _touch(tmp_path / name)
    assert _found(tmp_path, include=["*.py"]) == ["a.py"]
    assert _found(tmp_path, include=[*DEFAULT_INCLUDE, "scripts/*.pyw"]) == [
        "a.py",
        "nb.ipynb",
        "scripts/run.pyw",
    ]


def test_notebooks_are_excluded_like_any_file(tmp_path):
    for name in ["a.py", "nb.ipynb", "tutorials/intro.ipynb"]:
        _touch(tmp_path / name)
    assert _found(tmp_path, ["*.ipynb"]) == ["a.py"]
    assert _found(tmp_path, ["tutorials"]) == ["a.py", "nb.ipynb"]


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


# ---- .gitignore and .ignore ------------------------------------------------------------------


def _git_repo(root) -> None:
    (root / ".git" / "info").mkdir(parents=True)


def test_gitignore_is_respected_by_default_and_can_be_turned_off(tmp_path):
    _git_repo(tmp_path)
    for name in ["train.py", "generated/model_pb.py", "scratch.py", "src/out/x.py", "src/m.py"]:
        _touch(tmp_path / name)
    (tmp_path / ".gitignore").write_text("# generated code\ngenerated/\nscratch.py\n")
    (tmp_path / "src" / ".gitignore").write_text("out\n")
    assert _found(tmp_path) == ["train.py", "src/m.py"]
    assert _found(tmp_path, respect_gitignore=False) == [
        "scratch.py",
        "train.py",
        "generated/model_pb.py",
        "src/m.py",
        "src/out/x.py",
    ]


def test_negation_and_ignore_file_precedence(tmp_path):
    _git_repo(tmp_path)
    for name in ["a.py", "b.py", "keep.py", "sub/c.py"]:
        _touch(tmp_path / name)
    (tmp_path / ".gitignore").write_text("*.py\n!keep.py\n")
    # `.ignore` (ripgrep's, ruff's) overrides .gitignore in the same folder.
    (tmp_path / ".ignore").write_text("!a.py\n")
    # A deeper file overrides a shallower one.
    (tmp_path / "sub" / ".gitignore").write_text("!c.py\n")
    assert _found(tmp_path) == ["a.py", "keep.py", "sub/c.py"]


def test_git_info_exclude_and_parent_gitignore_apply_when_linting_a_sub_folder(tmp_path):
    _git_repo(tmp_path)
    (tmp_path / ".git" / "info" / "exclude").write_text("local_*.py\n")
    (tmp_path / ".gitignore").write_text("src/gen/\n")
    for name in ["src/a.py", "src/local_try.py", "src/gen/g.py"]:
        _touch(tmp_path / name)
    assert _found(tmp_path, paths=[tmp_path / "src"]) == ["src/a.py"]


def test_gitignore_above_a_folder_outside_any_repository_does_not_apply(tmp_path):
    (tmp_path / ".gitignore").write_text("*.py\n")
    _touch(tmp_path / "project" / "train.py")
    assert _found(tmp_path, paths=[tmp_path / "project"]) == ["project/train.py"]


def test_gitignored_explicit_file_is_linted_unless_excludes_are_forced(tmp_path):
    _git_repo(tmp_path)
    (tmp_path / ".gitignore").write_text("scratch/\n")
    _touch(tmp_path / "scratch" / "try.py")
    explicit = [tmp_path / "scratch" / "try.py"]
    assert _found(tmp_path, paths=explicit) == ["scratch/try.py"]
    assert _found(tmp_path, paths=explicit, force_exclude=True) == []


# ---- symlinks and globs -----------------------------------------------------------------------


def test_symlink_loop_in_a_walk_is_reported_and_skipped(tmp_path):
    _touch(tmp_path / "a.py")
    (tmp_path / "loop_a.py").symlink_to(tmp_path / "loop_b.py")
    (tmp_path / "loop_b.py").symlink_to(tmp_path / "loop_a.py")
    loops: list[str] = []
    assert _found(tmp_path, loops=loops) == ["a.py"]
    assert sorted(os.path.basename(p) for p in loops) == ["loop_a.py", "loop_b.py"]


@pytest.mark.parametrize(
    ("glob", "reason"),
    [
        ("[z-a].py", "bad character range"),
        ("[!]", "never match"),
        ("[abc", "never match"),
        ("foo\\", "Invalid git pattern"),
        ("# comment", "comment"),
        ("  ", "empty"),
    ],
)
def test_bad_globs_are_rejected_with_the_reason(glob, reason):
    with pytest.raises(GlobError, match=re.escape(reason)):
        compile_globs([glob])


def test_bracket_holding_a_closing_bracket_is_a_valid_glob(tmp_path):
    # `[]]` is gitignore syntax for the name "]" (git and pathspec agree).
    matcher = PathMatcher(root=str(tmp_path), patterns=("[]]",))
    assert matcher.matches(str(tmp_path / "]"), is_dir=False)
    assert not matcher.matches(str(tmp_path / "a.py"), is_dir=False)
