"""R14, R22: a site vouches for its logged-in customers with a signature."""

import pytest
from asgiref.sync import sync_to_async

from chat import services

from .factories import make_site
from .sockets import open_agent, open_visitor, start_and_send


def signed(site, external_id="cust-42", **extra):
    return services.Identity(
        external_id=external_id, signature=services.identity_signature(site=site, external_id=external_id), **extra
    )


def test_signed_customer_is_the_same_visitor_on_every_device(db):
    site = make_site()

    laptop, laptop_token = services.visitor_identify(site=site, token=None, identity=signed(site, name="Anna"))
    phone, phone_token = services.visitor_identify(site=site, token=None, identity=signed(site))

    assert laptop.pk == phone.pk
    assert phone.is_customer and phone.name == "Anna"
    assert phone_token != laptop_token


def test_bad_signature_leaves_the_visitor_anonymous(db):
    site, other = make_site(), make_site()
    forged = services.Identity(
        external_id="cust-42", signature=services.identity_signature(site=other, external_id="cust-42")
    )

    visitor, _ = services.visitor_identify(site=site, token=None, identity=forged)

    assert not visitor.is_customer and visitor.external_id == ""


def test_a_signature_with_non_ascii_characters_is_just_a_bad_signature(db):
    site = make_site()
    forged = services.Identity(external_id="cust-42", signature="é" * 64)

    visitor, _ = services.visitor_identify(site=site, token=None, identity=forged)

    assert not visitor.is_customer


def test_anonymous_visitor_who_logs_in_keeps_its_chat(db):
    site = make_site()
    anonymous, token = services.visitor_identify(site=site, token=None)
    conversation = services.conversation_start(visitor=anonymous, topic_slug=None)

    customer, kept_token = services.visitor_identify(
        site=site, token=token, identity=signed(site, name="Anna", email="anna@example.com")
    )

    assert customer.pk == anonymous.pk and kept_token == token
    assert customer.conversations.get().pk == conversation.pk
    assert (customer.email, customer.is_customer) == ("anna@example.com", True)


@pytest.mark.django_db(transaction=True)
async def test_hello_with_identity_makes_a_customer_the_agent_sees(desk):
    identity = await sync_to_async(signed)(desk.site, name="Anna")
    frame = {"id": identity.external_id, "signature": identity.signature, "name": identity.name}

    socket, welcome = await open_visitor(desk.site, identity=frame)
    await start_and_send(socket, "Hello", "c-1")
    agent, agent_welcome = await open_agent(desk.agent)

    assert welcome["visitor"]["name"] == "Anna" and welcome["visitor"]["is_customer"] is True
    assert agent_welcome["queue"][0]["visitor"]["is_customer"] is True
    await socket.disconnect()
    await agent.disconnect()
