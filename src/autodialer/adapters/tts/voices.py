"""Which voice speaks a question: from its ``lang`` (``ru-RU``, ``en-US`` …) to an engine voice name.

Order, first match wins: the whole tag lower-cased (``en-us``); its language (``ru``); our preferred regional voice
for a bare language (``en`` → ``en-us``, ``fr`` → ``fr-fr``); ``<lang>-<lang>``; the first voice of that language
in name order. If none exists the same steps run for the configured default language, and finally ``en``, which
espeak-ng always has.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

PREFERRED = {"en": "en-us", "fr": "fr-fr", "zh": "cmn"}
LAST_RESORT = "en"


def _candidates(tag: str, available: Collection[str]) -> Iterator[str]:
    full = tag.strip().lower().replace("_", "-")
    if not full:
        return
    language = full.split("-", 1)[0]
    yield full
    yield language
    if language in PREFERRED:
        yield PREFERRED[language]
    yield f"{language}-{language}"
    yield from sorted(v for v in available if v.startswith(language + "-"))


def voice_for_lang(lang: str | None, available: Collection[str], default_lang: str) -> str:
    for tag in (lang or "", default_lang):
        for candidate in _candidates(tag, available):
            if candidate in available:
                return candidate
    return LAST_RESORT
