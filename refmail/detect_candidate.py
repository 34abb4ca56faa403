"""The author's own tie to the one whose résumé they pass on: what tells a referral from routing.

A résumé sent to one reader with nothing else said is a referral when the author vouches for the
candidate from their own knowledge ("Cover letter and resume from my brother are attached",
"Attached is a resume for a person I have worked for", "I talked to Chris last week … I am
attaching his resume", "David … has been in our NYC office for 13 years"); it is routing when
the author only handles the paper ("Attached is the resume of Dana Cole. Please consider her for
any open positions"): no relation, no acquaintance, no first-hand word. Read only beside the
résumé cue (`cue_passes_on_cv`), in the author's own sentences. English only, as that cue. Pure.
"""

from __future__ import annotations

from refmail.detect_lang import NAME
from refmail.patterns import Lazy

# Whom the author may have known: "him", "her", a name, "this person", and the relative "a
# person (whom) I have worked for"
_WHOM = rf"(?:(?i:him|her|them|this\s(?:person|guy|gentleman|lady|candidate|individual))\b|{NAME})"
_KNEW = (
    r"(?:known|know|worked\s(?:with|for|alongside)|work\s(?:with|for)|met|talked\s(?:to|with)"
    r"|spoke\s(?:to|with)|spoken\s(?:to|with)|interviewed|supervised|managed|taught|coached"
    r"|mentored|hired)"
)
_TIE = Lazy(
    # a relation of the author's: "my brother", "our former colleague", "a friend of mine"
    r"(?i:\b(?:my|our)\s(?:good\s|dear\s|close\s|old\s|former\s|longtime\s)?(?:friend|colleague"
    r"|classmate|neighbou?r|roommate|student|nephew|niece|cousin|son|daughter|brother|sister"
    r"|brother-in-law|sister-in-law|godson|goddaughter|former\s\w+)s?\b"
    r"|\bof\s(?:mine|ours)\b)"
    # first-hand acquaintance: "I talked to Chris last week", "I have known her for years"
    rf"|(?i:\b(?:i|we)\s(?:have\s|'ve\s|had\s|'d\s)?(?:\w+ly\s)?{_KNEW}\s){_WHOM}"
    # the relative: "a person I have worked for", "someone we met at the fair"
    rf"|(?i:\b(?:person|someone|guy|gentleman|lady|candidate|individual|man|woman)\s(?:whom?\s"
    rf"|that\s)?(?:i|we)\s(?:have\s|'ve\s|had\s)?(?:\w+ly\s)?{_KNEW}\b)"
    # a colleague of the author's firm: "has been in our NYC office for 13 years"
    r"|(?i:\b(?:has\sbeen|has\sworked|worked|works|is)\s(?:\w+\s){0,2}?(?:in|at|with|for)\s(?:our|my)"
    r"\s(?:[\w-]+\s){0,2}?(?:office|firm|team|group|company|department|practice|shop)\b)"
    # a recommendation in the author's voice: "She comes highly recommended", "I recommend him"
    rf"|(?i:\bhighly\srecommend(?:ed)?\b|\b(?:i|we)\s(?:would\s|can\s|strongly\s)?recommend\s){_WHOM}?"
)


def knows_the_candidate(sentence_list: list[str]) -> str | None:
    """The first of the author's sentences that shows their own tie to a candidate, if any.

    >>> knows_the_candidate(["Cover letter and resume from my brother are attached."])
    'Cover letter and resume from my brother are attached.'
    >>> knows_the_candidate(["I talked to Chris last week at Rice.", "I am attaching his resume."])
    'I talked to Chris last week at Rice.'
    >>> knows_the_candidate(["Attached is the resume of Dana Cole.", "Please consider her."])
    """
    pattern = _TIE()
    return next((s for s in sentence_list if pattern.search(s)), None)
