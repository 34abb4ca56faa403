"""Measures refmail's hand-written reply reading against libraries (issue 10 item 6).

- Quoted history and signatures: quotes.split_quoted + strip_signature against quotequail and
  mail-parser-reply, on hand-written replies in the common clients and five languages (own
  words that must stay, history that must go), and the time each takes on the corpus.
- Dates in "not now" replies: replies._date against dateparser (future dates preferred).

Run: PYTHONPATH=$PWD python3 bench/reply_libraries.py [CORPUS]  (libraries: pip install
quotequail mail-parser-reply dateparser; they are not dependencies of refmail).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from refmail.parse import parse_message
from refmail.quotes import split_quoted, strip_signature
from refmail.replies import _date

OWN, GONE = "Tuesday at ten works for me", "ORIGINAL-HISTORY"
HISTORY = {
    "gmail-en": f"On Mon, 16 Nov 2026 at 09:12, Olivia Owner <o@x.example> wrote:\n> {GONE}\n",
    "gmail-wrapped": (
        "On Mon, 16 Nov 2026 at 09:12, Olivia Owner <\no@x.example> wrote:\n\n> " + GONE + "\n"
    ),
    "outlook": (
        "________________________________\nFrom: Olivia Owner <o@x.example>\n"
        f"Sent: Monday, November 16, 2026 9:12 AM\nTo: Bob\nSubject: Intro\n\n{GONE}\n"
    ),
    "original-message": f"-----Original Message-----\nFrom: Olivia\nSubject: Intro\n\n{GONE}\n",
    "apple": f"> On 16 Nov 2026, at 09:12, Olivia Owner <o@x.example> wrote:\n> \n> {GONE}\n",
    "thunderbird": f"On 16/11/2026 09:12, Olivia Owner wrote:\n> {GONE}\n",
    "german": f"Am Mo., 16. Nov. 2026 um 09:12 Uhr schrieb Olivia Owner <o@x.example>:\n> {GONE}\n",
    "french": f"Le lun. 16 nov. 2026 à 09:12, Olivia Owner <o@x.example> a écrit :\n> {GONE}\n",
    "spanish": (
        f"El lun, 16 nov 2026 a las 9:12, Olivia Owner (<o@x.example>) escribió:\n> {GONE}\n"
    ),
    "dutch": f"Op ma 16 nov. 2026 om 09:12 schreef Olivia Owner <o@x.example>:\n> {GONE}\n",
    "signature-dashes": f"-- \nBob Baker\n{GONE}\n",
    "sent-from-iphone": f"Sent from my iPhone\n\n{GONE}\n",
    "german-iphone": f"Von meinem iPhone gesendet\n\n{GONE}\n",
}


def refmail_own(text: str) -> str:
    return strip_signature(split_quoted(text)[0])


def quotequail_own(text: str) -> str:
    import quotequail

    parts = quotequail.quote(text)
    return "".join(part for shown, part in parts if shown)


def mailparser_reply_own(text: str) -> str:
    from mailparser_reply import EmailReplyParser

    parser = EmailReplyParser(languages=["en", "de", "fr", "es", "nl"])
    return parser.parse_reply(text=text)


READERS: dict[str, Callable[[str], str]] = {
    "refmail": refmail_own,
    "quotequail": quotequail_own,
    "mail-parser-reply": mailparser_reply_own,
}

# (reply text, now, the date a person means: (year, month) or None when no date is given)
NOW = datetime(2026, 11, 18, 15, tzinfo=UTC)
DATES = [
    ("Not right now, maybe in January?", (2027, 1)),
    ("Not now, let's talk after the holidays.", (2027, 1)),
    ("Too busy, check back in March.", (2027, 3)),
    ("Bad timing; ping me in two weeks.", (2026, 12)),
    ("Can't right now. Next month?", (2026, 12)),
    ("Not at the moment, maybe mid-February.", (2027, 2)),
    ("Not now, try again on 5 January.", (2027, 1)),
    ("Not right now, maybe later.", None),
    ("Swamped at the moment, reach out again early next year.", (2027, 1)),
    ("Not now, we may revisit it later.", None),
]


def refmail_date(text: str) -> tuple[int, int] | None:
    found = _date(text, NOW)
    return (found[0].year, found[0].month) if found else None


def dateparser_date(text: str) -> tuple[int, int] | None:
    from dateparser.search import search_dates

    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": NOW.replace(tzinfo=None)}
    found = search_dates(text, languages=["en"], settings=settings)  # type: ignore[arg-type]
    future = [d for words, d in found or [] if d > NOW.replace(tzinfo=None) and words != "now"]
    return (future[0].year, future[0].month) if future else None


def main() -> None:
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus")
    labels = json.loads((corpus / "labels.json").read_text())
    dev = sorted(e["file"] for e in labels if e.get("split") == "dev")  # never the test split
    texts = [parse_message((corpus / f).read_bytes()).full_text for f in dev]
    print(f"quoted history and signatures: {len(HISTORY)} shapes")
    for name, read in READERS.items():
        right = []
        for shape, history in HISTORY.items():
            own = read(f"Hi Olivia,\n\n{OWN}. Thanks!\n\nBob\n\n{history}")
            right.append(shape if OWN in own and GONE not in own else "")
        misses = [s for s, ok in zip(HISTORY, right, strict=True) if not ok]
        start = time.perf_counter()
        for text in texts:
            read(text)
        per = (time.perf_counter() - start) / max(len(texts), 1) * 1000
        print(
            f"  {name:18} {len(HISTORY) - len(misses):2}/{len(HISTORY)} right, "
            f"{per:.2f} ms/message on {len(texts)} corpus messages; missed: {misses}"
        )
    print(f"dates in 'not now' replies: {len(DATES)} phrases")
    for name, read_date in (("refmail", refmail_date), ("dateparser", dateparser_date)):
        start = time.perf_counter()
        got = [read_date(text) for text, _ in DATES]
        ms = (time.perf_counter() - start) / len(DATES) * 1000
        wrong = [t for (t, want), g in zip(DATES, got, strict=True) if g != want]
        print(
            f"  {name:18} {len(DATES) - len(wrong):2}/{len(DATES)} right, {ms:.2f} ms/phrase;"
            f" wrong: {wrong}"
        )


if __name__ == "__main__":
    main()
