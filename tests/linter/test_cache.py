"""The content-hash result cache: hits, misses, invalidation, damaged entries, concurrency."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

import nnlint
from nnlint.cache import (
    CACHE_LAYOUT,
    ResultCache,
    code_fingerprint,
    decode_findings,
    default_cache_dir,
)
from nnlint.findings import Finding

SOURCE = b"import torch.nn as nn\nlayer = nn.Dropout(1.0)\n"
FINDING = Finding("a.py", 2, 9, "NN401", "Dropout rate 1.0", 2, 24, True, "Use a rate in (0, 1)")


@pytest.fixture
def cache(tmp_path) -> ResultCache:
    return ResultCache(str(tmp_path / ".nnlint_cache"))


def test_stored_findings_come_back_anchored_at_the_new_path(cache):
    key = cache.key(SOURCE, "settings-a")
    cache.put(key, [FINDING])
    [hit] = cache.get(key, "moved/elsewhere.py")
    assert hit.path == "moved/elsewhere.py"
    assert (hit.line, hit.column, hit.end_line, hit.end_column) == (2, 9, 2, 24)
    assert (hit.code, hit.message, hit.fixable, hit.fix_title) == (
        "NN401",
        "Dropout rate 1.0",
        True,
        "Use a rate in (0, 1)",
    )
    assert (cache.hits, cache.misses) == (1, 0)


def test_empty_result_is_a_hit_not_a_miss(cache):
    key = cache.key(b"x = 1\n", "s")
    cache.put(key, [])
    assert cache.get(key, "x.py") == []


def test_unknown_key_is_a_miss(cache):
    assert cache.get(cache.key(SOURCE, "s"), "a.py") is None
    assert cache.misses == 1


def test_key_changes_with_content_settings_and_code_version(cache, monkeypatch):
    base = cache.key(SOURCE, "settings-a")
    assert cache.key(SOURCE + b"\n", "settings-a") != base
    assert cache.key(SOURCE, "settings-b") != base
    assert cache.key(SOURCE, "settings-a", "/project/other.py") != base
    monkeypatch.setattr(nnlint, "__version__", "99.0.0")
    code_fingerprint.cache_clear()
    try:
        assert cache.key(SOURCE, "settings-a") != base
    finally:
        monkeypatch.undo()
        code_fingerprint.cache_clear()
    assert cache.key(SOURCE, "settings-a") == base


def test_code_fingerprint_changes_when_a_source_file_of_nnlint_changes(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "rule.py").write_text("A = 1\n")
    monkeypatch.setattr(nnlint, "__file__", str(package / "__init__.py"))
    code_fingerprint.cache_clear()
    try:
        before = code_fingerprint()
        (package / "rule.py").write_text("A = 22\n")
        code_fingerprint.cache_clear()
        assert code_fingerprint() != before
    finally:
        monkeypatch.undo()
        code_fingerprint.cache_clear()


@pytest.mark.parametrize(
    "damage",
    [b"", b'[[2, 9, "NN401"', b"\x00\xff garbage", b'{"not": "a list"}', b"[[1,1,1,1,1,1,1,1]]"],
    ids=["empty", "truncated", "binary", "wrong-shape", "wrong-types"],
)
def test_damaged_entry_is_a_miss_not_a_crash(cache, damage):
    key = cache.key(SOURCE, "s")
    cache.put(key, [FINDING])
    entry = os.path.join(cache.directory, CACHE_LAYOUT, key[:2], key[2:])
    with open(entry, "wb") as fh:
        fh.write(damage)
    assert cache.get(key, "a.py") is None


def test_cache_folder_is_tagged_and_git_ignored(cache):
    cache.put(cache.key(SOURCE, "s"), [])
    with open(os.path.join(cache.directory, ".gitignore")) as fh:
        assert fh.read().splitlines()[-1] == "*"
    with open(os.path.join(cache.directory, "CACHEDIR.TAG")) as fh:
        assert fh.read().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_nothing_is_written_until_an_entry_is_stored(cache):
    cache.get(cache.key(SOURCE, "s"), "a.py")
    assert not os.path.exists(cache.directory)


def test_unwritable_cache_folder_only_costs_speed(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should go")
    cache = ResultCache(str(blocker / "cache"))
    key = cache.key(SOURCE, "s")
    cache.put(key, [FINDING])
    assert cache.get(key, "a.py") is None


def test_concurrent_writers_of_one_key_leave_a_whole_entry(tmp_path):
    caches = [ResultCache(str(tmp_path / "c")) for _ in range(8)]
    key = caches[0].key(SOURCE, "s")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: [c.put(key, [FINDING]) for _ in range(20)], caches))
    assert caches[0].get(key, "a.py")[0].code == "NN401"
    shard = tmp_path / "c" / CACHE_LAYOUT / key[:2]
    assert [p.name for p in shard.iterdir()] == [key[2:]]  # no temp files left behind


def test_default_location_is_the_project_root_unless_the_env_var_says_otherwise(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("NNLINT_CACHE_DIR", raising=False)
    assert default_cache_dir(str(tmp_path)) == str(tmp_path / ".nnlint_cache")
    monkeypatch.setenv("NNLINT_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir(str(tmp_path)) == str(tmp_path / "elsewhere")


def test_decode_rejects_rows_of_the_wrong_length():
    assert decode_findings(b"[[1, 2, 3]]", "a.py") is None
