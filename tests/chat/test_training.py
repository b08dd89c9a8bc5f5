"""R23: the training list an agent sees of their own chats that supervisors flagged."""

import pytest
from django.urls import reverse

from chat import services
from chat.models import TrainingFlag

from ..agents.factories import make_agent
from .factories import make_conversation

TRAINING = reverse("supervision:training")

pytestmark = pytest.mark.django_db


def answered_chat(desk, agent, *, words: str):
    conversation = make_conversation(site=desk.site, topic=desk.topic)
    services.message_post(conversation_id=conversation.pk, author=conversation.visitor, body=words, client_id="v1")
    services.conversation_claim(conversation_id=conversation.pk, agent=agent)
    services.message_post(conversation_id=conversation.pk, author=agent, body="Let me check that.", client_id="a1")
    return conversation


def test_an_agent_sees_the_flags_on_their_own_chats_with_the_note_and_transcript(desk, client):
    supervisor = make_agent(supervisor=True, name="Sam Supervisor")
    colleague = desk.other_agent
    mine = answered_chat(desk, desk.agent, words="Where is my parcel?")
    theirs = answered_chat(desk, colleague, words="Secret words of another chat")
    TrainingFlag.objects.create(conversation=mine, flagged_by=supervisor.user, note="Great <b>empathy</b> here")
    TrainingFlag.objects.create(conversation=theirs, flagged_by=supervisor.user, note="Not for you")

    client.force_login(desk.agent.user)
    page = client.get(TRAINING).content.decode()

    assert "Great &lt;b&gt;empathy&lt;/b&gt; here" in page
    assert "Sam Supervisor" in page
    assert "Where is my parcel?" in page and "Let me check that." in page
    assert "Not for you" not in page and "Secret words of another chat" not in page


def test_a_chat_transferred_away_still_teaches_the_agent_who_wrote_in_it(desk, client):
    supervisor = make_agent(supervisor=True)
    colleague = desk.other_agent
    chat = answered_chat(desk, desk.agent, words="Refund please")
    services.conversation_transfer(
        conversation_id=chat.pk, agent=desk.agent, reason="Billing question", to_agent_id=colleague.user_id
    )
    TrainingFlag.objects.create(conversation=chat, flagged_by=supervisor.user, note="Transfer earlier")

    client.force_login(desk.agent.user)

    assert "Transfer earlier" in client.get(TRAINING).content.decode()


def test_only_agents_open_the_training_list(client, django_user_model):
    assert client.get(TRAINING).status_code == 302
    client.force_login(django_user_model.objects.create(username="customer"))
    assert client.get(TRAINING).status_code == 403
