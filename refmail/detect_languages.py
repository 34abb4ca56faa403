"""The languages detection knows, keyed by ISO 639-1 code: one table module each.

Adding a language is adding its table module (the same feature names as `detect_lang_en`) and
one entry here.
"""

from __future__ import annotations

from refmail.detect_lang import LanguageData
from refmail.detect_lang_en import ENGLISH
from refmail.detect_lang_es import SPANISH

LANGUAGES: dict[str, LanguageData] = {"en": ENGLISH, "es": SPANISH}
