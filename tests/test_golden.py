"""Golden files: the follow-ups of real introductions (the corpus's dev split), rendered as the
dispatcher builds them and read by eye once, then locked (the cases: tests/support/golden.py).

A change to the templates, Draft or detection that changes a draft fails here; read the diff,
and if the new text reads better, regenerate and review it:
`REFMAIL_REGOLDEN=1 PYTHONPATH=$PWD python3 -m pytest tests/test_golden.py`, then read
`git diff tests/golden` before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.golden import GOLDEN, golden_texts


def test_rendered_drafts_match_the_golden_files(corpus: Path) -> None:
    rendered = dict(golden_texts(corpus))
    assert len(rendered) >= 40  # two views of each of 24 introductions, and the merged one
    if os.environ.get("REFMAIL_REGOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for old in GOLDEN.glob("*.txt"):
            old.unlink()
        for name, text in rendered.items():
            (GOLDEN / name).write_text(text)
    stored = {p.name: p.read_text() for p in GOLDEN.glob("*.txt")}
    assert sorted(stored) == sorted(rendered)
    for name, text in rendered.items():
        assert text == stored[name], f"{name} changed (REFMAIL_REGOLDEN=1 to accept)"


def test_no_draft_has_a_blank_where_a_name_should_be(corpus: Path) -> None:
    for name, text in golden_texts(corpus):
        for blank in (" to .", " to ,", "introduced you to .", "<>  ", "Hi ,", " and .", "  "):
            assert blank not in text.replace("\n\n", "\n"), (name, blank)
