"""The console pages render with a bounded number of queries, however many chats there are."""

import pytest
from django.urls import reverse

from chat import services
from chat.consumers.agent import _welcome
from chat.models import Conversation
from tests.chat.factories import make_conversation, make_site, make_topic

from .factories import make_agent, make_team


@pytest.fixture
def busy_desk(db):
    site = make_site()
    topic = make_topic(site=site)
    team = make_team(topics=[topic], is_default=True)
    agent = make_agent(teams=[team], max_chats=50)
    make_agent(teams=[team])

    def add_chats(count: int) -> None:
        for number in range(count):
            conversation = make_conversation(site=site, topic=topic)
            services.message_post(
                conversation_id=conversation.pk, author=conversation.visitor, body="Help", client_id="c"
            )
            if number % 2:
                services.conversation_claim(conversation_id=conversation.pk, agent=agent)
            if number % 3 == 0:
                Conversation.objects.filter(pk=conversation.pk).update(needs_follow_up=True)

    return agent, add_chats


@pytest.mark.parametrize("chats", [2, 20])
def test_console_welcome_runs_the_same_queries_for_few_or_many_chats(busy_desk, chats, django_assert_max_num_queries):
    agent, add_chats = busy_desk
    add_chats(chats)

    # 9: the labels of the queue and of the chats are one query each.
    with django_assert_max_num_queries(9):
        welcome = _welcome(agent)

    assert len(welcome["queue"]) + len(welcome["chats"]) == chats


@pytest.mark.parametrize("chats", [2, 20])
def test_console_and_follow_up_pages_use_bounded_queries(busy_desk, client, chats, django_assert_max_num_queries):
    agent, add_chats = busy_desk
    add_chats(chats)
    client.force_login(agent.user)

    with django_assert_max_num_queries(8):
        console = client.get(reverse("agents:console"))
    with django_assert_max_num_queries(8):
        follow_ups = client.get(reverse("agents:follow_ups"))

    assert console.status_code == follow_ups.status_code == 200
    assert follow_ups.content.count(b"<tr>") == 1 + len(range(0, chats, 3))


def test_console_refuses_a_user_without_agent_profile(client, django_user_model):
    user = django_user_model.objects.create_user(username="someone", password="pw")
    client.force_login(user)

    assert client.get(reverse("agents:console")).status_code == 403
    assert client.get(reverse("agents:follow_ups")).status_code == 403
