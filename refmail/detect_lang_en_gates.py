"""The gate words of the English cues: words without which a cue's pattern cannot match.

`detect_cues` runs a cue's pattern only on the sentences that hold one of its gate words (one
pass of substring searches), so most mail runs few patterns. A gate must be lower-case and
appear in every text the cue's pattern (`detect_lang_en`) can match.
"""

from __future__ import annotations

GATES: dict[str, tuple[str, ...]] = {
    "cue_introduce": (
        "intro",
        "pleased to",
        "happy to",
        "glad to",
        "delighted to",
        "referring",
        "like to refer",
    ),
    "cue_meet": ("meet", "say hello", "say hi"),
    "cue_connect": (
        "connect",
        "put you",
        "putting you",
        "put the two",
        "putting the two",
        "put both",
        "putting both",
        "put y'all",
        "in touch with",
        "together",
    ),
    "cue_should_talk": (
        "you two",
        "get together",
        "connect",
        "compare notes",
        "you both",
        "you guys",
        "you all",
        "two of you",
        "both of you",
        "y'all",
        "you should",
        "you'd both",
        "you would both",
        "you'll both",
        "you will both",
        "you'd two",
        "hit it off",
        "get along",
        "directly",
        "with each other",
    ),
    "cue_reach_each_other": ("each other",),
    "cue_common_ground": ("similar", "same", "in common", "mutually", "both "),
    "cue_opt_in_ask": (
        "would you mind",
        "would you be",
        "are you open",
        "are you interested",
        "are you up",
        "if i",
        "do you want to",
        "want me to",
        "shall i",
        "should i",
    ),
    "cue_hand_off": (
        "take it from here",
        "hear from",
        "in contact",
        "over to you",
        "i'll step",
        "i'll bow",
        "i'll drop",
        "i'll let you",
        "i'll leave",
        "feel free to bcc",
        "feel free to move",
        "move me to bcc",
        "be in touch",
        "reach out",
        "contact you",
        "call you",
        "mail you",
        "get in touch",
        "follow up w",
        "get back to you",
        "of you",
        "asking him",
        "asking her",
        "asking them",
        "asking ",
        "asked ",
        "ask ",
        "told ",
        "i'll get out",
        "i'll let ",
        "help",
        "assist",
        "answer",
        "advise",
        "handle",
        "give you",
        "take care of",
        "point person",
        "point of contact",
        "the contact",
        "your contact",
        "our contact",
        "main contact",
        "primary contact",
        "go-to person",
        "need your",
        "want your",
        "appreciate your",
        "value your",
        "introduce yourself",
        "hear from you",
        " a line",
        " a note",
        " a message",
        " a mail",
        " an email",
        " an e-mail",
        "knows i",
    ),
    "cue_gave_name": (
        "mentioned to",
        "your name",
        "your number",
        "your e-mail",
        "your email",
        "your mail",
        "your details",
        "your contact",
        "your info",
        "recommended you",
        "your address",
        "reach out to you",
        "contact you",
        "call you",
        "mail you",
        "write to you",
        "touch with you",
        "hear from",
        "hearing from",
        "told him",
        "told her",
        "told them",
        "told ",
        "referr",
    ),
    # (the pattern, case-blind, always holds "résumé" or "resume")
    "cue_passes_on_cv": ("resum", "résum"),
    "cue_vouches": (
        "friend",
        "colleague",
        "classmate",
        "neighbo",
        "roommate",
        "student",
        "nephew",
        "niece",
        "cousin",
        "my son",
        "our son",
        "daughter",
        "brother",
        "sister",
        "godson",
        "goddaughter",
    ),
    "cue_copy_in": (
        "copying",
        "copied",
        "cc'",
        "ccing",
        "cc-ing",
        "cced",
        "loop",
        "adding",
        "added",
        "bringing in",
        "bring",
        "pull in",
        "pulling in",
        "passing this",
        "passing it",
        "passing your",
        " cc",
        "cc ",
        "(cc",
        "[cc",
        "copy ",
        " add ",
        "[+",
        "includ",
        "+",
    ),
    "neg_asks_for_intro": (
        "introduce me",
        "intro me",
        "connect me",
        "refer me",
        "put me",
        "for me",
        "use you as",
        "give me a referral",
        "do you know any",
        "do you know some",
        "to forward",
        "to pass",
        "forwardable",
        "you introduce",
        "you intro",
        "you connect",
        "you please",
        "love an intro",
        "like an intro",
    ),
    "neg_thanks_for_intro": (
        "thank",
        "introduced",
        "result of your",
        "thanks to your",
        "able to meet",
        "able to visit",
    ),
    "neg_self_intro": ("myself", "my name", "shared your"),
    "neg_reply": ("meet you",),
    "neg_moved_to_bcc": ("bcc",),
    "neg_out_of_office": (
        "out of office",
        "out of the office",
        "absence",
        "back me up",
        "be out",
        "be away",
        "be on vacation",
        "be on holiday",
        "be on leave",
        "away until",
        "vacation until",
        "cover for me",
        "covering for me",
        "until my return",
        "reply on his",
        "on his behalf",
    ),
    "neg_bulk": (
        "unsubscribe",
        "browser",
        "preferences",
        "notifications",
        "subscription",
        "to your friends",
    ),
    "neg_logistics": (
        "dial",
        "passcode",
        "pass code",
        "conference call",
        "conference bridge",
        "calendar invite",
        "make plans to attend",
        "call me on",
        "for you to call",
    ),
    "neg_fyi_copy": (
        "fyi",
        "so he",
        "so she",
        "so they",
        "so that",
        "informed",
        "notified",
        "for your",
        "for his",
        "for her",
        "for their",
        "visib",
        "awareness",
        "reference",
        "for info",
        "keep him",
        "keep her",
        "keep them",
        "keep you",
        "to be aware",
        "same page",
        "as i mention",
        "in the loop",
        "heads",
        " on this",
        " on these",
        " on the ",
    ),
    "neg_list_copy": ("ml", "list"),
    "neg_missed_copy": (
        "missed",
        "forgot",
        "forget",
        "cc list",
        "meant to",
        "missing from",
        "mistake",
        "should have",
        "address",
        "account",
        "dropped from",
        "to cc",
        "to +cc",
        "back",
        "re-add",
        "readd",
        "re-cc",
        "recc",
        "accident",
        "inadvertently",
        "mistakenly",
    ),
    "neg_admin_copy": (
        "my schedule",
        "my calendar",
        "my diary",
        "our schedule",
        "our calendar",
        "our diary",
        "assistant",
        "secretary",
        "scheduler",
        "admin",
        "ci-authorized",
        " group",
        " team",
        " committee",
    ),
    "neg_welcome": ("welcom", "announce", "my last"),
    "neg_referral_programme": ("referral", "refer a", "refer your", "know anyone"),
    "neg_offer_later": (
        "introduce you",
        "connect you",
        "let me know if you",
        "like an intro",
        "like me to introduce",
        "like me to connect",
    ),
    "neg_phone_line": ("connect",),
    "neg_relay": (
        "tell him",
        "tell her",
        "tell them",
        "let him know",
        "let her know",
        "let them know",
        "say i",
        "say that",
        "say we",
        "on my behalf",
        " my best",
        " my regrets",
        " my thanks",
        " my love",
        " my regards",
    ),
    "neg_pointer": (
        "please contact",
        "you might",
        "to cc",
        "to contact",
        "to get in touch",
        "(who",
        "knows more",
    ),
}


# Per top-level alternative of a cue's pattern (`detect_cues.alternatives`, in order), lower-case
# words without which that alternative cannot match, read on an ASCII sentence (there, lower-casing
# agrees with the patterns' case-insensitive matching): a sentence runs only the alternatives it
# holds a word of, joined in their order, so the cue finds what the whole pattern finds, and
# compiling (≈ 3–5 ms a cue, the largest cost of a process's first message: issue 15) and
# matching both skip the rest. Only the costliest cues, whose gates are common words, have them.
_YOU_BOTH = ("you two", "you both", "you guys", "you all", "two of you", "both of you", "y'all")
_YOUR_DETAILS = (
    "your name",
    "your number",
    "your e-mail",
    "your email",
    "your details",
    "your contact",
    "your info",
)
ALTERNATIVE_GATES: dict[str, tuple[tuple[str, ...], ...]] = {
    "cue_hand_off": (
        # take it from here, over to you, I'll step aside / bow out / drop off / let you … /
        # leave it to you / get out of the way, feel free to bcc me, move me to bcc
        (
            "take it from here",
            "over to you",
            "ll step",
            "ll bow",
            "ll drop",
            "ll let you",
            "ll leave",
            "ll get out",
            "feel free to ",
            "move me to bcc",
        ),
        # Name will be in touch / reach out / contact you / call you / e-mail you / follow up with
        # you / get back to you / be contacting each of you
        ("touch", "contact", "reach", "call", "mail", "follow up", "get back to you"),
        # drop him a line / note / message / mail; she'd love to hear from you; you'll hear from him
        (" line", " note", " message", "mail", "hear from"),
        ("knows i",),  # Name knows I'm sending …
        # Name can help you / answer your … / handle this / be the point person / main contact
        (
            "help",
            "assist",
            "answer",
            "advise",
            "handle",
            "give you",
            "take care of",
            "point ",
            "contact",
            "go-to person",
        ),
        ("need your", "want your", "appreciate your", "value your"),  # Tim will need your help
        ("introduce yourself",),
        ("ll let ",),  # I'll let Jake comment
        ("ask", "told "),  # I've asked Kris to follow up with you
    ),
    "cue_copy_in": (
        # a copy verb and whom it copies (every copy verb holds one of these)
        ("cop", "cc", "loop", "pull", "add", "bring", "includ", "+", "passing"),
        ("+",),  # "+Name" opening a line
        ("cc", "add"),  # "[cc Name]", "[ add Neil, who… ]"
        ("bring",),  # bringing Jake into the conversation
        ("cc", "cop"),  # Jason (CCed)
        ("cc", "cop", "loop", "includ"),  # John is cc'd here
        ("cc", "thread", "conversation", "discussion"),  # adding … to the Cc list
        ("cc", "thread", "conversation", "discussion"),  # let's add Jonathan to the CC list
        ("cc", "thread", "conversation", "discussion"),  # Bryan, added to the Cc list
        ("cc", "copied", "added"),  # A question for Tony and Yazen. CCed.
    ),
    "cue_introduce": (
        ("intro",),  # introducing you to …, e-intro-ing Sam and …
        ("pleased to", "happy to", "glad to", "delighted to"),  # happy to connect you
        ("introduc",),  # this is to introduce to you Mr. Lee
        ("introduce",),  # let me introduce Sam
        ("intro",),  # I'm making an intro
        ("intro",),  # here's the promised intro to …
        ("intro",),  # Quick intro as discussed
        ("referring",),  # I'm referring Mr. Lin …
        ("like to refer",),  # I'd like to refer Ana to you
    ),
    "cue_connect": (
        ("connect", "put"),  # connecting you two, putting you both in touch
        ("connect",),  # connecting you so …
        ("connect",),  # connecting Ana with Bo
        ("in touch with",),  # put someone in touch with Rick
        ("in touch with",),  # I put Dana in touch with Lee
        ("together",),  # getting you and Bill together
        ("together",),  # bring you together with Ana
    ),
    "cue_should_talk": (
        _YOU_BOTH,  # you two should talk
        _YOU_BOTH,  # for you two to meet
        (" both", " two"),  # you'd both benefit
        ("hit it off", "get along"),  # you'd hit it off
        ("directly", "with each other"),  # you can connect directly
        _YOU_BOTH,  # so that you both can talk
        ("each other", "one another"),  # you two can help each other
        ("you should",),  # you should chat
        ("get together", "connect", "compare notes"),  # please compare notes
    ),
    "cue_gave_name": (
        _YOUR_DETAILS,  # I gave him your number
        ("recommended you",),
        (*_YOUR_DETAILS, "your address"),  # I've given Marta your email
        # I suggested she reach out to you
        (
            "reach out to you",
            "contact you",
            "call you",
            "mail you",
            "write to you",
            "touch with you",
        ),
        ("told him", "told her", "told them", "mentioned to"),  # I told him about you
        ("hear from", "hearing from"),  # you'll hear from Ana
        ("referr",),  # I referred him to you
        ("told ",),  # I told Ana about you
        ("told him", "told her", "told them"),  # I told her to expect you
    ),
}
