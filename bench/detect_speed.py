"""How long classification takes per candidate message (issue 15: at most 0.5 ms).

    python3 -m bench.detect_speed [--corpus DIR] [--rounds N] [--budget-ms 0.5]

Parses the corpus's `dev` messages and the hand-written shape fixtures once (parsing is not
timed), then classifies each of them `--rounds` times and reports CPU time per classify call:
median, 95th percentile, worst and mean, plus the slowest messages by name (dev and fixtures
only: the `test` split is never listed file by file). Exit status 1 when the median is over the
budget. Figures on a shared machine are noisy: the load is printed before and after.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench._common import machine_noted, median, percentile, table
from bench.detect_corpus import DEFAULT_CORPUS, REFMAIL_ADDRESS, labels
from refmail.detect import Identity, classify
from refmail.parse import ParsedMessage, parse_message

SHAPES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "shapes"


def candidates(corpus: Path) -> list[tuple[str, ParsedMessage]]:
    """The dev messages of the corpus and the shape fixtures, parsed."""
    named = [(str(e["file"]), corpus / str(e["file"])) for e in labels(corpus, ("dev",))]
    named += [(f"shapes/{p.name}", p) for p in sorted(SHAPES.glob("*.eml"))]
    return [(name, parse_message(path.read_bytes())) for name, path in named]


def timed(messages: list[tuple[str, ParsedMessage]], rounds: int) -> dict[str, float]:
    """Per message, the best CPU seconds of `rounds` classify calls (the least disturbed)."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, msg in messages:
            owner = msg.sender.email if msg.sender else ""
            identity = Identity(frozenset({owner}), frozenset({REFMAIL_ADDRESS}))
            started = time.process_time_ns()
            classify(msg, identity)
            spent = (time.process_time_ns() - started) / 1e9
            best[name] = min(spent, best.get(name, spent))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget-ms", type=float, default=0.5)
    args = parser.parse_args(argv)
    messages = candidates(args.corpus)
    with machine_noted():
        timed(messages[:5], 1)  # warm-up: patterns compile once per process
        best = timed(messages, args.rounds)
    ms = [v * 1000 for v in best.values()]
    table(
        ["messages", "median ms", "p95 ms", "max ms", "mean ms", "budget ms"],
        [
            [
                len(ms),
                f"{median(ms):.3f}",
                f"{percentile(ms, 0.95):.3f}",
                f"{max(ms):.3f}",
                f"{sum(ms) / len(ms):.3f}",
                f"{args.budget_ms:g}",
            ]
        ],
    )
    print("slowest:")
    for name, seconds in sorted(best.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {seconds * 1000:7.3f} ms  {name}")
    return 0 if median(ms) <= args.budget_ms else 1


if __name__ == "__main__":
    sys.exit(main())
