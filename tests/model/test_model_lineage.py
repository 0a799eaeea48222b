"""Lineage hashes: stable, sensitive to content, blind to caches."""

from __future__ import annotations

from pathlib import Path

from ctloop import lineage


def test_tree_hash_tracks_content_and_paths(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "b.py").write_text("y = 2\n")
    first = lineage.code_snapshot_hash(tmp_path / "pkg")
    assert first == lineage.code_snapshot_hash(tmp_path / "pkg")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "pkg" / "notes.txt").write_text("not code")
    assert lineage.code_snapshot_hash(tmp_path / "pkg") == first
    (tmp_path / "pkg" / "a.py").write_text("x = 3\n")
    assert lineage.code_snapshot_hash(tmp_path / "pkg") != first
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "b.py").rename(tmp_path / "pkg" / "b.py")  # same bytes, other path
    assert lineage.code_snapshot_hash(tmp_path / "pkg") != first


def test_model_hash_covers_every_file(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    before = lineage.model_hash(tmp_path)
    (tmp_path / "notes.txt").write_text("changed")
    assert lineage.model_hash(tmp_path) != before


def test_code_snapshot_of_the_installed_package() -> None:
    digest = lineage.code_snapshot_hash()
    assert len(digest) == 64 and int(digest, 16) >= 0
