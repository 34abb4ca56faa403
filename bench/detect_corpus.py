"""Measure introduction detection on the labelled corpus (../shared/corpus by default).

    python3 -m bench.detect_corpus [--corpus DIR] [--splits dev,test] [--verbose]

(run as a module from the checkout's root: as a file, `bench/` comes first on the path and
`refmail` is whatever is installed, e.g. another worktree's; the script then says so)

Each message is parsed and classified with its From address as the owner (the user who BCC'd
refmail). Prints precision, recall and the exact-parties rate (over true positives) for the
corpus's `dev` and `test` splits separately, beside the old detector's figures on the same files
(the old detector is read from git history at bench time, so no old code stays in the tree), and
the milliseconds per message spent classifying. `--verbose` explains the misses of the `dev`
split only: the `test` split is for measurement, never for reading file by file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import refmail
from refmail.detect import Classification, Identity, classify
from refmail.parse import parse_message

# ../shared/corpus beside the checkout (a worktree sits one level deeper than the main one).
DEFAULT_CORPUS = next(
    (
        p / "shared" / "corpus"
        for p in Path(__file__).resolve().parents[1].parents
        if (p / "shared" / "corpus" / "labels.json").is_file()
    ),
    Path(__file__).resolve().parents[1].parent / "shared" / "corpus",
)
REFMAIL_ADDRESS = "refmail@example.com"
OLD_DETECTOR_COMMIT = "231567b"  # the phrase-table detector that issue 10 replaced
SPLITS = ("dev", "test")
Classify = Callable[..., Classification]


@dataclass(frozen=True)
class Outcome:
    """One labelled message and what the classifier made of it."""

    file: str
    split: str
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


def labels(corpus: Path, splits: Iterable[str] = SPLITS) -> list[dict[str, object]]:
    """The labelled entries of the wanted splits."""
    labels_path = corpus / "labels.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"no labels.json in {corpus}: is the corpus there?")
    wanted = set(splits)
    entries = json.loads(labels_path.read_text(encoding="utf-8"))
    return [e for e in entries if e.get("split", "dev") in wanted]


def run(
    corpus: Path, splits: Iterable[str] = SPLITS, classifier: Classify = classify
) -> tuple[list[Outcome], float]:
    """Classify the labelled files of `splits`; returns outcomes and seconds of classify per file.

    Parsing is done first and not timed: the figure is what detection costs per candidate.
    """
    parsed = []
    for entry in labels(corpus, splits):
        raw = (corpus / str(entry["file"])).read_bytes()
        parsed.append((entry, raw, parse_message(raw)))
    outcomes: list[Outcome] = []
    spent = 0.0
    if parsed:  # warm up: compiled patterns are built once per process, not per message
        classifier(parsed[0][2], Identity(frozenset({"warm@example.com"})))
    for entry, raw, msg in parsed:
        owner = msg.sender.email if msg.sender else ""
        identity = Identity(owners=frozenset({owner}), refmail=frozenset({REFMAIL_ADDRESS}))
        started = time.process_time()
        verdict = classifier(msg, identity)
        spent += time.process_time() - started
        outcomes.append(_outcome(entry, raw, verdict))
    return outcomes, spent / max(1, len(outcomes))


def _outcome(entry: dict[str, object], raw: bytes, verdict: Classification) -> Outcome:
    parties = frozenset(str(p).lower() for p in entry.get("parties") or [])  # type: ignore[union-attr]
    lowered = raw.lower()
    return Outcome(
        file=str(entry["file"]),
        split=str(entry.get("split", "dev")),
        label=bool(entry["is_intro"]),
        ambiguous=str(entry.get("notes", "")).startswith("AMBIGUOUS:"),
        labelled_parties=parties,
        addressable_parties=frozenset(p for p in parties if p.encode() in lowered),
        verdict=verdict,
    )


def old_classifier(commit: str = OLD_DETECTOR_COMMIT) -> Classify:
    """The detector as it was at `commit`, loaded from git history into a throwaway module."""
    root = Path(__file__).resolve().parents[1]
    source = subprocess.run(
        ["git", "-C", str(root), "show", f"{commit}:refmail/detect.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old_detect.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("old_detect", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while being defined
        spec.loader.exec_module(module)
    old_classify = module.classify
    old_identity = module.Identity

    def run_old(msg: object, identity: Identity) -> Classification:
        return old_classify(msg, old_identity(identity.owners, identity.refmail))  # type: ignore[no-any-return]

    return run_old


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


def _row(title: str, s: Score, ms: float) -> str:
    exact = s.exact / s.tp if s.tp else 0.0
    addressable = s.exact_addressable / s.tp if s.tp else 0.0
    return (
        f"{title:<22} {s.tp:>3} {s.fp:>3} {s.fn:>3} {s.tn:>3}  {s.precision:6.3f} {s.recall:6.3f}"
        f" {exact:6.3f} {addressable:6.3f} {ms:7.3f}"
    )


HEADER = (
    f"{'':<22} {'TP':>3} {'FP':>3} {'FN':>3} {'TN':>3}  {'prec':>6} {'recall':>6}"
    f" {'exact':>6} {'addr.':>6} {'ms/msg':>7}"
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
    parser.add_argument("--verbose", action="store_true", help="explain dev misses")
    parser.add_argument(
        "--splits", default=",".join(SPLITS), help="comma-separated splits to measure (dev,test)"
    )
    args = parser.parse_args(argv)
    measured = Path(refmail.__file__).resolve().parents[1]
    if measured != Path(__file__).resolve().parents[1]:
        print(f"warning: measuring the refmail of {measured}, not this checkout's", file=sys.stderr)
    splits = [s for s in args.splits.split(",") if s in SPLITS]
    try:
        old = old_classifier()
        rows = []
        dev_misses: list[Outcome] = []
        for split in splits:
            new_out, new_t = run(args.corpus, (split,))
            old_out, old_t = run(args.corpus, (split,), old)
            for name, outs, per in (("new", new_out, new_t), ("old", old_out, old_t)):
                rows.append(_row(f"{split} {name} strict", score(outs), per * 1000))
                clear = score(o for o in outs if not o.ambiguous)
                rows.append(_row(f"{split} {name} no-AMBIGUOUS", clear, per * 1000))
            if split == "dev":
                dev_misses = score(new_out).misses
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"corpus {args.corpus}; exact = parties equal the labels, addr. = equal the labelled")
    print(
        "parties whose address is in the message; ms/msg = CPU time of classify only "
        "(parse not timed)"
    )
    print(HEADER)
    for row in rows:
        print(row)
    if args.verbose:
        for o in dev_misses:
            _explain(o)
    return 0


if __name__ == "__main__":
    sys.exit(main())
