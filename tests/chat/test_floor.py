"""The supervisors' floor, watched chats and reports over HTTP: who may open them, what
they show, and that their query counts stay flat as chats pile up."""

import csv
import io

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_set_status
from chat import services
from chat.models import Conversation, TranscriptView
from chat.realtime import SUPERVISORS_GROUP

from ..agents.factories import make_agent
from .factories import make_conversation

REPLY = "Thanks for waiting, I am checking your order right now."
FLOOR = reverse("supervision:floor")
SNAPSHOT = reverse("supervision:floor_snapshot")
REPORTS = reverse("supervision:reports")


def csv_url(slug: str) -> str:
    return reverse("supervision:report_csv", args=[slug])


def chat_url(conversation: Conversation) -> str:
    return reverse("supervision:floor_chat", args=[conversation.pk])


@pytest.fixture
def supervisor(desk) -> Agent:
    return make_agent(supervisor=True, name="Sam Supervisor")


@pytest.fixture
def as_supervisor(client, supervisor):
    client.force_login(supervisor.user)
    return client


def live_chat(desk, *, visitor_words: str = "Where is my parcel?") -> Conversation:
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.message_post(
        conversation_id=conversation.pk, author=conversation.visitor, body=visitor_words, client_id="v1"
    )
    services.conversation_claim(conversation_id=conversation.pk, agent=desk.agent)
    services.message_post(conversation_id=conversation.pk, author=desk.agent, body=REPLY, client_id="a1")
    services.message_post(
        conversation_id=conversation.pk, author=desk.agent, body="Checking with the warehouse.", client_id="n1",
        note=True,
    )  # fmt: skip
    return conversation


# -- who may open the pages -------------------------------------------------------------


def urls(conversation: Conversation) -> list[str]:
    return [FLOOR, SNAPSHOT, chat_url(conversation), REPORTS, csv_url("hours")]


def test_supervisors_open_every_page(desk, as_supervisor):
    conversation = live_chat(desk)
    for url in urls(conversation):
        assert as_supervisor.get(url).status_code == 200, url


def test_agents_get_403(desk, client):
    conversation = live_chat(desk)
    client.force_login(desk.agent.user)
    for url in urls(conversation):
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_log_in(desk, client):
    conversation = live_chat(desk)
    for url in urls(conversation):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_the_supervisors_group_and_superusers_count_as_supervisors(desk, client, django_user_model):
    member = django_user_model.objects.create_user(username="lead", password="pw")
    member.groups.add(Group.objects.create(name="Supervisors"))
    root = django_user_model.objects.create_superuser(username="root", password="pw", email="root@example.com")
    for user in (member, root):
        client.force_login(user)
        assert client.get(FLOOR).status_code == 200
        assert client.get(REPORTS).status_code == 200


# -- the floor ----------------------------------------------------------------------------


def test_floor_page_lists_open_chats_with_agent_and_timer(desk, as_supervisor):
    conversation = live_chat(desk)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body="Hello?", client_id="v2")
    page = as_supervisor.get(FLOOR).content.decode()
    assert f'href="{chat_url(conversation)}"' in page
    assert desk.agent.display_name in page
    conversation.refresh_from_db()
    assert f'class="timer" data-since="{conversation.waiting_since.isoformat()}' in page
    assert 'data-socket-path="/ws/agent/?watch=1"' in page


def test_snapshot_json_is_the_floor_without_customer_words(desk, as_supervisor):
    conversation = live_chat(desk, visitor_words="My secret order number is 4711")
    response = as_supervisor.get(SNAPSHOT)
    data = response.json()
    assert response["Cache-Control"] == "no-store"
    (chat,) = data["chats"]
    assert chat["id"] == conversation.pk and chat["agent"] == desk.agent.display_name
    assert chat["status"] == "active" and chat["waiting_since"] is None
    assert data["summary"]["open"] == 1
    assert "4711" not in response.content.decode()


def test_watching_a_live_chat_is_read_only_and_logged(desk, supervisor, as_supervisor):
    conversation = live_chat(desk)
    page = as_supervisor.get(chat_url(conversation)).content.decode()
    assert "Where is my parcel?" in page and REPLY in page
    assert 'class="sv-msg sv-msg--note"' in page  # private notes shaded
    assert "<form" not in page.split('id="floor-chat"')[1].split("</header>")[1]  # no composer, nothing to send
    assert TranscriptView.objects.filter(conversation=conversation, viewer=supervisor.user).count() == 1

    part = as_supervisor.get(chat_url(conversation) + "?part=transcript")
    assert part.status_code == 200 and b"Where is my parcel?" in part.content
    assert TranscriptView.objects.count() == 1  # the live refresh is the same viewing
    assert as_supervisor.get(reverse("supervision:floor_chat", args=[999999])).status_code == 404


def test_customer_words_are_escaped(desk, as_supervisor):
    conversation = live_chat(desk, visitor_words="<img src=x onerror=alert(1)>")
    page = as_supervisor.get(chat_url(conversation)).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_floor_snapshot_runs_a_bounded_number_of_queries(desk, as_supervisor):
    live_chat(desk)
    with CaptureQueriesContext(connection) as few:
        assert as_supervisor.get(SNAPSHOT).status_code == 200
    for number in range(4):
        other = make_conversation(site=desk.site, topic=desk.topic)
        services.message_post(conversation_id=other.pk, author=other.visitor, body="Hi", client_id=f"x{number}")
    make_agent(teams=list(desk.agent.teams.all()))
    with CaptureQueriesContext(connection) as more:
        data = as_supervisor.get(SNAPSHOT).json()
    assert data["summary"]["open"] == 5
    assert len(more) == len(few)


# -- what tells the floor something changed -------------------------------------------------


def test_supervisors_hear_of_messages_in_chats_they_do_not_own(
    desk, supervisor, sent_events, django_capture_on_commit_callbacks
):
    conversation = live_chat(desk)
    sent_events.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(
            conversation_id=conversation.pk, author=conversation.visitor, body="Still there?", client_id="v9"
        )
    told = [frame for groups, frame in sent_events if groups == [SUPERVISORS_GROUP]]
    assert [frame["type"] for frame in told] == ["conversation.updated"]
    assert told[0]["conversation"]["id"] == conversation.pk and told[0]["conversation"]["waiting_since"]


def test_supervisors_hear_of_agents_going_away(desk, sent_events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        agent_set_status(agent=desk.agent, status=Agent.Status.AWAY)
    assert any(SUPERVISORS_GROUP in groups and frame["type"] == "agent.updated" for groups, frame in sent_events)


# -- reports ------------------------------------------------------------------------------------


def test_reports_page_draws_each_chart_with_a_table_and_csv_link(desk, as_supervisor):
    live_chat(desk)
    page = as_supervisor.get(REPORTS).content.decode()
    for slug in ["hours", "first-response", "silences", "csat", "canned", "follow-ups"]:
        assert f'id="chart-{slug}"' in page, slug
        assert f'href="{csv_url(slug)}?' in page, slug
    assert page.count('<svg class="sv-svg"') == 6
    assert page.count('<table class="sv-table sv-table--data">') == 6
    assert "<script" not in page.split("</head>")[1]  # server-drawn: no chart library
    assert desk.agent.display_name in page  # the per-agent table


def test_reports_filters_and_bad_dates(desk, as_supervisor):
    live_chat(desk)
    team = desk.agent.teams.get()
    good = as_supervisor.get(REPORTS, {"period": "week", "team": team.pk, "agent": desk.agent.user_id})
    assert good.status_code == 200 and good.context["report"].period == "week"
    assert good.context["report"].scope.agent_id == desk.agent.user_id
    bad = as_supervisor.get(REPORTS, {"start": "2026-03-10", "end": "2026-03-01"})
    assert bad.status_code == 200
    assert "The end date comes before the start date." in bad.content.decode()
    assert as_supervisor.get(REPORTS, {"start": "not a date"}).status_code == 200


def test_csv_exports(desk, as_supervisor):
    live_chat(desk)
    response = as_supervisor.get(csv_url("hours"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["series", *[f"{hour:02d}" for hour in range(24)]]
    assert [row[0] for row in rows[1:]] == ["Answered live", "Missed"]
    assert sum(int(cell) for cell in rows[1][1:]) == 1
    agents = list(csv.reader(io.StringIO(as_supervisor.get(csv_url("agents")).content.decode())))
    assert agents[0][0] == "Agent" and agents[1][:2] == [desk.agent.display_name, "1"]
    assert as_supervisor.get(csv_url("nothing")).status_code == 404


def test_reports_page_runs_a_bounded_number_of_queries(desk, as_supervisor):
    live_chat(desk)
    with CaptureQueriesContext(connection) as few:
        as_supervisor.get(REPORTS)
    for _ in range(3):
        live_chat_for = make_conversation(site=desk.site, topic=desk.topic)
        services.message_post(conversation_id=live_chat_for.pk, author=live_chat_for.visitor, body="Hi", client_id="q")
    make_agent(teams=list(desk.agent.teams.all()))
    with CaptureQueriesContext(connection) as more:
        as_supervisor.get(REPORTS, {"period": "week"})
    assert len(more) == len(few)


def test_chart_geometry_stacks_bars_and_ticks_whole_counts():
    from chat.supervision.charts import PLOT_HEIGHT, Chart, Reference, Series

    chart = Chart(
        slug="hours", title="", description="", categories=["09", "10"], stacked=True,
        series=[Series("Answered", [3, 0], "bar--primary"), Series("Missed", [2, None], "bar--danger")],
    )  # fmt: skip
    geometry = chart.geometry()
    assert [tick["label"] for tick in geometry["ticks"]] == ["0", "1", "2", "3", "4", "5"]
    answered, missed = geometry["bars"]  # zero and None draw nothing
    assert answered["height"] == round(PLOT_HEIGHT * 3 / 5, 1) and missed["height"] == round(PLOT_HEIGHT * 2 / 5, 1)
    assert missed["y"] + missed["height"] == answered["y"]  # missed sits on top of answered
    assert missed["title"] == "09: Missed 2"

    shares = Chart(
        slug="canned", title="", description="", categories=["Mon"], percent=True,
        series=[Series("Canned", [0.25], "bar--primary")], reference=Reference(0.5, "50 %"),
    )  # fmt: skip
    assert [tick["label"] for tick in shares.geometry()["ticks"]][-1] == "100 %"
    assert shares.table_rows() == [("Canned", ["25 %"])]
    assert shares.csv_rows() == [["series", "Mon"], ["Canned", "25 %"]]


def test_the_console_links_supervisors_to_floor_and_reports(desk, client, supervisor):
    client.force_login(supervisor.user)
    page = client.get(reverse("agents:console")).content.decode()
    assert f'href="{FLOOR}"' in page and f'href="{REPORTS}"' in page
    client.force_login(desk.agent.user)
    assert f'href="{FLOOR}"' not in client.get(reverse("agents:console")).content.decode()
