"""Admin for canned responses and composer terms: lists stay cheap, terms are stored the way they match."""

import pytest
from django.urls import reverse

from agents.admin import ComposerTermForm
from agents.models import ComposerTerm

from ..chat.factories import make_site
from .factories import make_agent, make_canned, make_team, make_term


def test_canned_response_list_runs_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    team, agent = make_team(), make_agent()
    for _ in range(10):
        make_canned(team=team)
        make_canned(owner=agent)

    with django_assert_max_num_queries(7):
        response = admin_client.get(reverse("admin:agents_cannedresponse_changelist"), {"q": "canned"})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 20


def test_composer_term_list_runs_a_bounded_number_of_queries(admin_client, django_assert_max_num_queries):
    site = make_site()
    for number in range(10):
        make_term(kind="slang", term=f"term{number}", site=site)

    with django_assert_max_num_queries(7):
        response = admin_client.get(reverse("admin:agents_composerterm_changelist"), {"kind": "slang"})

    assert response.status_code == 200


def term_form(**data) -> ComposerTermForm:
    return ComposerTermForm(data={"site": "", "kind": "slang", "term": "lol", "suggestion": ""} | data)


@pytest.mark.django_db
def test_term_is_stored_lowercased_with_single_spaces():
    form = term_form(term="  Shut   UP ")

    assert form.is_valid(), form.errors
    assert form.save().term == "shut up"


@pytest.mark.django_db
@pytest.mark.parametrize("term", ["wtf?!", ":)", "-"])
def test_term_the_composer_could_never_find_is_refused(term):
    form = term_form(term=term)

    assert not form.is_valid()
    assert "term" in form.errors


@pytest.mark.django_db
def test_global_term_listed_twice_is_refused_whatever_its_case():
    ComposerTerm.objects.filter(site__isnull=True, kind="slang", term="lol").delete()
    make_term(kind="slang", term="lol")

    assert not term_form(term="LOL").is_valid()
    assert term_form(term="LOL", kind="blocked").is_valid()
    assert term_form(term="LOL", site=str(make_site().pk)).is_valid()


@pytest.mark.django_db
def test_editing_a_term_does_not_clash_with_itself():
    term = make_term(kind="slang", term="cya", suggestion="goodbye")
    form = ComposerTermForm(
        instance=term, data={"site": "", "kind": "slang", "term": "cya", "suggestion": "See you soon"}
    )

    assert form.is_valid(), form.errors
