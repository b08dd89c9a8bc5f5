"""Languages and time zones (issue #9): complete catalogues, and each viewer's language and zone.

The catalogues are checked with GNU gettext's own tools (msgattrib, msgfmt), which CI has; the
pages, the widget's config and catalogue, system messages and emails are rendered for real.
"""

import ast
import gettext
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from agents.middleware import agent_locale
from chat import services
from chat.emails import follow_up_render, review_request_render, transcript_render
from chat.emails.queueing import new_message_id
from chat.models import Conversation, Message, OutboundEmail
from tests.agents.factories import make_agent, make_team
from tests.chat.factories import ORIGIN, make_conversation, make_site, make_topic

LOCALE = Path(settings.BASE_DIR) / "locale"
DOMAINS = ["django", "djangojs"]
MAKEMESSAGES_IGNORE = [".venv", "var", "bench", "tests", "node_modules", "test-results", "staticfiles"]


def gettext_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"GNU gettext's {name} is missing (apt-get install gettext)")
    return path


def untranslated_or_fuzzy(po: Path) -> list[str]:
    """The msgids of `po` with an empty msgstr, or marked fuzzy (obsolete entries left out)."""
    found = []
    for flag in ["--untranslated", "--only-fuzzy"]:
        result = subprocess.run(
            [gettext_tool("msgattrib"), flag, "--no-obsolete", "--no-wrap", str(po)],
            capture_output=True,
            text=True,
            check=True,
        )
        found += [line for line in result.stdout.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
    return found


def catalog(mo: Path) -> dict:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


# --- The catalogues -----------------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_german_msgid_is_translated_and_none_is_fuzzy(domain):
    po = LOCALE / "de" / "LC_MESSAGES" / f"{domain}.po"

    assert untranslated_or_fuzzy(po) == []


@pytest.mark.parametrize("domain", DOMAINS)
def test_committed_mo_is_the_compiled_po(domain, tmp_path):
    # Given the committed .po compiled afresh
    source = LOCALE / "de" / "LC_MESSAGES"
    fresh = tmp_path / f"{domain}.mo"
    subprocess.run([gettext_tool("msgfmt"), "--check", "-o", str(fresh), str(source / f"{domain}.po")], check=True)

    # Then the committed .mo holds the same catalogue: nobody forgot `compilemessages`
    assert catalog(source / f"{domain}.mo") == catalog(fresh)


def test_no_string_in_the_code_is_missing_from_the_german_catalogues(tmp_path, settings, monkeypatch):
    """makemessages over the code into a copy of locale/: a new or changed string in a template,
    in Python or in the widget/console JavaScript shows up there untranslated.

    makemessages writes a file's strings to the locale/ folder next to it, so it runs in a
    stand-in for the project: the code linked in, locale/ copied; the real catalogues stay as
    they are."""
    project = tmp_path / "project"
    project.mkdir()
    for entry in Path(settings.BASE_DIR).iterdir():
        if entry.name != "locale" and entry.name not in MAKEMESSAGES_IGNORE and not entry.name.startswith("."):
            (project / entry.name).symlink_to(entry)
    copy = project / "locale"
    shutil.copytree(LOCALE, copy)
    settings.LOCALE_PATHS = [copy]
    monkeypatch.chdir(project)

    for domain in DOMAINS:
        call_command(
            "makemessages",
            locale=["de"],
            domain=domain,
            ignore_patterns=MAKEMESSAGES_IGNORE,
            symlinks=True,
            verbosity=0,
        )

    missing = {domain: untranslated_or_fuzzy(copy / "de" / "LC_MESSAGES" / f"{domain}.po") for domain in DOMAINS}
    assert missing == {"django": [], "djangojs": []}, "run makemessages, translate, compilemessages (docs/languages.md)"


def test_every_gettext_call_in_the_javascript_is_in_the_catalogue():
    """xgettext's JavaScript parser loses its place on some syntax (`x++ < 3` reads as an E4X
    literal) and then silently skips the rest of the file: every literal gettext/ngettext call in
    static/ must have made it into djangojs.po."""
    nowrap = subprocess.run(
        [gettext_tool("msgcat"), "--no-wrap", str(LOCALE / "de" / "LC_MESSAGES" / "djangojs.po")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    msgids = {ast.literal_eval(quoted) for quoted in re.findall(r'^msgid (".*")$', nowrap, re.MULTILINE)}
    skipped = []
    for script in sorted((Path(settings.BASE_DIR) / "static").rglob("*.js")):
        source = script.read_text()
        for call in re.finditer(r'\b(?:gettext|ngettext)\(\s*("(?:[^"\\]|\\.)*")', source):
            if ast.literal_eval(call.group(1)) not in msgids:
                skipped.append(f"{script.name}:{source.count(chr(10), 0, call.start()) + 1}")

    assert skipped == []


# --- The console: the browser's language, or the agent's own; the agent's time zone -----------


@pytest.fixture
def agent(db):
    site = make_site()
    return make_agent(teams=[make_team(topics=[make_topic(site=site)], is_default=True)], supervisor=True)


def test_console_follows_the_browser_language(client, agent):
    client.force_login(agent.user)

    german = client.get(reverse("agents:console"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    french = client.get(reverse("agents:console"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    plain = client.get(reverse("agents:console"))

    assert "Meine Chats" in german.text and 'lang="de"' in german.text
    assert "My chats" in french.text and 'lang="en"' in french.text
    assert "My chats" in plain.text and "Meine Chats" not in plain.text


def test_agent_language_wins_over_the_browser(client, agent):
    agent.language = "de"
    agent.save()
    client.force_login(agent.user)

    page = client.get(reverse("agents:console"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert "Meine Chats" in page.text and "My chats" not in page.text
    assert page["Content-Language"] == "de"


def test_agent_language_costs_no_query_once_saved(agent, django_assert_num_queries):
    agent.language, agent.time_zone = "de", "Europe/Berlin"
    agent.save()

    with django_assert_num_queries(0):
        assert agent_locale(agent.user_id) == ("de", "Europe/Berlin")


def test_console_loads_the_javascript_catalogue_in_the_page_language(client, agent):
    agent.language = "de"
    agent.save()
    client.force_login(agent.user)

    page = client.get(reverse("agents:console"))
    script = client.get(reverse("javascript-catalog"))

    assert reverse("javascript-catalog") in page.text
    assert '"Connected": "Verbunden"' in script.text


def test_agent_time_zone_shows_server_rendered_times_in_it(client, agent):
    # Given a chat started at noon UTC in winter, and an agent working in Berlin (CET, UTC+1)
    conversation = make_conversation(site=make_site())
    Conversation.objects.filter(pk=conversation.pk).update(created_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    agent.time_zone = "Europe/Berlin"
    agent.save()
    client.force_login(agent.user)

    page = client.get(reverse("supervision:floor_chat", args=[conversation.pk]))

    assert "started 2026-01-15 13:00" in page.text


def test_agent_without_time_zone_sees_the_default_zone(client, agent, settings):
    conversation = make_conversation(site=make_site())
    Conversation.objects.filter(pk=conversation.pk).update(created_at=datetime(2026, 7, 15, 12, 0, tzinfo=UTC))
    client.force_login(agent.user)

    page = client.get(reverse("supervision:floor_chat", args=[conversation.pk]))

    assert settings.TIME_ZONE == "UTC"
    assert "started 2026-07-15 12:00" in page.text


def test_unknown_time_zone_is_a_clear_error(agent):
    agent.time_zone = "Mars/Olympus"

    with pytest.raises(ValidationError, match="Unknown time zone: Mars/Olympus"):
        agent.full_clean()


# --- The widget: the site's fixed language, else the browser's, else English ------------------


def widget_config(client, site, **query):
    return client.get(reverse("chat:widget_config", args=[site.key]), query, HTTP_ORIGIN=ORIGIN).json()


def test_widget_config_answers_german_for_a_german_browser(client, db):
    site = make_site()

    config = widget_config(client, site, browser_id="b1", languages="de-DE,de,en-US")
    catalogue = client.get(config["language"]["catalog_url"], HTTP_ORIGIN=ORIGIN)

    assert config["language"]["code"] == "de"
    # Nobody is online: the honest message (R3) is German too.
    assert config["availability"]["message"].startswith("Gerade ist niemand erreichbar.")
    assert catalogue["Access-Control-Allow-Origin"] == "*"
    assert "max-age" in catalogue["Cache-Control"]
    assert catalogue.json()["catalog"]["Chat with us"] == "Chatten Sie mit uns"


def test_widget_config_falls_back_to_english_for_a_language_not_offered(client, db):
    site = make_site()

    config = widget_config(client, site, languages="fr-FR,fr")

    assert config["language"] == {"code": "en", "catalog_url": None}


def test_widget_config_uses_accept_language_when_the_widget_sends_none(client, db):
    site = make_site()

    config = client.get(
        reverse("chat:widget_config", args=[site.key]), HTTP_ORIGIN=ORIGIN, HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.8"
    ).json()

    assert config["language"]["code"] == "de"


@pytest.mark.parametrize("browser", ["de-DE,de", "fr-FR", "en-GB"])
def test_site_language_wins_over_the_browser(client, db, browser):
    site = make_site()
    site.language = "de"
    site.save()

    config = widget_config(client, site, languages=browser)

    assert config["language"]["code"] == "de"


def test_widget_catalogue_of_an_unknown_language_is_a_clear_404(client, db):
    answer = client.get(reverse("chat:widget_catalog", args=["xx"]))

    assert answer.status_code == 404
    assert answer.json() == {"code": "not_found", "message": "No such language."}


def test_widget_catalogue_leaves_out_django_admin_strings(client, db):
    catalogue = client.get(reverse("chat:widget_catalog", args=["de"])).json()["catalog"]

    # An admin calendar string (django.contrib.admin's djangojs) is not the widget's business.
    assert "Today" not in catalogue
    assert catalogue["Send"] == "Senden"


# --- Visitors: the language they said hello with; system messages and emails in it ------------


def test_hello_stores_the_best_offered_language_of_the_browser(db):
    site = make_site()

    visitor, token = services.visitor_identify(site=site, token=None, language="de-CH")
    again, _ = services.visitor_identify(site=site, token=token, language="fr-FR")

    assert visitor.language == "de"
    again.refresh_from_db()
    assert again.language == "de"  # a language we do not offer changes nothing


def german_chat(*, language="de"):
    site = make_site()
    topic = make_topic(site=site)
    agent = make_agent(teams=[make_team(topics=[topic], is_default=True)], name="Anna")
    conversation = make_conversation(site=site, topic=topic)
    conversation.visitor.language = language
    conversation.visitor.save()
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body="Wo ist mein Paket?", client_id="c1"
    )
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    return conversation, agent


def test_system_messages_are_stored_in_the_visitors_language(db):
    german, agent = german_chat(language="de")
    english, _ = german_chat(language="")

    services.conversation_end(conversation_id=german.pk, ended_by=agent)

    system = list(german.messages.filter(sender=Message.Sender.SYSTEM).values_list("body", flat=True))
    assert system == ["Anna ist dem Chat beigetreten.", "Anna hat den Chat beendet."]
    assert english.messages.get(sender=Message.Sender.SYSTEM).body == "Anna joined the chat."


def test_transcript_email_is_in_the_visitors_language(db):
    german, _ = german_chat(language="de")
    english, _ = german_chat(language="en")
    for conversation in (german, english):
        Conversation.objects.filter(pk=conversation.pk).update(created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        conversation.refresh_from_db()

    in_german = transcript_render(german)
    in_english = transcript_render(english)

    assert in_german.subject == f"Ihr Chat mit {german.site.name} am 2. März 2026"
    assert "Fragen? Antworten Sie auf diese E-Mail" in in_german.text
    assert "Anna ist dem Chat beigetreten." in in_german.html
    assert in_english.subject == f"Your chat with {english.site.name} on 2 March 2026"
    assert "Questions? Reply to this email" in in_english.text
    # Rendering never changes the language of whoever rendered it.
    assert translation.get_language() == settings.LANGUAGE_CODE


def test_follow_up_and_review_emails_are_in_the_visitors_language(db):
    conversation, agent = german_chat(language="de")
    answer = services.message_post(
        conversation_id=conversation.pk, author=agent, body="Ihr Paket kommt morgen.", client_id="a1"
    )[0]
    email = OutboundEmail.objects.create(
        conversation=conversation,
        kind=OutboundEmail.Kind.FOLLOW_UP,
        to_address="kunde@example.com",
        message=answer,
        message_id_header=new_message_id(),
    )

    follow_up = follow_up_render(email)
    review = review_request_render(conversation)

    assert follow_up.subject == f"Eine Antwort auf Ihre Frage von {conversation.site.name}"
    assert f"hier ist die Antwort von {conversation.site.name}, auf die Sie gewartet haben" in follow_up.text
    assert review.subject == f"Wie waren wir? Eine kurze Bewertung für {conversation.site.name}"


def test_site_language_wins_for_emails_too(db):
    conversation, _ = german_chat(language="en")
    conversation.site.language = "de"
    conversation.site.save()

    assert transcript_render(conversation).subject.startswith("Ihr Chat mit")


def test_german_visitors_transcript_is_sent_in_german(transactional_db, settings, eager_tasks):
    # Given a German visitor who asked for the transcript, with the site in Berlin
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conversation, agent = german_chat(language="de")
    conversation.site.time_zone = "Europe/Berlin"
    conversation.site.save()
    services.visitor_contact_set(
        visitor=conversation.visitor, email="kunde@example.com", purpose="transcript", conversation_id=conversation.pk
    )

    # When the chat ends, the task sends it (eagerly here, as in the embedded default)
    services.conversation_end(conversation_id=conversation.pk, ended_by=agent)

    # Then subject and body are German, with the times in the site's zone
    [sent] = mail.outbox
    assert sent.to == ["kunde@example.com"]
    assert sent.subject.startswith(f"Ihr Chat mit {conversation.site.name} am ")
    assert "(Zeiten in Europe/Berlin)" in sent.body
    assert "Anna hat den Chat beendet." in sent.body
