"""R23: supervisors review transcripts in the admin; agents see only their own chats."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from chat.models import Conversation, Message, TrainingFlag, TranscriptView, Visitor

from ..agents.factories import make_agent, make_canned
from .factories import make_conversation

CHANGELIST = reverse("admin:chat_conversation_changelist")


def change_url(conversation: Conversation) -> str:
    return reverse("admin:chat_conversation_change", args=[conversation.pk])


@pytest.fixture
def supervisor(django_user_model):
    return django_user_model.objects.create_superuser(username="boss", password="pw", email="boss@example.com")


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


def staff_with_view_permission(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    return user


def chat(desk, *, agent=None, metrics=None, created_at=None, **fields) -> Conversation:
    """A conversation with stored review metrics, as message_insert would have kept them."""
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    values = {"assigned_agent": (agent or desk.agent).user, "status": Conversation.Status.ENDED, **(metrics or {})}
    values.update(fields)
    if created_at is not None:
        values["created_at"] = created_at
    Conversation.objects.filter(pk=conversation.pk).update(**values)
    conversation.refresh_from_db()
    return conversation


def add_message(conversation, *, sender, body, at, author=None, seq=None, **extra) -> Message:
    conversation.last_seq += 1
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=conversation.last_seq)
    return Message.objects.create(
        conversation=conversation, seq=conversation.last_seq, sender=sender, body=body, created_at=at,
        author=author, **extra,
    )  # fmt: skip


def listed_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


# -- the list ---------------------------------------------------------------------------------


def test_list_shows_review_metrics_from_stored_columns(desk, supervisor_client):
    start = timezone.now() - timedelta(hours=1)
    conversation = chat(
        desk,
        created_at=start,
        first_response_at=start + timedelta(seconds=12),
        metrics={"longest_wait_seconds": 61, "agent_message_count": 4, "canned_message_count": 3, "rating": 2},
        needs_follow_up=True,
    )

    response = supervisor_client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert f'href="{change_url(conversation)}' in page
    for text in ["First response (s)", "Longest wait (s)", "Canned share", ">12<", ">61<", ">75 %<", "long wait"]:
        assert text in page, text
    assert "follow-up" in page


def test_filters_compute_on_stored_columns(desk, supervisor_client):
    slow = chat(desk, metrics={"longest_wait_seconds": 46})
    quick = chat(desk, metrics={"longest_wait_seconds": 45})
    robotic = chat(desk, metrics={"agent_message_count": 3, "canned_message_count": 2})
    half = chat(desk, metrics={"agent_message_count": 4, "canned_message_count": 2})
    overridden = chat(desk, metrics={"warnings_overridden_count": 1}, rating=5)
    other_agents = chat(desk, agent=desk.other_agent, rating=1)
    everything = {slow.pk, quick.pk, robotic.pk, half.pk, overridden.pk, other_agents.pk}

    def ids(query: str) -> set[int]:
        response = supervisor_client.get(f"{CHANGELIST}?{query}")
        assert response.status_code == 200, query
        return listed_ids(response)

    assert ids("") == everything
    assert ids("long_wait=yes") == {slow.pk}
    assert ids("canned_share=yes") == {robotic.pk}
    assert half.pk in ids("canned_share=no")
    assert ids("warnings_overridden=yes") == {overridden.pk}
    assert ids("rating=1") == {other_agents.pk}
    assert ids(f"assigned_agent__id__exact={desk.other_agent.user_id}") == {other_agents.pk}
    team = desk.agent.teams.get()
    assert ids(f"team={team.pk}") == everything  # the team serving the topic
    assert ids(f"topic__id__exact={desk.topic.pk}") == everything
    assert ids("status__exact=active") == set()
    today = timezone.localdate()
    assert ids(f"created_at__year={today.year}&created_at__month={today.month}") == everything


def test_search_finds_words_in_messages_once_per_chat(desk, supervisor_client):
    now = timezone.now()
    found = chat(desk)
    add_message(found, sender=Message.Sender.VISITOR, body="My parcel is lost", at=now)
    add_message(found, sender=Message.Sender.AGENT, body="Sorry your parcel is late", at=now, author=desk.agent.user)
    other = chat(desk)
    add_message(other, sender=Message.Sender.VISITOR, body="A refund please", at=now)

    response = supervisor_client.get(f"{CHANGELIST}?q=parcel")

    assert [obj.pk for obj in response.context["cl"].result_list] == [found.pk]
    assert response.context["cl"].result_count == 1


def test_search_needs_every_word_in_a_message_or_the_visitor(desk, supervisor_client):
    now = timezone.now()
    both = chat(desk)
    add_message(both, sender=Message.Sender.VISITOR, body="My parcel is lost", at=now)
    add_message(both, sender=Message.Sender.VISITOR, body="I want a refund", at=now)
    one = chat(desk)
    add_message(one, sender=Message.Sender.VISITOR, body="Where is my parcel?", at=now)
    Visitor.objects.filter(pk=one.visitor_id).update(name="Ada Refundsson")
    only_name = chat(desk)
    Visitor.objects.filter(pk=only_name.visitor_id).update(email="refund.fan@example.com")

    def ids(query: str) -> set[int]:
        return listed_ids(supervisor_client.get(CHANGELIST, {"q": query}))

    assert ids("parcel refund") == {both.pk, one.pk}  # "refund" in a message, or in her name
    assert ids('"is lost"') == {both.pk}
    assert ids("refund") == {both.pk, one.pk, only_name.pk}


@pytest.mark.parametrize("rows", [5, 30])
def test_list_runs_a_bounded_number_of_queries(desk, supervisor_client, django_assert_max_num_queries, rows):
    canned = make_canned(team=desk.agent.teams.get())
    now = timezone.now()
    for number in range(rows):
        agent = make_agent(teams=desk.agent.teams.all())
        conversation = chat(desk, agent=agent, first_response_at=now, metrics={"agent_message_count": 2})
        add_message(conversation, sender=Message.Sender.VISITOR, body="hello", at=now)
        add_message(
            conversation, sender=Message.Sender.AGENT, body="hi", at=now, author=agent.user, canned_response=canned
        )
        if number % 2:
            TrainingFlag.objects.create(conversation=conversation, note="good", flagged_by=None)

    with django_assert_max_num_queries(15):
        response = supervisor_client.get(f"{CHANGELIST}?q=hello&long_wait=no")

    assert response.status_code == 200
    assert response.context["cl"].result_count == rows


# -- the transcript page ----------------------------------------------------------------------


def test_transcript_page_shows_the_chat_with_marks_and_escapes_text(desk, supervisor_client):
    canned = make_canned(shortcut="sorry-wait", team=desk.agent.teams.get())
    start = timezone.now() - timedelta(minutes=10)
    conversation = chat(desk, created_at=start)
    author = desk.agent.user
    visitor, agent, note = Message.Sender.VISITOR, Message.Sender.AGENT, Message.Sender.NOTE
    add_message(conversation, sender=visitor, body="<script>alert(1)</script> where is it?", at=start)
    add_message(conversation, sender=visitor, body="hello??", at=start + timedelta(seconds=30))
    add_message(conversation, sender=note, body="Check the warehouse", at=start + timedelta(seconds=40), author=author)
    add_message(
        conversation, sender=agent, body="Sorry for the wait", at=start + timedelta(seconds=50), author=author,
        canned_response=canned,
    )  # fmt: skip
    add_message(conversation, sender=visitor, body="ok", at=start + timedelta(seconds=60))
    add_message(
        conversation, sender=agent, body="LOL np", at=start + timedelta(seconds=70), author=author,
        warnings_overridden=["slang"],
    )  # fmt: skip

    response = supervisor_client.get(change_url(conversation))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; where is it?" in page
    assert 'class="bubble note"' in page and "private note" in page and "Check the warehouse" in page
    assert page.count("mark long-wait") == 1  # 50 s since the first unanswered message; then 10 s
    assert "waited 50 s" in page
    assert "canned: /sorry-wait" in page
    assert "warning overridden: slang" in page
    assert desk.agent.display_name in page
    assert page.index("where is it?") < page.index("Check the warehouse") < page.index("LOL np")


def test_transcript_page_has_no_editable_fields(desk, supervisor_client):
    conversation = chat(desk)
    add_message(conversation, sender=Message.Sender.VISITOR, body="Mine", at=timezone.now())

    page = supervisor_client.get(change_url(conversation)).content.decode()

    assert "Mine" in page
    assert "<textarea" not in page
    assert 'name="messages-' not in page
    assert 'name="_save"' not in page
    assert 'name="body"' not in page and 'name="rating"' not in page


def test_transcript_page_transcript_is_one_query(desk, supervisor_client, django_assert_max_num_queries):
    now = timezone.now()
    few, many = chat(desk), chat(desk)
    for conversation, count in [(few, 2), (many, 40)]:
        for number in range(count):
            agent_turn = number % 2
            add_message(
                conversation, sender=Message.Sender.AGENT if agent_turn else Message.Sender.VISITOR,
                body=f"m{number}", at=now + timedelta(seconds=number), author=desk.agent.user if agent_turn else None,
            )  # fmt: skip

    for conversation in (few, many):
        with django_assert_max_num_queries(12):
            assert supervisor_client.get(change_url(conversation)).status_code == 200


def test_each_view_of_a_transcript_is_logged(desk, supervisor_client, supervisor):
    conversation = chat(desk)

    supervisor_client.get(change_url(conversation))
    supervisor_client.get(change_url(conversation))

    views = TranscriptView.objects.filter(conversation=conversation)
    assert views.count() == 2
    assert {view.viewer_id for view in views} == {supervisor.pk}
    assert supervisor_client.get(reverse("admin:chat_transcriptview_changelist")).status_code == 200


# -- who sees what ------------------------------------------------------------------------------


def test_agent_staff_sees_only_own_chats(desk, client):
    mine = chat(desk, agent=desk.agent)
    theirs = chat(desk, agent=desk.other_agent)
    client.force_login(staff_with_view_permission(desk.agent.user))

    assert listed_ids(client.get(CHANGELIST)) == {mine.pk}
    assert client.get(change_url(mine)).status_code == 200
    assert client.get(change_url(theirs)).status_code == 404
    assert client.get(f"{CHANGELIST}?q=&assigned_agent__id__exact={desk.other_agent.user_id}").status_code == 200
    assert not TranscriptView.objects.filter(conversation=theirs).exists()
    # Export cannot reach another agent's chat either.
    response = client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [mine.pk, theirs.pk]})
    assert [row[0] for row in csv.reader(io.StringIO(response.content.decode()))][1:] == [str(mine.pk)]


def test_supervisors_group_sees_every_chat(desk, client):
    mine = chat(desk, agent=desk.agent)
    theirs = chat(desk, agent=desk.other_agent)
    user = staff_with_view_permission(make_agent().user)
    Group.objects.create(name="Supervisors").user_set.add(user)
    client.force_login(user)

    assert listed_ids(client.get(CHANGELIST)) == {mine.pk, theirs.pk}
    assert client.get(change_url(theirs)).status_code == 200


# -- actions -------------------------------------------------------------------------------------


def test_flag_for_training_with_a_note(desk, supervisor_client, supervisor):
    flagged, untouched = chat(desk), chat(desk)

    response = supervisor_client.post(
        CHANGELIST, {"action": "flag_for_training", "_selected_action": [flagged.pk], "note": "Great de-escalation"}
    )

    assert response.status_code == 302
    flag = TrainingFlag.objects.get()
    assert (flag.conversation_id, flag.flagged_by_id, flag.note) == (flagged.pk, supervisor.pk, "Great de-escalation")
    assert not TrainingFlag.objects.filter(conversation=untouched).exists()
    page = supervisor_client.get(change_url(flagged)).content.decode()
    assert "Great de-escalation" in page
    assert "training" in supervisor_client.get(CHANGELIST).content.decode()


def test_flag_for_training_needs_a_note(desk, supervisor_client):
    conversation = chat(desk)

    supervisor_client.post(CHANGELIST, {"action": "flag_for_training", "_selected_action": [conversation.pk]})

    assert not TrainingFlag.objects.exists()


def test_export_csv_of_selected_metrics(desk, supervisor_client):
    start = timezone.now() - timedelta(hours=1)
    selected = chat(
        desk, created_at=start, first_response_at=start + timedelta(seconds=8), rating=4,
        metrics={"longest_wait_seconds": 50, "agent_message_count": 4, "canned_message_count": 1},
    )  # fmt: skip
    Conversation.objects.filter(pk=selected.pk).update(last_seq=9)
    selected.visitor.name = "=HYPERLINK(evil)"
    selected.visitor.save()
    other = chat(desk)

    response = supervisor_client.post(CHANGELIST, {"action": "export_csv", "_selected_action": [selected.pk]})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(selected.pk) != str(other.pk)
    assert row["visitor"] == "'=HYPERLINK(evil)"
    assert row["agent"] == desk.agent.display_name
    assert (row["first_response_seconds"], row["longest_wait_seconds"], row["messages"]) == ("8", "50", "9")
    assert (row["canned_share_percent"], row["rating"], row["flags"]) == ("25", "4", "long-wait")
