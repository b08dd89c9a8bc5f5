"""The v1 API's actions (/api/v1/, docs/api.md): claim, end, transfer, replies and notes,
labels; each through the chat service the console uses, with its error codes."""

from asgiref.sync import sync_to_async

from chat import services
from chat.models import Label, Message

from ..agents.factories import make_agent, make_team, make_term
from .sockets import open_visitor, receive_message, start_and_send
from .test_api import API, client_for, owned, queued

# --- actions go through the services -------------------------------------------------------


def test_claim_via_api_then_a_second_agent_loses_with_already_claimed(desk):
    conversation = queued(desk)

    first = client_for(desk.agent.user).post(f"{API}/conversations/{conversation.pk}/claim/")
    second = client_for(desk.other_agent.user).post(f"{API}/conversations/{conversation.pk}/claim/")

    assert first.status_code == 200
    assert (first.json()["status"], first.json()["agent"]["id"]) == ("active", desk.agent.user_id)
    assert second.status_code == 409
    assert second.json()["code"] == "already_claimed"


def test_only_the_owner_or_a_supervisor_ends_a_chat(desk):
    conversation = owned(desk)

    refused = client_for(desk.other_agent.user).post(f"{API}/conversations/{conversation.pk}/end/")
    ended = client_for(desk.agent.user).post(f"{API}/conversations/{conversation.pk}/end/")

    assert (refused.status_code, refused.json()["code"]) == (403, "not_owner")
    assert (ended.status_code, ended.json()["status"]) == (200, "ended")


def test_transfer_to_a_team_queues_the_chat_with_the_reason_as_a_note(desk):
    conversation = owned(desk)
    team = make_team(name="Billing")
    client = client_for(desk.agent.user)

    missing = client.post(f"{API}/conversations/{conversation.pk}/transfer/", {"to_team_id": team.pk})
    response = client.post(
        f"{API}/conversations/{conversation.pk}/transfer/", {"reason": "Invoice question", "to_team_id": team.pk}
    )

    assert (response.status_code, response.json()["status"], response.json()["team_id"]) == (200, "queued", team.pk)
    assert Message.objects.filter(conversation=conversation, sender="note", body__contains="Invoice").exists()
    assert missing.status_code == 400 and "reason" in missing.json()


def test_a_reply_is_stored_once_per_client_id(desk):
    conversation = owned(desk)
    client = client_for(desk.agent.user)
    reply = {"client_id": "crm-1", "body": "Your parcel left our warehouse today."}

    first = client.post(f"{API}/conversations/{conversation.pk}/messages/", reply, format="json")
    again = client.post(f"{API}/conversations/{conversation.pk}/messages/", reply, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Message.objects.filter(conversation=conversation, client_id="crm-1").count() == 1
    assert first.json()["author"] == {"id": desk.agent.user_id, "name": desk.agent.display_name}


def test_a_reply_with_a_composer_warning_is_refused_until_overridden(desk):
    conversation = owned(desk)
    make_term(kind="cold", term="k", suggestion="Sure, I'll do that.")
    client = client_for(desk.agent.user)
    path = f"{API}/conversations/{conversation.pk}/messages/"

    refused = client.post(path, {"client_id": "c1", "body": "k"}, format="json")
    codes = [warning["code"] for warning in refused.json()["warnings"]]
    sent = client.post(path, {"client_id": "c1", "body": "k", "overridden": codes}, format="json")

    assert (refused.status_code, refused.json()["code"]) == (422, "composer_warning")
    assert sent.status_code == 201
    assert sent.json()["warnings_overridden"] == sorted(codes)


def test_replying_needs_the_claim_but_a_note_does_not(desk):
    conversation = queued(desk)
    client = client_for(desk.agent.user)
    path = f"{API}/conversations/{conversation.pk}/messages/"

    reply = client.post(path, {"client_id": "r", "body": "Hello there, how can I help?"}, format="json")
    note = client.post(path, {"client_id": "n", "body": "Seen this one before", "note": True}, format="json")

    assert (reply.status_code, reply.json()["code"]) == (403, "not_owner")
    assert (note.status_code, note.json()["sender"]) == (201, "note")


def test_bad_message_input_is_a_clear_400(desk):
    conversation = owned(desk)
    client = client_for(desk.agent.user)
    path = f"{API}/conversations/{conversation.pk}/messages/"

    no_client_id = client.post(path, {"body": "Hello"}, format="json")
    blank = client.post(path, {"client_id": "b", "body": "   "}, format="json")
    bad_seq = client.get(path, {"after_seq": "-1"})

    assert no_client_id.status_code == 400 and "client_id" in no_client_id.json()
    assert blank.status_code == 400
    assert bad_seq.status_code == 400 and "after_seq" in bad_seq.json()


def test_messages_after_seq_include_notes_for_agents(desk):
    conversation = owned(desk)
    services.message_post(conversation_id=conversation.pk, author=desk.agent, body="A note", client_id="n", note=True)
    services.message_post(conversation_id=conversation.pk, author=desk.agent, body="Here I am.", client_id="a")

    page = client_for(desk.other_agent.user).get(f"{API}/conversations/{conversation.pk}/messages/", {"after_seq": 2})

    assert page.status_code == 200
    rows = page.json()["messages"]
    assert [(row["seq"], row["sender"]) for row in rows] == [(3, "note"), (4, "agent")]
    assert page.json()["has_more"] is False


def test_labels_are_added_and_removed_by_the_owner_only(desk):
    conversation = owned(desk)
    label = Label.objects.create(name="Refund")
    path = f"{API}/conversations/{conversation.pk}/labels/"

    refused = client_for(desk.other_agent.user).post(path, {"label_id": label.pk}, format="json")
    added = client_for(desk.agent.user).post(path, {"label_id": label.pk}, format="json")
    unknown = client_for(desk.agent.user).post(path, {"label_id": 999999}, format="json")
    removed = client_for(desk.agent.user).delete(f"{path}{label.pk}/")

    assert (refused.status_code, refused.json()["code"]) == (403, "not_owner")
    assert [row["name"] for row in added.json()["labels"]] == ["Refund"]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    assert removed.status_code == 204
    assert not conversation.labels.exists()


def test_only_supervisors_create_and_change_labels(desk):
    supervisor = make_agent(supervisor=True)

    refused = client_for(desk.agent.user).post(f"{API}/labels/", {"name": "Bug"}, format="json")
    created = client_for(supervisor.user).post(f"{API}/labels/", {"name": "Bug", "colour": "#aa0000"}, format="json")
    changed = client_for(supervisor.user).patch(f"{API}/labels/{created.json()['id']}/", {"colour": "#00aa00"})
    bad = client_for(supervisor.user).post(f"{API}/labels/", {"name": "Red", "colour": "red"}, format="json")

    assert refused.status_code == 403
    assert created.status_code == 201
    assert changed.json()["colour"] == "#00aa00"
    assert bad.status_code == 400 and "colour" in bad.json()
    assert [row["name"] for row in client_for(desk.agent.user).get(f"{API}/labels/").json()["results"]] == ["Bug"]


# --- a reply reaches the visitor ----------------------------------------------------------


async def test_a_reply_posted_via_the_api_reaches_the_visitors_socket(desk):
    visitor, _ = await open_visitor(desk.site)
    ack = await start_and_send(visitor, "Is anyone there?", "v-1", topic=desk.topic.slug)
    conversation_id = ack["conversation_id"]
    await sync_to_async(services.conversation_claim)(conversation_id=conversation_id, agent=desk.agent)
    client = await sync_to_async(client_for)(desk.agent.user)

    response = await sync_to_async(client.post)(
        f"{API}/conversations/{conversation_id}/messages/",
        {"client_id": "api-1", "body": "Yes, I'm here. How can I help?"},
        format="json",
    )

    assert response.status_code == 201
    frame = await receive_message(visitor, response.json()["seq"])
    assert (frame["message"]["sender"], frame["message"]["body"]) == ("agent", "Yes, I'm here. How can I help?")
    await visitor.disconnect()


def test_a_reply_to_an_ended_chat_is_refused_with_conversation_ended(desk):
    conversation = owned(desk)
    services.conversation_end(conversation_id=conversation.pk, ended_by=desk.agent)

    response = client_for(desk.agent.user).post(
        f"{API}/conversations/{conversation.pk}/messages/", {"client_id": "late", "body": "Still there?"}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (409, "conversation_ended")
