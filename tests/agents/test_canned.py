"""Canned responses (R13, R14): visibility, search, personalised rendering, saving, use counts."""

import itertools
from dataclasses import dataclass

import pytest
from django.test import override_settings

from agents.canned import (
    canned_create,
    canned_edit_ratio,
    canned_for_agent,
    canned_render,
    canned_search,
    canned_use,
)
from agents.models import Agent, CannedResponse, Team
from chat.errors import ChatError, ErrorCode

from .factories import make_agent, make_canned, make_team


@dataclass
class Teams:
    team: Team
    other_team: Team
    agent: Agent
    colleague: Agent
    outsider: Agent


@pytest.fixture
def teams(db) -> Teams:
    """An agent and a colleague in one team, an outsider in another."""
    team, other_team = make_team(name="Billing"), make_team(name="Returns")
    return Teams(
        team=team,
        other_team=other_team,
        agent=make_agent(teams=[team], name="Dana Scully"),
        colleague=make_agent(teams=[team]),
        outsider=make_agent(teams=[other_team]),
    )


def shortcuts(responses) -> list[str]:
    return [response.shortcut for response in responses]


# --- Who sees what -----------------------------------------------------------------------------


def test_agent_sees_own_personal_and_own_teams_shared_responses_only(teams):
    mine = make_canned(shortcut="mine", owner=teams.agent)
    shared = make_canned(shortcut="shared", team=teams.team)
    make_canned(shortcut="colleagues-own", owner=teams.colleague)
    make_canned(shortcut="other-team", team=teams.other_team)
    make_canned(shortcut="outsiders-own", owner=teams.outsider)

    assert set(canned_for_agent(agent=teams.agent)) == {mine, shared}


def test_agent_in_two_teams_sees_both_teams_responses(teams):
    agent = make_agent(teams=[teams.team, teams.other_team])
    make_canned(shortcut="billing", team=teams.team)
    make_canned(shortcut="returns", team=teams.other_team)

    assert shortcuts(canned_for_agent(agent=agent)) == ["billing", "returns"]


def test_personal_response_comes_before_a_shared_one_with_the_same_shortcut(teams):
    shared = make_canned(shortcut="hello", team=teams.team)
    mine = make_canned(shortcut="hello", owner=teams.agent)

    assert list(canned_for_agent(agent=teams.agent)) == [mine, shared]


def test_agent_without_teams_sees_only_personal_responses(teams):
    loner = make_agent()
    mine = make_canned(owner=loner)
    make_canned(team=teams.team)

    assert list(canned_for_agent(agent=loner)) == [mine]


# --- Search --------------------------------------------------------------------------------------


def test_empty_search_lists_the_most_used_first_and_personal_first_on_ties(teams):
    make_canned(shortcut="a-rare", team=teams.team, use_count=1)
    make_canned(shortcut="b-popular", team=teams.team, use_count=9)
    make_canned(shortcut="c-tie-shared", team=teams.team, use_count=5)
    make_canned(shortcut="d-tie-mine", owner=teams.agent, use_count=5)

    found = canned_search(agent=teams.agent, query="")

    assert shortcuts(found) == ["b-popular", "d-tie-mine", "c-tie-shared", "a-rare"]


@pytest.mark.parametrize("query", ["ref", "/ref", "  /REF ", "Ref"])
def test_search_ranks_shortcut_matches_before_title_and_body_matches(teams, query):
    make_canned(
        shortcut="late-parcel", title="Late parcel", body="A refund is possible after 10 days.", team=teams.team
    )
    make_canned(shortcut="policy", title="Refund policy", body="See our policy.", team=teams.team, use_count=50)
    make_canned(shortcut="refund-late", title="Late refund", team=teams.team, use_count=3)
    make_canned(shortcut="ref", title="Reference number", team=teams.team)
    make_canned(shortcut="refund", title="Refund", team=teams.team, use_count=1)
    make_canned(shortcut="hello", title="Greeting", body="Hi!", team=teams.team)

    found = canned_search(agent=teams.agent, query=query)

    # Exact shortcut, then shortcut prefix (most used first), then title, then body.
    assert shortcuts(found) == ["ref", "refund-late", "refund", "policy", "late-parcel"]


def test_search_puts_personal_before_shared_within_a_rank(teams):
    make_canned(shortcut="refund-team", team=teams.team, use_count=7)
    make_canned(shortcut="refund-mine", owner=teams.agent)

    assert shortcuts(canned_search(agent=teams.agent, query="refund")) == ["refund-mine", "refund-team"]


def test_search_never_returns_another_teams_or_agents_responses(teams):
    make_canned(shortcut="refund-other-team", team=teams.other_team)
    make_canned(shortcut="refund-colleague", owner=teams.colleague)
    make_canned(shortcut="refund-outsider", owner=teams.outsider)

    assert canned_search(agent=teams.agent, query="refund") == []
    assert canned_search(agent=teams.agent, query="") == []


def test_search_returns_at_most_the_limit_in_one_query(teams, django_assert_max_num_queries):
    for number in range(12):
        make_canned(shortcut=f"refund-{number:02}", team=teams.team)

    with django_assert_max_num_queries(1):
        found = canned_search(agent=teams.agent, query="/refund")
        assert len(found) == 8
        assert found[0].team == teams.team

    assert len(canned_search(agent=teams.agent, query="refund", limit=3)) == 3


def test_search_treats_like_wildcards_as_plain_text(teams):
    make_canned(shortcut="discount", title="100% off", team=teams.team)
    make_canned(shortcut="other", title="Anything else", team=teams.team)

    assert shortcuts(canned_search(agent=teams.agent, query="%")) == ["discount"]
    assert canned_search(agent=teams.agent, query="_") == []


# --- Rendering ------------------------------------------------------------------------------------


def render(body: str, visitor_name: str = "", agent: Agent | None = None) -> str:
    agent = agent or Agent(display_name="Dana Scully")
    return canned_render(canned=CannedResponse(body=body), visitor_name=visitor_name, agent=agent)


def test_placeholders_are_filled_with_the_names():
    body = "Hi {visitor.first_name}! I'm {agent.first_name}. {visitor.name}, {agent.name} will sort this."

    assert render(body, "Ada Lovelace") == "Hi Ada! I'm Dana. Ada Lovelace, Dana Scully will sort this."


def test_placeholder_names_ignore_case_and_inner_spaces():
    assert render("Hi { Visitor.First_Name }!", "Ada Lovelace") == "Hi Ada!"


def test_visitor_name_whitespace_is_tidied():
    assert render("Hi {visitor.name},", "  Ada \n Lovelace ") == "Hi Ada Lovelace,"


@pytest.mark.parametrize(
    "body, expected",
    [
        ("Hi {visitor.name}, thanks for waiting.", "Hi there, thanks for waiting."),
        ("Hello {visitor.first_name}!", "Hello there!"),
        ("hey {visitor.first_name}", "hey there"),
        ("Hi, {visitor.name}! How can I help?", "Hi! How can I help?"),
        ("Dear {visitor.name},\nThanks for writing.", "Hello,\nThanks for writing."),
        ("Good morning {visitor.name}, how are you?", "Good morning, how are you?"),
        ("Thanks {visitor.first_name}!", "Thanks!"),
        ("Thanks, {visitor.name}!", "Thanks!"),
        ("Thank you {visitor.name} for waiting.", "Thank you for waiting."),
        ("I'm happy to help, {visitor.first_name}.", "I'm happy to help."),
        ("Thanks for waiting, {visitor.name}, I have checked.", "Thanks for waiting, I have checked."),
        ("{visitor.name}, your order has shipped.", "Your order has shipped."),
        ("Done. {visitor.first_name}, anything else?", "Done. Anything else?"),
        (
            "Welcome back {visitor.first_name}! Line two.\n{visitor.name}, see below.",
            "Welcome back! Line two.\nSee below.",
        ),
    ],
)
def test_missing_visitor_name_leaves_natural_text(body, expected):
    assert render(body, "") == expected
    assert render(body, "   ") == expected


@pytest.mark.parametrize(
    "body, expected",
    [
        ("Your order {order.id} has shipped.", "Your order has shipped."),
        ("Hi {customer}, thanks!", "Hi there, thanks!"),
        ("{} Thanks.", "Thanks."),
        ("Ref: {order.id}.", "Ref."),
    ],
)
def test_unknown_placeholders_are_left_out_cleanly(body, expected):
    assert render(body, "Ada") == expected


def test_rendered_text_never_shows_a_placeholder_or_a_stand_in():
    bodies = ["Hi {visitor.name}, {agent.first_name} here.", "{x}{visitor.first_name}{y}!", "Thanks, {a}, {b}."]
    for body, name in itertools.product(bodies, ["", "Ada", "{agent.name}"]):
        text = render(body, name)

        assert "\x00" not in text
        assert "{" not in text or name == "{agent.name}"


def test_visitor_name_is_inserted_as_typed_not_read_as_a_placeholder():
    assert render("Hi {visitor.name}!", "{agent.name}") == "Hi {agent.name}!"


def test_agent_first_name_falls_back_to_the_user_first_name(teams):
    agent = teams.colleague
    agent.display_name = ""
    agent.user.first_name = "Fox"

    assert render("I'm {agent.first_name}.", agent=agent) == "I'm Fox."


# --- Saving a good reply ------------------------------------------------------------------------------


def test_reply_saved_without_a_team_is_personal(teams):
    canned = canned_create(
        agent=teams.agent, title="  Late   parcel ", shortcut="/Late Parcel", body=" It is on its way. ", team_id=None
    )

    assert (canned.owner, canned.team, canned.created_by) == (teams.agent, None, teams.agent)
    assert (canned.shortcut, canned.title, canned.body) == ("late-parcel", "Late parcel", "It is on its way.")
    assert canned in canned_for_agent(agent=teams.agent)
    assert canned not in canned_for_agent(agent=teams.colleague)


def test_reply_saved_with_the_agents_team_is_shared_with_the_team(teams):
    canned = canned_create(agent=teams.agent, title="Refund", shortcut="refund", body="Done.", team_id=teams.team.pk)

    assert (canned.owner, canned.team, canned.created_by) == (None, teams.team, teams.agent)
    assert canned in canned_for_agent(agent=teams.colleague)


def test_supervisor_may_share_with_any_team(teams):
    supervisor = make_agent(supervisor=True)

    canned = canned_create(agent=supervisor, title="Refund", shortcut="refund", body="Ok.", team_id=teams.other_team.pk)

    assert canned.team == teams.other_team


def refusal(teams: Teams, **fields) -> ChatError:
    arguments = {"agent": teams.agent, "title": "Refund", "shortcut": "refund", "body": "Done.", "team_id": None}
    with pytest.raises(ChatError) as caught:
        canned_create(**(arguments | fields))
    assert caught.value.code == ErrorCode.INVALID_FIELD
    return caught.value


def test_agent_may_not_share_with_a_team_they_are_not_in(teams):
    error = refusal(teams, team_id=teams.other_team.pk)

    assert error.message == "You can share canned responses only with your own teams."
    assert error.extra == {"field": "team_id"}
    assert not CannedResponse.objects.exists()


def test_sharing_with_a_team_that_does_not_exist_is_refused(teams):
    assert refusal(teams, team_id=999_999).extra == {"field": "team_id"}
    supervisor = make_agent(supervisor=True)
    assert refusal(teams, agent=supervisor, team_id=999_999).message == "No such team."


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"body": " \n "}, "body"),
        ({"shortcut": "/"}, "shortcut"),
        ({"shortcut": "?!"}, "shortcut"),
        ({"shortcut": "x" * 41}, "shortcut"),
    ],
)
def test_missing_or_oversized_fields_are_refused(teams, fields, field):
    assert refusal(teams, **fields).extra == {"field": field}


@override_settings(CHAT_MESSAGE_MAX_LENGTH=10)
def test_body_longer_than_a_message_is_refused(teams):
    assert refusal(teams, body="x" * 11).message == "A canned response can be at most 10 characters."


def test_shortcut_taken_in_the_same_scope_is_refused(teams):
    make_canned(shortcut="refund", owner=teams.agent)
    make_canned(shortcut="refund", team=teams.team)

    personal = refusal(teams, shortcut="/Refund")
    shared = refusal(teams, shortcut="refund", team_id=teams.team.pk)

    assert personal.message == 'You already have a canned response "/refund". Pick another shortcut.'
    assert shared.message == 'Billing already has a canned response "/refund". Pick another shortcut.'
    assert CannedResponse.objects.count() == 2


def test_same_shortcut_in_another_scope_is_allowed(teams):
    make_canned(shortcut="refund", owner=teams.colleague)
    make_canned(shortcut="refund", team=teams.other_team)
    agent = make_agent(teams=[teams.team, teams.other_team])

    canned_create(agent=agent, title="Refund", shortcut="refund", body="Done.", team_id=None)
    canned_create(agent=agent, title="Refund", shortcut="refund", body="Done.", team_id=teams.team.pk)

    assert CannedResponse.objects.filter(shortcut="refund").count() == 4


# --- Edit ratio and use -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rendered, sent, ratio",
    [
        ("Thanks for waiting.", "Thanks for waiting.", 0.0),
        ("abc", "xyz", 1.0),
        ("Thanks for waiting.", "", 1.0),
        ("", "", 0.0),
        ("abcd", "abce", 0.25),
        ("abc", "abcd", 0.143),
    ],
)
def test_edit_ratio_measures_how_much_was_changed(rendered, sent, ratio):
    assert canned_edit_ratio(rendered=rendered, sent=sent) == ratio


def test_small_edit_of_a_long_reply_is_a_small_ratio():
    rendered = (
        "Thanks for waiting, Ada. I have checked your order 10442 and it left our warehouse this morning. "
        "The carrier usually delivers within two working days; you will get an email with the tracking "
        "link. If the parcel is damaged, reply to that email with a photo and we will send a new one "
        "or refund you, whichever you prefer."
    )
    sent = rendered.replace("this morning", "early this morning")

    assert 0 < canned_edit_ratio(rendered=rendered, sent=sent) < 0.02


def test_edit_ratio_of_very_long_texts_compares_words():
    rendered = "Your refund is on its way and should arrive soon. " * 60

    assert canned_edit_ratio(rendered=rendered, sent=rendered) == 0.0
    assert 0 < canned_edit_ratio(rendered=rendered, sent=rendered + "Anything else I can do for you today?") < 0.01
    assert canned_edit_ratio(rendered=rendered, sent="Completely unrelated text. " * 100) == 1.0


def test_using_a_visible_response_counts_each_use(teams, django_assert_max_num_queries):
    canned = make_canned(team=teams.team, use_count=4)

    with django_assert_max_num_queries(2):
        used = canned_use(canned_id=canned.pk, agent=teams.agent)
    canned_use(canned_id=canned.pk, agent=teams.colleague)

    assert used == canned and used.use_count == 5
    canned.refresh_from_db()
    assert canned.use_count == 6


def test_using_a_response_the_agent_may_not_see_returns_none_and_counts_nothing(teams):
    others = [make_canned(team=teams.other_team), make_canned(owner=teams.colleague)]

    for canned in others:
        assert canned_use(canned_id=canned.pk, agent=teams.agent) is None
    assert canned_use(canned_id=999_999, agent=teams.agent) is None
    assert {canned.use_count for canned in CannedResponse.objects.all()} == {0}
