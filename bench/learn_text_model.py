"""Learn a `text_model` feature (n-gram weights) on dev data and judge it by cross-validation.

    python3 -m bench.learn_text_model [--corpus DIR] [--extra DIR ...] [--all DIR ...]
        [--folds 5] [--top 400] [--l2 1.0] [--baseline REV] [--write FILE]

Bench time only (needs numpy and scipy: `pip install -e .[bench]`). Data: the `dev` entries of
the corpus and of each `--extra` labelled set, and every entry of each `--all` set (hand-written
mail with no held-out role). The `test` split is never read. Each message's author text
(`detect_text.author_text`: no quotes, signature or forwarded part) becomes tokens (`tokens`:
lower-cased word unigrams and bigrams, and structural tokens) and an L2 logistic regression is
fitted; the `--top` n-grams by |weight| are kept and refitted, so what would ship is what was
cross-validated.

Cross-validation is grouped: messages of one thread (same subject without Re:/Fwd:) or one file
family (same name but for its trailing number) stay in one fold. Per fold and pooled, it prints
precision and recall of the current detector and of the detector plus `text_model`, whose weight
is clip(scale * log-odds, -cap_neg, cap_pos), for a small grid of (scale, caps).
`--baseline REV` does the same for the detector as it was at git revision REV (e.g. one not yet
tuned on these dev sets, to see what the text adds to features that never saw the data).
`--write FILE` writes the model fitted on all the data as JSON (bias, weights, chosen caps).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from bench.detect_corpus import DEFAULT_CORPUS, REFMAIL_ADDRESS, SPLITS, labels
from refmail.detect import Identity, classify
from refmail.detect_text import author_text
from refmail.detect_weights import THRESHOLD
from refmail.parse import Address, parse_message

ROOT = Path(__file__).resolve().parents[1]
TEXT_LIMIT = 4000  # the start of a long text; what introduces comes first
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGITS = re.compile(r"\d+")
GRID = [(s, cp, cn) for s in (0.5, 1.0, 1.5) for cp in (1.0, 2.0, 3.0) for cn in (0.0, cp)]


def tokens(text: str, recipients: Iterable[Address] = ()) -> frozenset[str]:
    """The distinct tokens of `text`: words, word pairs and structural `#` tokens.

    >>> sorted(tokens("Meet Bob, he runs 2 shops.", [Address("bob@x.org", "Bob Li")]))[:4]
    ['#names_recipients:1', '#num', '#num shops', '#words:<30']
    """
    text = text[:TEXT_LIMIT]
    words = [_DIGITS.sub("#num", w) for w in _WORD.findall(text.lower())]
    out = set(words)
    out.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    present = set(words)
    named = sum(1 for a in recipients if _first_name(a) in present)
    out.add(f"#names_recipients:{min(named, 3)}")
    out.add("#words:" + next(f"<{n}" for n in (30, 100, 300, 10**9) if len(words) < n))
    if _ADDRESS.search(text):
        out.add("#address_in_text")
    return frozenset(out)


def _first_name(addr: Address) -> str:
    """The lower-cased first name of a recipient: of the display name, else of the local part."""
    name = addr.name.replace('"', " ").strip()
    if "," in name:  # "Smith, Bob"
        name = name.split(",", 1)[1]
    part = (name.split() or re.split(r"[._-]", addr.email.split("@")[0]) or [""])[0]
    return part.lower()


@dataclass(frozen=True)
class Sample:
    """One labelled dev message: its tokens, the detector's verdict without text_model, group."""

    name: str
    label: bool
    tokens: frozenset[str]
    total: float | None  # the detector's score; None when a rule decided before scoring
    predicted: bool  # the detector's verdict as it stands (text_model left out)
    group: str


def load(directory: Path, splits: tuple[str, ...] | None) -> list[Sample]:
    """Samples of the wanted splits of one labelled directory (all entries when None)."""
    out = []
    for entry in labels(directory, SPLITS if splits is None else splits):
        msg = parse_message((directory / entry["file"]).read_bytes())
        owner = msg.sender.email if msg.sender else ""
        verdict = classify(msg, Identity(frozenset({owner}), frozenset({REFMAIL_ADDRESS})))
        scored = [e for e in verdict.evidence if e.feature != "text_model"]
        total = sum(e.weight for e in scored) if scored else None
        recipients = [a for a in msg.envelope.to + msg.envelope.cc if a.email != owner]
        decided = verdict.kind == "introduction"  # a rule before scoring (own mail, robots)
        out.append(
            Sample(
                name=f"{directory.name}/{entry['file']}",
                label=bool(entry["is_intro"]),
                tokens=tokens(author_text(msg).text, recipients),
                total=total,
                predicted=total >= THRESHOLD if total is not None else decided,
                group=f"{directory.name}|{_family(entry['file'])}|{_thread(msg.subject)}",
            )
        )
    return out


def _family(file: str) -> str:
    return re.sub(r"[-_]?\d+(\.eml)?$", "", Path(file).name)


def _thread(subject: str) -> str:
    bare = re.sub(r"^\s*(?:(?:re|fwd?|fw|aw|wg|tr)\s*:\s*)+", "", subject, flags=re.IGNORECASE)
    return " ".join(bare.lower().split())


def groups(data: list[Sample]) -> list[int]:
    """A group id per sample: union of same file family and same thread within a set."""
    parent = list(range(len(data)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    for i, s in enumerate(data):
        where, family, thread = s.group.split("|", 2)
        for key in (f"{where}|f|{family}", f"{where}|t|{thread}" if thread else ""):
            if not key:
                continue
            if key in seen:
                parent[find(i)] = find(seen[key])
            else:
                seen[key] = i
    return [find(i) for i in range(len(data))]


def folds(data: list[Sample], k: int) -> list[int]:
    """Fold of each sample: whole groups, largest first, each to the fold with fewest so far."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups(data)):
        members[g].append(i)
    size = [0] * k
    fold = [0] * len(data)
    for g in sorted(members, key=lambda g: (-len(members[g]), g)):
        f = size.index(min(size))
        for i in members[g]:
            fold[i] = f
        size[f] += len(members[g])
    return fold


def fit(data: list[Sample], l2: float, top: int) -> tuple[dict[str, float], float]:
    """L2 logistic regression on tokens seen in 2+ messages; the `top` by |weight| refitted."""
    counts: dict[str, int] = defaultdict(int)
    for s in data:
        for t in s.tokens:
            counts[t] += 1
    vocab = sorted(t for t, c in counts.items() if c >= 2)
    w, b = _fit(data, vocab, l2)
    keep = [vocab[i] for i in np.argsort(-np.abs(w))[:top]]
    w, b = _fit(data, sorted(keep), l2)
    return {t: float(v) for t, v in zip(sorted(keep), w, strict=True)}, b


def _fit(data: list[Sample], vocab: list[str], l2: float) -> tuple[np.ndarray, float]:
    index = {t: i for i, t in enumerate(vocab)}
    x = np.zeros((len(data), len(vocab)))
    for r, s in enumerate(data):
        for t in s.tokens:
            if t in index:
                x[r, index[t]] = 1.0
    y = np.array([float(s.label) for s in data])

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
        nll = np.sum(np.logaddexp(0, z) - y * z) + 0.5 * l2 * w @ w
        g = p - y
        return float(nll), np.concatenate([x.T @ g + l2 * w, [g.sum()]])

    theta = minimize(loss, np.zeros(len(vocab) + 1), jac=True, method="L-BFGS-B").x
    return theta[:-1], float(theta[-1])


def contribution(log_odds: float, scale: float, cap_pos: float, cap_neg: float) -> float:
    return round(max(-cap_neg, min(cap_pos, scale * log_odds)), 2)


def decide(s: Sample, log_odds: float, scale: float, cap_pos: float, cap_neg: float) -> bool:
    if s.total is None:
        return s.predicted
    return s.total + contribution(log_odds, scale, cap_pos, cap_neg) >= THRESHOLD


def pr(pairs: Iterable[tuple[bool, bool]]) -> tuple[float, float, int, int, int]:
    """Precision, recall, TP, FP, FN of (predicted, label) pairs."""
    pairs = list(pairs)
    tp = sum(p and label for p, label in pairs)
    fp = sum(p and not label for p, label in pairs)
    fn = sum(label and not p for p, label in pairs)
    return tp / max(1, tp + fp), tp / max(1, tp + fn), tp, fp, fn


def cross_validate(data: list[Sample], fold: list[int], l2: float, top: int) -> list[float]:
    """Out-of-fold log-odds of every sample: each fold scored by a model fitted on the others."""
    odds = [0.0] * len(data)
    for f in sorted(set(fold)):
        weights, bias = fit([s for s, g in zip(data, fold, strict=True) if g != f], l2, top)
        for i, s in enumerate(data):
            if fold[i] == f:
                odds[i] = bias + sum(weights.get(t, 0.0) for t in s.tokens)
    return odds


def _line(title: str, figures: tuple[float, float, int, int, int], mark: str = "") -> str:
    p, r, tp, fp, fn = figures
    return f"  {title:<34} {p:6.3f} {r:6.3f} {tp:4} {fp:4} {fn:4}{mark}"


Chosen = tuple[float, float, float]


def report(
    data: list[Sample], fold: list[int], odds: list[float], chosen: Chosen, name: str
) -> None:
    """Per-fold and pooled figures of one detector without and with text_model."""
    print(f"detector {name}: {'prec':>27} {'recall':>6} {'TP':>4} {'FP':>4} {'FN':>4}")
    pairs = list(zip(data, odds, fold, strict=True))
    for f in sorted(set(fold)):
        part = [(s, o) for s, o, g in pairs if g == f]
        print(f" fold {f} ({len(part)} msgs, {sum(s.label for s, _ in part)} intros)")
        print(_line("detector", pr((s.predicted, s.label) for s, _ in part)))
        print(_line("+ text_model", pr((decide(s, o, *chosen), s.label) for s, o in part)))
    print(f" pooled ({len(data)} msgs, {sum(s.label for s in data)} intros)")
    print(_line("detector", pr((s.predicted, s.label) for s in data)))
    for grid in dict.fromkeys([chosen, *GRID]):
        title = f"+ text_model s={grid[0]:g} +{grid[1]:g}/-{grid[2]:g}"
        figures = pr((decide(s, o, *grid), s.label) for s, o, _ in pairs)
        print(_line(title, figures, " (chosen)" if grid == chosen else ""))
    print(_line("text_model alone (p >= 0.5)", pr((o >= 0, s.label) for s, o, _ in pairs)))


def baseline(rev: str, data_argv: list[str]) -> dict[str, tuple[float | None, bool]]:
    """The verdicts of the detector at git revision `rev` on the same data (in a child process
    whose refmail is that revision's, extracted from git into a temporary directory)."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, "refmail"], check=True, capture_output=True
        ).stdout
        archive_path = Path(tmp) / "refmail.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(tmp, filter="data")
        out = Path(tmp) / "verdicts.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, str(ROOT)])}
        cmd = [sys.executable, "-m", "bench.learn_text_model", *data_argv]
        subprocess.run([*cmd, "--dump-verdicts", str(out)], check=True, env=env, cwd=tmp)
        dumped = json.loads(out.read_text(encoding="utf-8"))
    return {k: (v[0], bool(v[1])) for k, v in dumped.items()}


def write(path: Path, weights: dict[str, float], bias: float, chosen: Chosen, n: int) -> None:
    """The model fitted on all the data, as JSON."""
    scale, cap_pos, cap_neg = chosen
    model = {
        "fitted_on": n,
        "scale": scale,
        "cap_pos": cap_pos,
        "cap_neg": cap_neg,
        "bias": round(bias, 3),
        "weights": {t: round(w, 3) for t, w in sorted(weights.items())},
    }
    path.write_text(json.dumps(model, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(weights)} n-grams)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--extra", type=Path, action="append", default=[], help="dev entries")
    parser.add_argument("--all", type=Path, action="append", default=[], help="every entry")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--top", type=int, default=400, help="n-grams kept")
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--cap-pos", type=float, default=2.0)
    parser.add_argument("--cap-neg", type=float, default=0.0)
    parser.add_argument("--baseline", metavar="REV", help="also judge the detector at REV")
    parser.add_argument("--write", type=Path, metavar="FILE", help="write the model as JSON")
    parser.add_argument("--dump-verdicts", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sources = [(args.corpus, ("dev",)), *((e, ("dev",)) for e in args.extra)]
    sources += [(a, None) for a in args.all]
    data = [s for directory, splits in sources for s in load(directory, splits)]
    if args.dump_verdicts:  # the child of --baseline: verdicts only
        dumped = {s.name: (s.total, s.predicted) for s in data}
        args.dump_verdicts.write_text(json.dumps(dumped), encoding="utf-8")
        return 0
    chosen = (args.scale, args.cap_pos, args.cap_neg)
    fold = folds(data, args.folds)
    odds = cross_validate(data, fold, args.l2, args.top)
    report(data, fold, odds, chosen, "as it stands")
    if args.baseline:
        data_argv = ["--corpus", str(args.corpus)]
        data_argv += [a for e in args.extra for a in ("--extra", str(e))]
        data_argv += [a for e in args.all for a in ("--all", str(e))]
        old = baseline(args.baseline, data_argv)
        then = [replace(s, total=old[s.name][0], predicted=old[s.name][1]) for s in data]
        report(then, fold, odds, chosen, f"at {args.baseline}")
    if args.write:
        weights, bias = fit(data, args.l2, args.top)
        write(args.write, weights, bias, chosen, len(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
