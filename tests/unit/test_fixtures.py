"""The repository's copy of the shared MIME corpus is the corpus, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mime"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "mime"


def test_the_copy_has_every_message():
    assert len(list(FIXTURES.glob("*.eml"))) >= 9


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared corpus is not next to this clone (the copy is used alone)")
def test_the_copy_matches_the_shared_corpus():
    shared = {path.name: path.read_bytes() for path in SHARED.glob("*.eml")}
    copied = {path.name: path.read_bytes() for path in FIXTURES.glob("*.eml")}
    assert copied == shared
