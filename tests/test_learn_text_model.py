"""The text-model bench (bench/learn_text_model.py): tokens of the author's text, folds that keep a
thread together, cross-validated figures for the detector with and without the learned feature,
and a model written from dev data only (the test split is never opened)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.learn_text_model import Sample, folds, main, tokens
from refmail.parse import Address

INTRO = """From: Olga Marsh <olga@example.org>
To: {a} <{a_l}@example.net>, {b} <{b_l}@example.com>
Subject: {subject}
Message-ID: <{mid}@example.org>

Hi {a} and {b},

{a}, meet {b}: she runs a zephyr workshop and needs help with her books. {b}, {a} keeps
accounts for small firms. I'll let you two take it from here.

Olga
"""

OTHER = """From: Olga Marsh <olga@example.org>
To: {a} <{a_l}@example.net>
Subject: {subject}
Message-ID: <{mid}@example.org>

Hi {a},

Could you send the quokka figures by Friday? The board meets on Monday.

Thanks,
Olga
"""

NAMES = [("Ann", "Bea"), ("Carl", "Dora"), ("Emil", "Fay"), ("Gus", "Hana"), ("Ivo", "Jill")]
NAMES += [("Kai", "Lena"), ("Max", "Nora"), ("Otto", "Pia")]


def _labelled(root: Path) -> Path:
    """A tiny labelled set: 8 introductions and 8 look-alikes (dev), one unreadable test entry."""
    entries = []
    for i, (a, b) in enumerate(NAMES):
        for kind, template, is_intro in (("intro", INTRO, True), ("nonintro", OTHER, False)):
            name = f"{kind}/{a.lower()}.eml"  # no shared family: one group each
            subject = f"{a} + {b}" if is_intro else f"figures {i}"
            text = template.format(
                a=a, b=b, a_l=a.lower(), b_l=b.lower(), subject=subject, mid=f"{kind}{i}"
            )
            (root / kind).mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
            entries.append({"file": name, "is_intro": is_intro, "split": "dev"})
    # A test entry whose file is not even there: the bench must never open it.
    entries.append({"file": "intro/held-out.eml", "is_intro": True, "split": "test"})
    (root / "labels.json").write_text(json.dumps(entries), encoding="utf-8")
    return root


def test_tokens_are_words_pairs_and_structure() -> None:
    found = tokens(
        "Dora, meet Carl. He sells 12 ovens; write to carl@x.org",
        [Address("carl@x.org", "Carl Diaz"), Address("dora@y.org", ""), Address("z@y.org", "Zed")],
    )
    assert {"dora", "meet carl", "#num ovens", "#address_in_text"} <= found
    assert "#names_recipients:2" in found  # Carl by display name, Dora by local part, not Zed
    assert "#words:<30" in found
    assert tokens("", []) == {"#names_recipients:0", "#words:<30"}


def test_tokens_read_only_the_start_of_a_huge_text() -> None:
    found = tokens("intro " * 100_000 + "tail", [])
    assert "tail" not in found and "intro intro" in found


def _sample(name: str, subject: str) -> Sample:
    return Sample(name, False, frozenset(), 0.0, False, f"set|{name}|{subject}")


def test_folds_keep_a_thread_and_a_file_family_together() -> None:
    data = [_sample(f"a{i}", f"subject {i}") for i in range(10)]
    data += [_sample("b1", "budget"), _sample("b2", "budget")]  # one thread
    data += [_sample("c", "x1"), _sample("c", "x2")]  # one file family
    fold = folds(data, 3)
    assert fold[10] == fold[11] and fold[12] == fold[13]
    assert len(set(fold)) == 3


def test_learns_from_dev_and_reports_folds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _labelled(tmp_path / "corpus")
    out = tmp_path / "model.json"
    args = ["--corpus", str(corpus), "--folds", "2", "--top", "500", "--l2", "0.1"]
    assert main([*args, "--write", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("  detector ") == 3  # fold 0, fold 1, pooled
    assert "pooled (16 msgs, 8 intros)" in printed
    assert "+ text_model s=1 +2/-0" in printed and "(chosen)" in printed
    model = json.loads(out.read_text(encoding="utf-8"))
    assert model["fitted_on"] == 16 and 0 < len(model["weights"]) <= 500
    # a word of every introduction weighs for, one of every look-alike against
    assert model["weights"]["zephyr"] > 0 > model["weights"]["quokka"]


def test_baseline_at_head_agrees_with_the_detector_as_it_stands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = _labelled(tmp_path / "corpus")
    assert main(["--corpus", str(corpus), "--folds", "2", "--baseline", "HEAD"]) == 0
    now, then = capsys.readouterr().out.split("detector at HEAD:")
    pooled = [line for line in now.splitlines() if line.startswith("  detector ")][-1]
    assert pooled in then
