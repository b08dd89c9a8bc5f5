"""Which language a visitor is spoken to in: the widget, system messages and emails agree."""

import functools
import hashlib
from pathlib import Path

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import DjangoTranslation
from django.views.i18n import JavaScriptCatalog

from .models import Conversation, Site, Visitor

# Longer than any real tag ("zh-Hant-TW"); the widget sends navigator.language verbatim.
LANGUAGE_TAG_MAX_LENGTH = 35


def language_best_match(tags: list[str] | str | None) -> str:
    """The first of the browser's language tags (most preferred first) that LANGUAGES offers,
    as its LANGUAGES code ("de-AT" is "de"); "" when none is offered."""
    if isinstance(tags, str):
        tags = [tags]
    for tag in tags or []:
        if not isinstance(tag, str) or not tag or len(tag) > LANGUAGE_TAG_MAX_LENGTH:
            continue
        try:
            return get_supported_language_variant(tag.strip().lower())
        except LookupError:
            continue
    return ""


def visitor_language(*, site: Site, visitor: Visitor | None = None) -> str:
    """A language fixed by the site wins (the widget shows it whatever the browser says); else
    the browser language the visitor last said hello with; else the default."""
    return site.language or (visitor.language if visitor is not None else "") or settings.LANGUAGE_CODE


def conversation_language(conversation: Conversation) -> str:
    """System messages are stored once, as text, in the language the visitor's widget shows;
    agents read them in it too (they are short, and the visitor's own words are in it anyway)."""
    return visitor_language(site=conversation.site, visitor=conversation.visitor)


def widget_language(*, site: Site, browser_tags: list[str], accept_language: str) -> str:
    """The widget's language: the site's fixed one; else the first of the browser's languages
    (navigator.languages, sent by the widget) that LANGUAGES offers; else the Accept-Language
    match LocaleMiddleware made (the default when nothing matched)."""
    return site.language or language_best_match(browser_tags) or accept_language or settings.LANGUAGE_CODE


@functools.lru_cache(maxsize=16)
def widget_catalog(language: str) -> dict[str, object]:
    """The djangojs catalogue of this project's own locale/ (not Django's admin strings), as
    JSONCatalog answers it: {"catalog": {msgid: msgstr or [plural forms]}, "plural": expr}.
    Kept per process, like Django's own translations: new catalogues come with a restart."""
    view = JavaScriptCatalog()
    view.translation = DjangoTranslation(
        language, domain="djangojs", localedirs=[str(path) for path in settings.LOCALE_PATHS]
    )
    return {"language": language, "catalog": view.get_catalog(), "plural": view.get_plural()}


@functools.cache
def catalog_version() -> str:
    """Changes whenever a compiled catalogue does, so a widget catalogue URL can be cached for
    long: a deploy with new translations hands out new URLs."""
    digest = hashlib.sha256()
    for locale_path in settings.LOCALE_PATHS:
        for mo in sorted(Path(locale_path).glob("*/LC_MESSAGES/djangojs.mo")):
            digest.update(mo.read_bytes())
    return digest.hexdigest()[:12]
