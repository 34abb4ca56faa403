"""Learn detection weights from the corpus's dev split (bench time only, never at run time).

    python bench/learn_detect_weights.py [--corpus DIR] [--extra DIR ...] [--l2 0.3] [--write]

Each dev message is classified once to collect its features (their presence, not their
weights); an L2-regularised logistic regression (plain gradient descent, no dependency) is
fitted on them. Prints each feature's hand-set weight beside the learned one (scaled so the
decision boundary sits at the shipped THRESHOLD), and the 5-fold cross-validated precision and
recall on dev of both. `--extra DIR` adds the `dev` entries of another labelled set (same
labels.json format, e.g. real mail kept outside the repository) to the data.
`--write` replaces refmail/detect_weights.py with the learned weights. The test split is never
read.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

from detect_corpus import DEFAULT_CORPUS, REFMAIL_ADDRESS, labels

from refmail.detect import Identity, classify
from refmail.detect_weights import THRESHOLD, WEIGHTS
from refmail.parse import parse_message

Sample = tuple[frozenset[str], bool]


def samples(corpus: Path) -> list[Sample]:
    """(features shown, is an introduction) for every dev message."""
    out: list[Sample] = []
    for entry in labels(corpus, ("dev",)):
        msg = parse_message((corpus / str(entry["file"])).read_bytes())
        owner = msg.sender.email if msg.sender else ""
        verdict = classify(msg, Identity(frozenset({owner}), frozenset({REFMAIL_ADDRESS})))
        out.append((frozenset(e.feature for e in verdict.evidence), bool(entry["is_intro"])))
    return out


def fit(data: list[Sample], names: list[str], l2: float, steps: int = 3000) -> dict[str, float]:
    """Logistic regression weights (and "_bias") by full-batch gradient descent."""
    w = dict.fromkeys(names, 0.0)
    bias = 0.0
    rate = 0.5
    for _ in range(steps):
        grad = dict.fromkeys(names, 0.0)
        grad_bias = 0.0
        for shown, label in data:
            z = bias + sum(w[f] for f in shown if f in w)
            error = 1 / (1 + math.exp(-max(-30.0, min(30.0, z)))) - label
            grad_bias += error
            for f in shown:
                if f in grad:
                    grad[f] += error
        n = len(data)
        for f in names:
            w[f] -= rate * (grad[f] / n + l2 * w[f] / n)
        bias -= rate * grad_bias / n
    w["_bias"] = bias
    return w


def scaled(w: dict[str, float]) -> dict[str, float]:
    """Weights in the shipped scale: sum >= THRESHOLD exactly when the model says p >= 0.5."""
    bias = w["_bias"]
    if bias >= 0:
        return {f: round(v, 2) for f, v in w.items() if f != "_bias"}
    scale = THRESHOLD / -bias
    return {f: round(v * scale, 2) for f, v in w.items() if f != "_bias"}


def decide(shown: frozenset[str], weights: dict[str, float]) -> bool:
    return sum(weights.get(f, 0.0) for f in shown) >= THRESHOLD


def cross_validate(data: list[Sample], names: list[str], l2: float) -> tuple[float, float]:
    """5-fold precision and recall of weights learned on the other folds."""
    order = list(range(len(data)))
    random.Random(7).shuffle(order)
    tp = fp = fn = 0
    for k in range(5):
        held = {i for j, i in enumerate(order) if j % 5 == k}
        weights = scaled(fit([d for i, d in enumerate(data) if i not in held], names, l2))
        for i in held:
            shown, label = data[i]
            guess = decide(shown, weights)
            tp += guess and label
            fp += guess and not label
            fn += label and not guess
    return tp / max(1, tp + fp), tp / max(1, tp + fn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--extra", type=Path, action="append", default=[], help="another labelled set (dev)"
    )
    parser.add_argument("--l2", type=float, default=0.3, help="L2 penalty")
    parser.add_argument("--write", action="store_true", help="write refmail/detect_weights.py")
    args = parser.parse_args(argv)
    data = samples(args.corpus)
    for extra in args.extra:
        data += samples(extra)
    names = sorted(WEIGHTS)
    learned = scaled(fit(data, names, args.l2))
    hand = [decide(s, WEIGHTS) for s, _ in data]
    tp = sum(h and label for h, (_, label) in zip(hand, data, strict=True))
    print(f"dev: {len(data)} messages, {sum(label for _, label in data)} introductions")
    print(f"hand weights on dev (tuned there): precision {tp / max(1, sum(hand)):.3f}", end="")
    print(f" recall {tp / max(1, sum(label for _, label in data)):.3f}")
    p, r = cross_validate(data, names, args.l2)
    print(f"learned weights, 5-fold cross-validated on dev: precision {p:.3f} recall {r:.3f}")
    seen = {f for s, _ in data for f in s}
    print(f"{'feature':<26} {'hand':>7} {'learned':>8}  (features never shown on dev keep 0)")
    for f in names:
        mark = "" if f in seen else "  (not on dev)"
        print(f"{f:<26} {WEIGHTS[f]:>7.2f} {learned[f]:>8.2f}{mark}")
    if args.write:
        path = Path(__file__).resolve().parents[1] / "refmail" / "detect_weights.py"
        body = "\n".join(f'    "{f}": {learned[f]},' for f in names)
        text = path.read_text(encoding="utf-8")
        head = text.split("WEIGHTS: dict[str, float] = {")[0]
        path.write_text(head + "WEIGHTS: dict[str, float] = {\n" + body + "\n}\n", "utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
