"""English cue and look-alike phrases for detection (see `detect_lang` for the format)."""

from __future__ import annotations

from refmail.detect_lang import NAME, LanguageData, words
from refmail.detect_lang_en_gates import ALTERNATIVE_GATES, GATES

_YOU_BOTH = r"(?:you\s(?:two|both|guys|all)|the\stwo\sof\syou|both\sof\syou|y'all)"
_NOT_WHEN = (
    r"(?!(?i:(?:this|next)\s(?:week|weekend|month|year|time|morning|afternoon|evening|\w{3,6}day)"
    r"|(?:on|at|in|for|with)\s|(?:up|me|us|them|today|tomorrow|tonight|noon|lunch|breakfast"
    r"|dinner|coffee|(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b))"
)
_COPY_VERB = (
    # ("CC:ing Volker": the header's colon kept in the verb)
    r"(?:copying|cc'?ing|cc:ing|cc-ing|cc'ed|cced|cc'd|looping\sin|pull(?:ing)?\sin|loop(?:ing|ed)?\sin|adding|added|bringing\sin"
    r"|i'?ve\s(?:cc'?d|cced|copied|looped\sin|added|included)|i'?m\sincluding|i\shave\s(?:cc'?d"
    r"|cced|copied|added)|copied|\+\s?(?:cc|to):?"
    # said before it is done: "I am going to copy Phillippe", "let me loop in Dana"
    # "I dared to Cc Lorenzo", "I wanted to loop in Dana"
    r"|(?:i'?ll|i\swill|i'?m\sgoing\sto|i\sam\sgoing\sto|let\sme|i(?:\s(?:dared|wanted|want"
    r"|would\slike)|'?d\slike)\sto)\s(?:also\s)?(?:copy|cc|loop\sin"
    r"|add|include)"
    # the reader's mail handed on to those copied: "I am passing this email onto Jack and Cheryl"
    r"|passing\s(?:this|it|your\s(?:e-?mail|note|message|request))\s(?:e-?mail\s|note\s"
    r"|message\s|request\s)?on(?:\s?to))"
)

# The copy verb where a word starts. Its first letter is looked ahead for first: the verb's
# thirty-odd words are tried only where one of them can start (issue 15: the copy-in pattern
# was the costliest per sentence).
_COPIES = rf"(?i:(?<![\w'])(?=[aclpbi+])(?:also\s)?{_COPY_VERB})"

# Where a copy puts someone: "to the Cc list", "into this mail thread" (not "to the loop":
# "add the hook to the loop" is code)
_INTO_THREAD = (
    r"(?i:(?:to|into|onto)\s(?:the\s|this\s)?(?:cc(?:\slist)?|(?:e-?)?mail\s?thread|thread"
    r"|conversation|discussion)\b)"
)

ENGLISH = LanguageData(
    stop_words=words(
        "the and to of you is that for with it be are this have we on your was as at not "
        "but they he she his her my our from will would"
    ),
    cues={
        # --- the act of introducing ---
        "cue_introduce": (
            # (the word looked ahead for first: four look-behinds at every place cost more)
            r"\b(?=(?i:introduc|e-?intro))(?<!will\s)(?<!would\s)(?<!could\s)(?<!can\s)"
            r"(?i:introduc(?:e|ing)|e-?intro(?:ing)?)"
            rf"\s(?:(?i:you\b(?!r)|{_YOU_BOTH}|two\s(?:of\s|people|friends|colleagues)|the\stwo\sof)"
            rf"|(?i:my|our)\s|{NAME}\s{{0,2}}"
            r"(?:\([^)\n]{0,20}\)\s{0,2})?(?:to|and|,)\s)"
            r"|(?i:\b(?:pleased|happy|glad|delighted)\sto\s(?:introduce|connect)\s(?:you|the\stwo))"
            # the letter-of-introduction order: "This is to introduce to you Mr. Lee", "I take
            # this occasion to introduce to you the bearer of this letter, Mrs. Pemberton"
            r"|\b(?=(?i:introduc))(?<!will\s)(?<!would\s)(?<!could\s)(?<!can\s)"
            r"(?i:introduc(?:e|ing)\sto\syou)"
            r"\s(?:(?i:the\sbearer\b|my\s|our\s)|[A-Z])"
            # the author, in the first person, introducing someone or making the introduction
            r"|(?i:\b(?:allow\sme\sto|let\sme|i'?d\slike\sto|i\swould\slike\sto|i\swant(?:ed)?\sto"
            r"|i'?m\s(?:happy|pleased|glad|delighted|writing)\sto)\s(?:briefly\s)?introduce)"
            r"\s[A-Z][a-z]"
            r"|(?i:\b(?:i'?m|i\sam|i\swant(?:ed)?\sto|i'?d\slike\sto|i\swould\slike\sto|let\sme"
            r"|allow\sme\sto)\s(?:make|making|do|doing)\s(?:an?|this|the|a\squick|a\sbrief)\s"
            r"(?:e-?)?intro(?:duction)?\b)"
            r"|(?i:\bhere(?:'s|\sis)\s(?:the|my|your)\s(?:promised\s)?(?:e-?)?intro(?:duction)?"
            r"\s(?:to|between|for\syou))"
            # the introduction named as what the mail is: "Quick intro as discussed",
            # "Intro as promised", "A brief introduction, as requested"
            r"|^(?i:(?:an?\s)?(?:quick|brief|short|promised|virtual)?\s?(?:e-?)?intro(?:duction)?,?"
            r"\sas\s(?:discussed|promised|requested|agreed|mentioned))\b"
            # a referral made: "I am referring Mr. Lin (cc'd) for evaluation", "we're referring
            # you to Dr. Moore", "I'd like to refer Ana to you"
            r"|(?i:\b(?:i'?m|i\sam|we'?re|we\sare)\sreferring\s(?:you\sto\s)?)"
            # (a person, not someone's thing: "referring Bob's question to legal")
            rf"(?:(?:Mr|Mrs|Ms|Dr|Prof)\.?\s)?(?!(?:Mr|Mrs|Ms|Dr|Prof)\b){NAME}(?![\w'’])(?<!['’]s)"
            # (to the one addressed, not to a department: "referring Mr. Jones to collections")
            r"(?!\s(?:\([^()\n]{0,60}\)\s)?to\s(?!you\b))"
            rf"|(?i:\b(?:i'?d|i\swould|we'?d|we\swould)\slike\sto\srefer\s){NAME}(?i:\sto\syou\b)"
        ),
        "cue_meet": (
            r"(?:^|[.!?:;,]\s{1,3}|(?i:\b(?:hi|hey|hello|dear)\b)\s[A-Z][\w'-]{0,30}[,!]?\s)"
            rf"(?i:please\s)?(?i:meet)\s{_NOT_WHEN}(?:{NAME}|(?i:this|my|our)\b)"
            r"|(?i:\b(?:like|want|wanted|love|need)\syou\s(?:two\s|both\s)?to\smeet)\s\w"
            rf"|(?i:\byou\s(?:should|must|ought\sto)\s(?:really\s|definitely\s)?meet)\s{NAME}"
            rf"|(?i:\b(?:please\s)?say\s(?:hello|hi)\sto)\s{NAME}"
            # the comma left out, as on a phone, or a dash for it: "Carol meet Ray - did my
            # kitchen", "Maya -- meet Leo"
            r"|(?:^|(?<=[.!?]\s))(?!(?i:let'?s|we|i|you|they|he|she|it|can|could|should|will"
            r"|would|must|might|may|to|and|or|but|so|then|also|please|pls|did|do|does)\b)"
            rf"[A-Z][\w'-]{{1,30}}(?:\s(?:-{{1,2}}|[–—]))?\s(?i:meet)\s{_NOT_WHEN}{NAME}"
        ),
        "cue_connect": (
            r"(?i:\b(?:connect(?:ing)?|put(?:ting)?)\s(?:you|"
            + _YOU_BOTH
            + r")(?:\s(?:two|both))?\s{0,2}(?:with\b|to\b|in\stouch\b|together\b|here\b|[.,!;]|$"
            # "Connecting you two as promised"
            r"|as\s(?:promised|discussed|requested|agreed|mentioned)\b))"
            # the purpose said at once: "I'm connecting you so the work can start" (taken only
            # when two are addressed: "connecting you so you can see the drive" is one reader)
            rf"|(?i:\bconnect(?:ing)?\s(?:you|{_YOU_BOTH})\s(?:so|since|because)\s)"
            rf"|(?i:\bconnect(?:ing)?)\s{NAME}\s(?i:with|and|to)\s{NAME}"
            # "could you put someone in touch with Rick", "I put Dana in touch with Lee"
            r"|(?i:\bput(?:ting)?\s(?:someone|somebody|him|her|them)\s(?:[\w ]{0,30}?\s)?in\stouch"
            r"\swith\b)"
            rf"|(?i:\bput(?:ting)?\s){NAME}(?i:\sin\stouch\swith\b)"
            # "getting you and Bill Williams together", "bring you together with Ana"
            rf"|(?i:\b(?:get(?:ting)?|bring(?:ing)?)\s(?:you|the\stwo\sof\syou)\sand\s){NAME}"
            r"(?i:\stogether\b)"
            rf"|(?i:\b(?:get(?:ting)?|bring(?:ing)?)\syou\stogether\swith\s){NAME}"
        ),
        "cue_should_talk": (
            rf"(?i:\b{_YOU_BOTH}\s(?:should|must|ought\sto|would|will|might|could|can)\s"
            r"(?:definitely\s|really\s|probably\s|also\s)?(?:talk|chat|connect|meet|speak|"
            r"get\sto\sknow|get\stogether|find\b|have\sa\slot|discuss|take\sit|hit\sit\soff"
            r"|get\salong|benefit|enjoy\s(?:talking|meeting|chatting)))"
            # "for you two to connect", "you'd both benefit from talking"
            rf"|(?i:\bfor\s{_YOU_BOTH}\sto\s(?:talk|chat|connect|meet|speak|get\sto\sknow))"
            r"|(?i:\byou(?:'d|\swould|'ll|\swill)\s(?:both|two)\s(?:really\s)?(?:benefit|enjoy"
            r"|get\salong|hit\sit\soff|have\sa\slot))"
            # reciprocal by nature, "both" or not: "I think you'd hit it off"
            r"|(?i:\byou(?:'d|\swould|'ll|\swill)\s(?:really\s|definitely\s)?(?:hit\sit\soff"
            r"|get\salong\s(?:great|well|famously)))"
            # the two told to go on without the author: "so you can connect directly"
            r"|(?i:\byou\s(?:can|could|may)\s(?:now\s)?(?:connect|talk|chat|speak|correspond"
            r"|coordinate|write)\s(?:directly(?!\s(?:to|with)\s(?:me|us)\b)|with\seach\sother)\b)"
            rf"|(?i:\bso\s(?:that\s)?{_YOU_BOTH}\scan\s(?:talk|chat|connect|meet|speak|discuss))"
            # the reciprocal: "you two can help each other", "you both ought to know one another"
            rf"|(?i:\b{_YOU_BOTH}\b[^.!?\n]{{0,40}}?\b(?:each\sother|one\sanother)\b)"
            r"|(?i:\byou\sshould\s(?:chat|connect|talk|meet\sup|compare\snotes|swap\snotes))"
            # (not "get together with your teams": with others, not with each other)
            r"|(?i:\b(?:please|pls)\s(?:get\stogether(?!\swith\s(?:your|their|the|our)\b)"
            r"|connect(?!\sto\b)|compare\snotes)\b)"
        ),
        # the ones addressed told to reach each other: "Please call each other directly" (a
        # hand-on when they are new to each other; colleagues sorting out a shift say it too)
        "cue_reach_each_other": (
            r"(?i:\b(?:please|pls|kindly|feel\sfree\sto)\s(?:call|phone|ring|e-?mail|contact|write\sto"
            r"|talk\sto|speak\sto|reach\sout\sto|connect\swith|get\sin\stouch\swith"
            r"|coordinate\swith)\seach\sother\b)"
        ),
        "cue_common_ground": (
            r"(?i:\b(?:similar|same)\s(?:things|problems|space|issues?|interests|area)\b"
            r"|\bin\scommon\b|\bmutually\sbeneficial\b|\bboth\s(?:like|love|work))"
        ),
        "cue_opt_in_ask": (
            r"(?i:\b(?:would\syou\s(?:mind|be\s(?:open|interested|up\sfor|willing))|"
            r"are\syou\s(?:open|interested|up\sfor)|(?:ok|okay|mind)\sif\si)\b[^.?!\n]{0,80}?"
            r"\b(?:intro|introduc|connect|meet))"
            r"|(?i:\bdo\syou\swant\sto\s(?:talk|chat|meet|connect)\b)"
            # the author offers to make it, asking: "Want me to connect you?", "Shall I intro you?"
            r"|(?i:\b(?:(?:do\syou\s)?want\sme\sto|shall\si|should\si)\s(?:make\san?\s)?"
            r"(?:(?:e-?)?intro(?:duction)?\b(?!\s(?:myself|ourselves))|introduce\s(?!myself|ourselves)"
            r"|connect\syou|put\syou\sin\stouch)[^.?!\n]{0,60}\?)"
            # a call with someone else, asked: "Would you be open to a short call with her?"
            r"|(?i:\b(?:would\syou\sbe|are\syou)\s(?:open|interested|up\sfor|willing)\sto\s"
            r"(?:(?:(?:have|set\sup|take|do|jump\son|grab)\s)?(?:a\s|an\s)?(?:short\s|quick\s"
            r"|brief\s)?(?:call|chat|coffee|conversation|talk)\swith"
            # "Would you be willing to talk with him?": a third person, offered
            r"|(?:talk|speak|meet|chat)\s(?:with|to))\s(?:him|her|them)\b)"
        ),
        # --- the hand-off ---
        "cue_hand_off": (
            r"(?i:\b(?:take\sit\sfrom\shere|over\sto\syou(?:\stwo|\sboth)?\b|i'?ll\s(?:step\s(?:aside"
            r"|back|away|out)|bow\sout|drop\s(?:off|out)|"
            r"let\syou\s(?:two\s|both\s)?(?:take|connect|chat|talk|find|set|arrange|sort|figure"
            r"|work)|leave\s(?:it|the\srest|things)\s(?:to|with)\syou"
            r"|get\sout\sof\s(?:the|your)\sway)|"
            r"feel\sfree\sto\s(?:bcc|move)\sme|move\sme\sto\sbcc))"
            r"|\b[A-Z][\w'.]{1,30},?\s(?i:who\s)?(?i:will|may|should|is\sgoing\sto)\s(?i:(?:likely|probably"
            r"|soon|"
            r"also)\s)?(?i:be\sin\s(?:touch|contact)|reach\sout|contact\syou|call\syou|e-?mail\syou|"
            r"get\sin\stouch|follow\sup\s(?:with|w/?)\syou|get\sback\sto\syou"
            # "Anna will be contacting each of you"
            r"|(?:be\s)?(?:contact(?:ing)?|call(?:ing)?|e-?mail(?:ing)?|reaching\sout\sto)\s"
            r"(?:each|both|all)\sof\syou)"
            # the author prompts one party to contact the other, or says the other expects it
            r"|(?i:\b(?:drop|send|shoot)\s(?:him|her|them)\s(?:a\s)?(?:line|note|message|mail"
            r"|e-?mail)\b|\b(?:he|she)(?:'d|\swould|'ll|\swill)\s(?:be\s(?:glad|happy|delighted)"
            r"|love)\sto\shear\sfrom\syou"
            # the other will write: "You should hear from her soon"
            # (from "hear": a hand-off opening with "you" is refused as the author's promise)
            r"|(?=(?:soon\s)?hear\s)(?:(?<=you'll\s)|(?<=you\swill\s)|(?<=you\sshould\s))"
            r"(?:soon\s)?hear\sfrom\s"
            r"(?:him|her|them)\b)"
            r"|\b[A-Z][\w'-]{1,30}\s(?i:knows\s(?:i'?m|i\sam|i\swas)\s(?:sending|writing|forwarding"
            r"|connecting))"
            # "Jake should be able to help you", "I'll let Jake comment on this"
            # (a name, then perhaps who they are: "Bill Williams in our real time group is going to
            # handle this", "Marcia Linton (Jim's assistant) can give you the call-in number")
            r"|\b[A-Z][\w'.]{1,30}(?:\s[A-Z][\w'.]{1,30}|\s[a-z][\w'.]{2,30}(?=\s(?:will|can|should)\s))?"
            r"(?:\s\([^()\n]{1,40}\)|(?:\s(?:in|of|from|on)"
            r"\s(?:our|the|my)\s[\w&-]{1,20}(?:\s[\w&-]{1,20}){0,2}))?"
            r"\s(?i:should|can|could|will|may|might|is\sgoing\sto)\s(?i:be\sable\sto\s)?"
            r"(?i:(?:help|assist|answer|advise|handle|give\syou|take\scare\sof)\b[^.!?\n]{0,40}?"
            r"(?:\byou\b|\byour\b)|(?:handle|take\scare\sof)\s(?:this|it|that)\b"
            # "David roland will be point person on this"
            r"|be\s(?:the\s|your\s|our\s)?(?:point\s(?:person|of\scontact)|(?:main\s|primary\s)?contact"
            r"|go-to\sperson)\b)"
            # the reader asked to help people named: "Tim and Joe will likely need your assistance"
            rf"|\b{NAME}(?:\s(?i:and)\s{NAME})?\s(?i:will|may|might|would)\s(?i:(?:likely|probably"
            r"|also)\s)?(?i:need|want|appreciate|value)\s(?i:your)\s(?i:help|assistance|input"
            r"|support|advice|expertise)\b"
            # the author asks one party to introduce themself to the other
            r"|(?i:\bintroduce\syourself\b)"
            rf"|(?i:\bi'?ll\slet\s){NAME}(?i:\s(?:comment|answer|chime\sin|weigh\sin|respond"
            r"|take\sover|take\sit\sfrom\shere|explain))"
            # the author asks one party to contact the other: "I've asked Kris to follow up w you"
            r"|(?i:\b(?:asking|asked|ask|told)\s)(?:(?i:him|her|them)|"
            rf"{NAME}"
            r")(?i:\sto\s"
            r"(?:[\w ]{0,40}?\s)?(?:contact|call|e-?mail|reach\sout\sto|get\sin\stouch\sw"
            r"|be\sin\stouch\sw|follow\sup\sw|get\sback\sto|connect\sw|work\sw|touch\sbase\sw)"
            r"(?:ith|/)?\s(?:you|w))"
        ),
        "cue_gave_name": (
            r"(?i:\b(?:gave|given|passed|shared)\s(?:him|her|them)\syour\s(?:name|number|e-?mail"
            r"|details|contact|info))|(?i:\brecommended\syou\b)"
            # "I've given Marta your email", "I suggested she reach out to you"
            rf"|(?i:\b(?:gave|given|passed|sent|shared)\s){NAME}(?i:\syour\s(?:name|number|e-?mail"
            r"|details|contact|info|address)\b)"
            r"|(?i:\b(?:suggested|recommended|encouraged|asked|told|invited)\s(?:that\s)?(?:he|she|they"
            r"|him|her|them)\s(?:to\s)?(?:reach\sout\sto|contact|call|e-?mail|write\sto|get\sin\stouch"
            r"\swith)\syou\b)"
            # the reader described to the other side as the one to ask: "I told him about you",
            # "I told him that your son taught there", "I told her you'd call" (not "that you
            # were away": news, not a hand-off)
            r"|(?i:\b(?:i'?ve|i\shave|i)\s(?:told|mentioned\sto)\s(?:him|her|them)\s(?:about\syou\b"
            r"|(?:that\s)?you(?:'d|\swould|'ll|\swill)\s(?:call|contact|reach\sout|e-?mail|write"
            r"|be\sin\stouch|get\sin\stouch)\b|(?:that\s)?your\s(?:[a-z]+\s)?(?:son|daughter|wife"
            r"|husband|family|brother|sister|experience|background|work|company|firm|team|expertise"
            r"|shop|business|office|practice)\b))"
            rf"|(?i:\byou(?:'ll|\swill|\sshould)\s(?:soon\s)?(?:be\s)?hear(?:ing)?\sfrom\s){NAME}"
            r"|(?i:\breferr(?:ed|ing)\s(?:him|her|them)\sto\syou\b)"
            rf"|(?i:\btold\s){NAME}(?i:\sabout\syou\b)"
            r"|(?i:\btold\s(?:him|her|them)\s(?:about\syou|you(?:'d|\swould|\smight|\smay|'ll"
            r"|\swill)\b|to\s(?:expect|write\sto|call|contact)\syou))"
        ),
        # someone else's résumé passed on to the reader now: "Attached is a resume for Emma
        # Caplan", "Here's his resume as promised", "Please review resume. She comes highly
        # recommended" (never the author's own: "attached is my resume"; never the kernel's
        # "this is the resume path")
        "cue_passes_on_cv": (
            r"(?i:\b(?:here(?:'s|\sis)|attached\sis|enclosed\sis|this\sis|i\s(?:am|'m)\s(?:attaching"
            r"|forwarding|sending)|please\s(?:review|find|see))\s(?:a\scopy\sof\s)?(?:an?\s|the\s"
            rf"|his\s|her\s|(?-i:{NAME})['’]s\s)?r[eé]sum[eé]"
            r"(?=\s(?:of|for|from|as)\s|\s?[.,;:!]|\s*$))"
            # "Cover letter and resume from my brother are attached"
            r"|(?i:\br[eé]sum[eé]\s(?:of|for|from)\s(?:my|our|a|an)\s[\w-]{2,30}(?:\s[\w-]{2,30})?"
            r"\s(?:is|are)\sattached\b)"
        ),
        "cue_vouches": (
            r"(?i:\b(?:my|our)\s(?:good\s|dear\s|close\s|old\s|former\s)?(?:friend|colleague"
            r"|classmate|neighbou?r|roommate|student|nephew|niece|cousin|son|daughter|brother"
            r"|sister|brother-in-law|sister-in-law|godson|goddaughter)"
            rf",?\s){NAME}|(?i:\bmy\sfriend\swho\b)"
            r"|(?i:\ban?\s(?:good\s|dear\s|close\s|old\s)?(?:friend|colleague|classmate)\sof\s"
            rf"(?:mine|ours),?\s){NAME}"
        ),
        # --- the loop-in: someone copied, named in the same breath ---
        "cue_copy_in": (
            # (the verb once for the three sayings that follow it at once: it ends in one place
            # only, where a colon can follow none of them, so each is tried as before)
            rf"{_COPIES}(?:\s{{0,2}}'?(?:in\s)?(?:[\w-]{{1,30}},?\s(?:and\s)?)?"
            r"(?:(?i:him|her|them)\b"
            rf"|(?i:the\s|my\s|our\s)?{NAME}"
            # a group of people: "the foo maintainers", "our storage folks"
            r"|(?:(?i:the|my|our|some|other|a\sfew|more|few|relevant|associated)\s)?"
            # "adding experts to cc", "Cc-ing also author of commit…", "CC'ing likely suspects"
            r"(?:[\w/-]{1,30}\s){0,2}(?i:maintainers?\b|folks?|people|guys|gentlemen|experts|reviewers"
            r"|developers|colleagues|suspects|committers|authors?\b|team\b))"
            # a list and people: "+CC pdx86 list, Armin, Derek", "+CC linux-hwmon, Guenter"
            rf"|\s[^.\n]{{1,40}}?,\s(?:and\s)?{NAME}"
            # ... joined by "and": "CC'ing the list and Hans", "adding linux-usb ML and Alan"
            rf"|\s(?i:the\s)?(?:[\w-]{{1,30}}\s)?"
            rf"(?i:ml|list|mailing\slist)s?\s(?:and|&)\s{NAME})"
            r"|^\s{0,4}[\[(]?\+\s?[A-Z][\w'-]{1,30}"
            # "CC Roman who wrote it", "[CC Conor as DT expert]": a bare "cc" opening a line
            # (no colon: "Cc: Name <addr>" is a patch trailer)
            # "[ Cc Kent and Bcachefs ML ]", "cc Eric Sandeen <sandeen@…> who wrote…",
            # "[ add Neil, who… ]" (bracketed only: a bare "add X" is any instruction)
            # "Cc += Srini who maintains…", "[cc:Martin]" (a colon in brackets only)
            r"|^[ \t]{0,4}(?:[\[(]?[ \t]{0,2}(?i:cc)(?:[ \t]{1,2}\+=)?[ \t]{1,2}"
            r"|[\[(][ \t]{0,2}(?i:cc)[ \t]{0,2}:[ \t]{0,2}|[\[(][ \t]{0,2}(?i:add)[ \t]{1,2})"
            rf"{NAME}"
            r"(?:[ \t]{0,2}<[^<>\s]{3,80}>)?(?=[ \t]{0,2}(?:$|[,.;!)\]]"
            r"|[ \t](?i:who|as|for|since|because|in\scase|and|here|too|to)\b))"
            # "bringing Jake into the conversation"
            rf"|(?i:\bbring(?:ing)?\s){NAME}(?i:\sin(?:to)?\b)"
            # "George (gbiv@, cc'ed)", "Jason (CCed)", "Marty (cc-ed)"
            # a group the same way: "the respective maintainers (added to Cc here)",
            # "Acme engineers(jo@acme…, CCed)"; one person by role: "our new team member (CCed)"
            rf"|(?:{NAME}|(?i:maintainers?|reviewers?|experts?|folks|people|engineers?|developers?"
            r"|colleagues?|(?:team\s)?members?))\s{0,2}\((?:[^()\n]{0,30}\s)?\+?\s?"
            r"(?i:cc'?d|cc'ed|cced|cc-e?d|cc|copied|in\scc|on\scc)(?:\s(?i:here|now|too))?\)"
            # "John is cc'd here", "Jane has been copied"
            rf"|{NAME}\s(?i:is|has\sbeen|are|have\sbeen)\s(?i:cc'?d|cced|cc'ed|copied|looped\sin"
            r"|included)\b"
            # "adding the gentlemen from that commit to Cc", "added Jo into this mail thread"
            rf"|{_COPIES}\s[^.\n]{{1,40}}?\s{_INTO_THREAD}"
            # a bare "add" said by the author, with where to: "Let's add Jonathan to the CC
            # list", "I add jo@… into this mail thread" (alone, "add X" is any instruction)
            rf"|(?i:(?=add)(?:(?<=let's\s)|(?<=\bwe\s)|(?<=\bi\s))add)\s(?:{NAME}|[\w.+-]{{1,40}}@[\w-]{{1,40}}"
            rf"(?:\.[\w-]{{1,20}})+)\s{_INTO_THREAD}"
            # the name first: "(handled by Bryan, added to the Cc list)"
            rf"|{NAME},?\s(?i:(?:now\s)?(?:added|cc'?d|cced|copied))\s{_INTO_THREAD}"
            # a sentence of its own after naming someone: "A question for Tony and Yazen. CCed."
            r"|(?:^|(?<=[.?!]\s))(?i:cc'?ed|cced|cc'?d|copied|added)[.!]"
        ),
        "cue_copy_why": (
            # (one word boundary, then the first letters, for all of its sayings)
            r"(?i:\b(?=[abcfimstw])(?:who\s(?:knows|has\sbeen|was|were|is|are|wrote|manages|owns|can|tried|works|"
            r"created|maintains|might|may)|(?:since|because)\s(?:[^.!?\n]{0,20}?\s)?(?:they|he|she)\b|so\s(?:that\s)?(?:he|she|they)\scan\b"
            r"|for\s(?:the\s)?[\w/-]{2,30}\s(?:part|discussion|side|question|query)"
            r"|as\sthe\s(?:author|maintainer|owner)|from\sthe\s[\w -]{2,30}(?:team|side"
            r"|project)"
            r"|(?:can|could|will|may|might)\s(?:help|assist|advise|get\syou|comment"
            r"|take\sa\slook)"
            r"|(?:any\sthoughts|thoughts\son\sthis|take\sa\slook|can\syou\splease)"
            r"|in\scase\s|if\s(?:he|she|they)\shas|as\si\shope|think\b))"
        ),
        # --- look-alikes ---
        "neg_asks_for_intro": (
            r"(?i:\b(?:introduce|intro|connect|refer|put)\sme\b|\bmake\san?\sintro(?:duction)?\sfor"
            r"\sme|\b(?:use\syou\sas|give\sme)\sa\sreferral\b|\bdo\syou\sknow\s(?:any|some)(?:one|"
            r"body)|\b(?:agree(?:d|ing)?|willing)\sto\s(?:forward|pass)\b|\bforwardable\b"
            r"|\b(?:would|could|can)\syou\s(?:please\s)?(?:introduce|intro|connect)\b"
            r"|\bi\swould\s(?:love|like)\san?\sintro)"
        ),
        "neg_thanks_for_intro": (
            r"(?i:\bthanks?(?:\syou)?(?:\sso\smuch|\sagain)?\sfor\s(?:the|your|making\sthe|this|"
            r"arranging\sthe)\s(?:kind\s|warm\s|great\s)?(?:intro|introduction|connection|referral)"
            r"|\bthanks?\s(?:you\s)?for\s(?:introducing|connecting)\s(?:me|us)\b"
            r"|\b(?:after|since|when)\syou\sintroduced\s(?:me|us)\b"
            r"|\b(?:as\sa\sresult\sof|thanks\sto)\syour\s(?:intro|introduction|referral)\b"
            r"|\bthanks?\s(?:you\s)?for\s(?:cc'?ing|cc-ing|ccing|adding|including|looping)\sme\b"
            r"|\b(?:so\s)?pleased\syou\swere\sable\sto\s(?:meet|visit))"
        ),
        "neg_self_intro": (
            r"(?i:\bintroduc(?:e|ing|tion\sof)\smyself\b|\bmy\sname\sis\b"
            r"|\bintroduction\sof\smyself"
            r"|\bhas\sshared\syour\s(?:information|details|contact))"
        ),
        "neg_reply": (
            r"(?i:\b(?:nice|great|good|lovely|pleasure|wonderful|excited|glad)\sto\s(?:e-?)?meet\s"
            r"you\b)"
        ),
        "neg_moved_to_bcc": r"(?i:\bmov(?:ing|ed)\s(?:\w+\s){0,2}to\sbcc\b|\(moved\sto\sbcc\))",
        "neg_out_of_office": (
            r"(?i:\bout\sof\s(?:the\s)?office\b|\bin\smy\sabsence\b|\bback\sme\sup\b"
            r"|\b(?:i|he|she)(?:'ll|\swill)\sbe\s(?:out|away|on\s(?:vacation|holiday|leave))\b"
            r"|\baway\suntil\b|\bon\svacation\suntil\b|\bcover(?:ing)?\sfor\sme\b"
            r"|\buntil\smy\sreturn\b|\ballow\sme\sto\sreply\son\shis|\bon\shis\sbehalf)"
        ),
        "neg_bulk": (
            r"(?i:\bunsubscribe\b|\bview\s(?:this|it)\s(?:e-?mail\s)?in\s(?:your|a)\sbrowser\b"
            r"|\bmanage\s(?:your\s)?(?:e-?mail\s)?(?:preferences|notifications|subscription)"
            r"|\bforward\sthis\sto\syour\sfriends)"
        ),
        "neg_logistics": (
            r"(?i:\bdial[- ]?in\b|\bpass\s?code\b|\bconference\s(?:call|bridge)\b|\bcalendar\s"
            r"invite\b|\bplease\smake\splans\sto\sattend|\bcall\sme\son\smy|\bwould\slike\sfor\s"
            r"you\sto\scall)"
        ),
        "neg_fyi_copy": (
            # (one word boundary, then the first letters, for all of its sayings)
            r"(?i:\b(?=[abcfgiknost])(?:fyi\b|for\s(?:your|his|her|their)\s(?:information|visibility|awareness|"
            r"records|reference)\b|for\s(?:visibility|visiblity|awareness|reference|info)\b"
            r"|keep\s(?:him|her|them|you)\s(?:in\sthe\sloop|informed|posted)\b|to\sbe\saware"
            r"|(?:be|being|get|stay)\s(?:informed|notified)\b|informed\sof\b"
            r"|on\sthe\ssame\spage\b|as\si\smention(?:ed)?\s(?:him|her|them)|as\sreference"
            r"|now\sin\sthe\sloop\b|as\sa\sheads[-\s]?up\b"
            # "I have copied Leo so he knows the invoice is late", "so she is aware"
            r"|so\s(?:that\s)?(?:he|she|they)\s(?:is|are|'s|'re|will\sbe|can\sbe)\s(?:aware|informed"
            r"|in\sthe\sloop)\b|so\s(?:that\s)?(?:he|she|they)\s(?:knows?|has\sit|have\sit"
            r"|has\sa\scopy|have\sa\scopy)\b"
            # the same said with a modal: "so he will know", "so she can keep up w everyone"
            r"|so\s(?:that\s)?(?:he|she|they)(?:\s(?:will|can|could|would)|'ll)\s(?:know"
            r"|keep\s(?:up|track|abreast)|stay\s(?:informed|posted|up\sto\sdate|in\sthe\sloop)"
            r"|follow\s(?:it|this|along))\b"
            r"|(?:copying|cc'?ing|copied|adding|added)\s[A-Z][\w'-]{1,30}(?:\s[A-Z][\w'-]{1,30})?"
            r"\son\s(?:this|these|the\s(?:thread|e-?mail|mail|note))\b))"
        ),
        "neg_list_copy": (
            # (the first letters looked ahead for: this runs on every sentence that says "cc")
            r"(?i:(?=[+aci])(?:(?<!\w)\+\s?cc:?|\b(?:cc'?ing|adding|added|copying|copied"
            r"|including))\s(?:also\s)?(?:the\s)?"
            # "cc'ing the foo list", "adding LSM and SELinux lists", "… mailing lists"
            r"(?:[\w-]{1,30}\s(?:and\s[\w-]{1,30}\s)?)?(?:ml|list|mailing\slist|maillist"
            r"|mailing-list)s?\b)"
        ),
        # repairing the recipients: someone left off, dropped or at a wrong address
        "neg_missed_copy": (
            r"(?i:\bmissed\s[\w' ]{0,30}address|\bforg[eo]t(?:ting)?\s(?:to\s)?(?:cc|copy|add"
            r"|include|\+)|\bwas\sin\s[\w' ]{0,30}"
            r"cc\slist\sbut\snot|\bmeant\sto\s\+?cc\b|\bmissing\sfrom\s(?:the\s)?(?:cc|to|recipient)"
            r"|\bby\smistake\b|\bshould\shave\s(?:cc|copied|included|added)"
            r"|\b(?:correct|new|right|work)\s(?:e-?mail\s)?address|\bdropped\sfrom\s(?:the\s|this\s)?"
            r"(?:cc|discussion|thread|recipient)|\bremember(?:ing|ed)?\sto\s\+?cc\b"
            # the same person copied at another mailbox: "+CC Richard's other account" (said
            # with the copy: "the new account" alone is any business)
            r"|(?:\+\s?cc|\bcc(?:'?ing|'?ed|'d)?|\bcced|\bcopying|\badding)\s(?-i:[A-Z][\w'’-]{1,30}\s"
            r"|(?:his|her|their|your)\s)(?:other|personal|work|new|correct|right)\s(?:e-?mail\s)?"
            r"account\b"
            r"|\baddress\s[\w' ]{0,30}\bscrew(?:ed)?\sup"
            # a recipient restored or owed: "(adding back Daniel)", "re-adding Jo", "should have
            # been included", "I accidentally missed you while sending the patch"
            # (a person or a copy put back, not code: "adding back the NULL check")
            r"|\b(?:add(?:ing|ed)?\sback|re-?add(?:ing|ed)?)\s(?:(?-i:[A-Z][a-z][\w'-]{0,29})|him|her|them)\b"
            r"|\badd(?:ing|ed)?\s(?-i:[A-Z][a-z][\w'-]{0,29})\sback\b|\bre-?cc(?:ing|ed|'d)?\b"
            # ... people put back as a group: "(adding back other people in Cc)", "adding back
            # everyone", "re-adding the folks from v1"
            r"|\b(?:add(?:ing|ed)?\sback|re-?add(?:ing|ed)?)\s(?:(?:the|other|some|all|a\sfew)\s){0,2}"
            r"(?:people|folks|everyone|everybody|recipients|reviewers|maintainers|cc)\b"
            r"|\bshould\shave\sbeen\s(?:cc'?d|cced|copied|included|added|on\scc)\b"
            r"|\b(?:accident(?:al)?ly|inadvertently|mistakenly)\s(?:missed|dropped|left\sout|removed"
            r"|omitted|forgot))"
        ),
        "neg_admin_copy": (
            # ("coordinate with my admin, Sharon": an admin is an assistant by its short name)
            r"(?i:\b(?:my|our)\s(?:executive\s|personal\s|administrative\s)?(?:assistant|secretary"
            r"|scheduler|admin)\b"
            # the one copied keeps the author's diary: "Lisa, who manages my schedule"
            r"|\b(?:manages|keeps|runs|handles|does|looks\safter)\s(?:my|our)\s(?:schedule|calendar"
            r"|diary)\b"
            r"|\bci-authorized|\bto\sthe\s(?:[\w-]{1,30}\s){1,4}(?:group|team|committee)\b)"
        ),
        "neg_welcome": (
            r"(?i:\bwelcome\sto\s(?:the\s)?(?:list|project|group|community|team|openbmc|club)"
            r"|\bplease\s(?:join\sme\sin\s)?welcom(?:e|ing)\b|\b(?:pleased|happy|excited)\sto\s"
            r"(?:announce|welcome)\b|\bwould\slike\sto\sannounce\b|\bmy\slast\s(?:week|day)"
            # "I would like to welcome Tim, Gordon and David to the Portland team"
            r"|\bwelcome\s[^.!?\n]{0,80}?\bto\s(?:the|our)\s[\w -]{0,40}?\b(?:team|group|office"
            r"|company|firm|department|desk|floor)\b)"
        ),
        "neg_referral_programme": (
            r"(?i:\breferral\s(?:program|programme|bonus|link|code|fee|reward)|\brefer\sa\sfriend"
            r"|\brefer\syour\s(?:friends|colleagues)|\bknow\sanyone\swho\smight\sbe\sinterested)"
        ),
        "neg_offer_later": (
            r"(?i:\b(?:happy|glad)\sto\s(?:introduce|connect)\syou\b[^.!?\n]{0,60}?\b(?:if|when)\b"
            r"|\bif\syou(?:'d|\swould)\slike\s(?:an\sintro|me\sto\s(?:introduce|connect))"
            r"|\blet\sme\s"
            r"know\sif\syou(?:'d|\swould)\slike\s(?:an\s)?(?:intro|me\sto\sintroduce)"
            r"|\bcan\sintroduce\syou\s(?:if|when|later)"
            # the act promised for later: "I'll introduce you to my brother next week"
            r"|\b(?:i'?ll|i\swill|we'?ll|we\swill)\s(?:introduce|connect)\syou\b[^.!?\n]{0,60}?"
            r"\b(?:next\s(?:week|month|time)|tomorrow|later|once|when|after|as\ssoon\sas"
            r"|in\sa\s(?:few\s)?(?:days?|weeks?)))"
        ),
        # the reader speaks for the author: "Pls call him and say I can't make it"
        "neg_relay": (
            r"(?i:\b(?:and|to)\s(?:tell\s(?:him|her|them)|let\s(?:him|her|them)\sknow|say)\s(?:that\s)?"
            r"(?:i|i'm|i'll|i'd|i've|i\scan't|we're|we'll)\b|\bon\smy\sbehalf\b"
            r"|\b(?:send|give)\s(?:him|her|them)\smy\s(?:best|regrets|thanks|love|regards)\b)"
        ),
        # a telephone connection, not people: "ops has a line they can connect you to",
        # "the operator will connect you to the call"
        "neg_phone_line": (
            r"(?i:\b(?:operator|ops|switchboard|(?:phone|open|secure|non-secure|conference|dial-?in)"
            r"\sline)\b[^.!?;,\n]{0,40}?"
            r"\bconnect(?:ed|ing)?\s(?:you|u)\b"
            r"|\bconnect(?:ed|ing)?\s(?:you|u)\s(?:to|through|on|via|into)\s(?:the\s|a\s|an\s"
            r"|our\s)?(?:call|line|phone|bridge|conference|number)\b)"
        ),
        "neg_pointer": (
            r"(?i:\bplease\scontact\s(?:them|him|her)\b|\byou\smight\s(?:want\sto\s)?(?:call"
            r"|contact"
            r"|e-?mail|reach\sout\sto|talk\sto|try)\b|\byou\s(?:need|should|want)\sto\s(?:cc"
            r"|contact|get\sin\stouch)"
            r"|\bcontact\s[A-Z][\w-]{1,30}\s[A-Z][\w-]{1,30}\s\(who|\bsomeone\swho\sknows\smore)"
        ),
    },
    # (the look at the first letter leaves a word no alternative starts with at once)
    describes=(
        r"(?i:\b(?=[bcdefhiklmnorsw])(?:is\s(?:a|an|the|our|my)|runs|works|leads|heads|founded"
        r"|founder|built|builds|building|hosted|hosts|owns|manages|knows|has\sbeen|who|whom|expert|specialist|"
        r"looking\sfor|is\shoping|is\sstarting|does|did|maintains|wrote|created|worked|needs))"
    ),
    greeting=r"(?i:hi|hey|hello|dear|greetings|good\smorning|good\safternoon)",
    # (not a destination: "adding Przemyslaw to the thread since…")
    # (a destination, "to the thread" or a bare "to cc", is where the copy goes, not why)
    purpose=(
        r"(?i:\b(?:so(?:\sthat)?|to(?!\s(?:(?:the|this|these|that|our)\s)?(?:thread|cc|conversation"
        r"|discussion|loop|list|e-?mail|mail|note|recipients)\b)|in\sorder\sto"
        r"|(?:and\s)?(?:am\s)?ask(?:ing)?\s\w{2,30}\sto|for)\s)"
    ),
    toward=r"(?i:\b(?:you|your|yours|us|we|y'all)\b)",
    roles=(
        r"(?i:\b(?:director|manager|president|professor|chair(?:man|woman)?|intern"
        r"|is\sinterested))"
    ),
    reason=r"(?i:\b(?:because|since|who|as|which|given)\b)",
    logistics=(
        r"(?i:\b(?:schedul(?:e|ing)|(?:find|finding|look(?:ing)?\sfor|set(?:ting)?\sup|pick)\s"
        r"(?:a\s|some\s|the\s)?(?:time|date|day|slot)s?|print|book(?:ing)?\s(?:a\s|the\s)?(?:room"
        r"|table|flight|travel)|arrange\s(?:the\s)?(?:logistics|travel))\b)"
    ),
    contact=(
        r"(?i:\b(?:call|contact|connect|coordinate|reach|follow\sup|get\sin\stouch|be\sin\stouch"
        r"|set\s(?:it|this|that|things)\sup|set\sup\s(?:a\s)?(?:time|call|meeting)|arrange|schedule|give\s(?:you|him|her|them)|work"
        r"|meet|talk|speak|help|get\sstarted|write\sto|e-?mail\s(?:you|him|her|them))\b)"
    ),
    gates=GATES,
    alternative_gates=ALTERNATIVE_GATES,
)
