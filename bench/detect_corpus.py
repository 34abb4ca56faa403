"""Measure introduction detection on the labelled corpus (../shared/corpus by default).

    python bench/detect_corpus.py [--corpus DIR] [--verbose]

Each message is parsed and classified with its From address as the owner (the user who BCC'd
refmail). Prints counts, precision, recall, F1 and the exact-parties rate over true positives,
strictly and without the labels whose notes start with "AMBIGUOUS:".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from refmail.detect import Classification, Identity, classify
from refmail.parse import parse_message

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
REFMAIL_ADDRESS = "refmail@example.com"


@dataclass(frozen=True)
class Outcome:
    """One labelled message and what the classifier made of it."""

    file: str
    label: bool
    ambiguous: bool
    labelled_parties: frozenset[str]
    addressable_parties: frozenset[str]  # labelled parties whose address the message contains
    verdict: Classification

    @property
    def predicted(self) -> bool:
        return self.verdict.kind == "introduction"

    @property
    def parties(self) -> frozenset[str]:
        return frozenset(p.address.email for p in self.verdict.parties)


@dataclass
class Score:
    """Confusion counts and party agreement for a set of outcomes."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    exact: int = 0
    exact_addressable: int = 0
    misses: list[Outcome] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def run(corpus: Path) -> tuple[list[Outcome], float]:
    """Classify every labelled file; returns the outcomes and the seconds spent per message."""
    labels_path = corpus / "labels.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"no labels.json in {corpus}: is the corpus there?")
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    for entry in labels:
        raw = (corpus / entry["file"]).read_bytes()
        outcomes.append(_outcome(entry, raw))
    elapsed = time.perf_counter() - started
    return outcomes, elapsed / max(1, len(outcomes))


def _outcome(entry: dict[str, object], raw: bytes) -> Outcome:
    msg = parse_message(raw)
    owner = msg.sender.email if msg.sender else ""
    identity = Identity(owners=frozenset({owner}), refmail=frozenset({REFMAIL_ADDRESS}))
    parties = frozenset(str(p).lower() for p in entry.get("parties") or [])  # type: ignore[union-attr]
    lowered = raw.lower()
    return Outcome(
        file=str(entry["file"]),
        label=bool(entry["is_intro"]),
        ambiguous=str(entry.get("notes", "")).startswith("AMBIGUOUS:"),
        labelled_parties=parties,
        addressable_parties=frozenset(p for p in parties if p.encode() in lowered),
        verdict=classify(msg, identity),
    )


def score(outcomes: Iterable[Outcome]) -> Score:
    """Confusion counts; party agreement is counted over true positives only."""
    s = Score()
    for o in outcomes:
        if o.label and o.predicted:
            s.tp += 1
            s.exact += o.parties == o.labelled_parties
            s.exact_addressable += o.parties == o.addressable_parties
            if o.parties != o.addressable_parties:
                s.misses.append(o)
        elif o.predicted:
            s.fp += 1
            s.misses.append(o)
        elif o.label:
            s.fn += 1
            s.misses.append(o)
        else:
            s.tn += 1
    return s


def _report(title: str, s: Score) -> None:
    print(f"{title}")
    print(f"  TP={s.tp} FP={s.fp} FN={s.fn} TN={s.tn}")
    print(f"  precision={s.precision:.3f} recall={s.recall:.3f} F1={s.f1:.3f}")
    print(
        f"  exact parties {s.exact}/{s.tp}; addressable exact parties {s.exact_addressable}/{s.tp}"
    )


def _explain(o: Outcome) -> None:
    if o.predicted and not o.label:
        tag = "FP"
    elif o.label and not o.predicted:
        tag = "FN"
    else:
        tag = "PARTIES"
    amb = " (ambiguous)" if o.ambiguous else ""
    print(f"{tag}{amb} {o.file}")
    print(f"    verdict {o.verdict.kind} by {o.verdict.rule}: {o.verdict.reason}")
    for hit in o.verdict.hits:
        print(f"    hit {hit.rule}: {hit.reason}")
    if tag == "PARTIES":
        print(f"    predicted {sorted(o.parties)}")
        print(f"    labelled  {sorted(o.addressable_parties)} (addressable)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus directory")
    parser.add_argument("--verbose", action="store_true", help="explain every FP, FN, party miss")
    args = parser.parse_args(argv)
    try:
        outcomes, per_message = run(args.corpus)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    strict = score(outcomes)
    clear = score(o for o in outcomes if not o.ambiguous)
    print(f"corpus {args.corpus} - {len(outcomes)} labelled messages")
    _report("strict (all labels)", strict)
    _report("excluding AMBIGUOUS labels", clear)
    print(f"time per message: {per_message * 1000:.2f} ms (parse + classify)")
    if args.verbose:
        for o in strict.misses:
            _explain(o)
    return 0


if __name__ == "__main__":
    sys.exit(main())
