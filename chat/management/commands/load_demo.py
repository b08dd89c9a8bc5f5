from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from agents.models import Agent, Team
from chat.models import Site, Topic

DEMO_PASSWORD = "demo-pass-2026"
TOPICS = [("returns", "Returns & exchanges"), ("billing", "Billing"), ("product", "Product questions")]


class Command(BaseCommand):
    help = "Create (or refresh) the demo shop site, its teams, a demo agent and a demo supervisor."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--origin", action="append", default=[], help="Another origin the widget may run on.")

    @transaction.atomic
    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        origins = ["http://127.0.0.1:8000", "http://localhost:8000", *options["origin"]]
        site, _ = Site.objects.get_or_create(name="Demo Shop")
        site.allowed_origins = "\n".join(dict.fromkeys(site.allowed_origins.split() + origins))
        site.save()
        topics = {}
        for position, (slug, name) in enumerate(TOPICS):
            topics[slug], _ = Topic.objects.update_or_create(
                site=site, slug=slug, defaults={"name": name, "position": position}
            )

        orders, _ = Team.objects.update_or_create(name="Orders & Returns", defaults={"is_default": True})
        orders.topics.set([topics["returns"], topics["product"]])
        billing, _ = Team.objects.get_or_create(name="Billing")
        billing.topics.set([topics["billing"]])

        agent = self._user("agent@example.com", "Alex Agent", teams=[orders, billing])
        supervisor = self._user("supervisor@example.com", "Sam Supervisor", teams=[orders, billing], supervisor=True)
        Group.objects.get_or_create(name="Supervisors")[0].user_set.add(supervisor.user)

        self.stdout.write(f"Demo site key: {site.key}")
        self.stdout.write(f"Agent:      {agent.user.email} / {DEMO_PASSWORD}")
        self.stdout.write(f"Supervisor: {supervisor.user.email} / {DEMO_PASSWORD}")

    def _user(self, email: str, name: str, *, teams: list[Team], supervisor: bool = False) -> Agent:
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(username=email, defaults={"email": email})
        user.first_name, user.last_name = name.split(" ", 1)
        user.is_staff = supervisor
        user.is_superuser = supervisor
        user.set_password(DEMO_PASSWORD)
        user.save()
        agent, _ = Agent.objects.update_or_create(
            user=user,
            defaults={"display_name": name, "is_supervisor": supervisor, "status": Agent.Status.ONLINE},
        )
        agent.teams.set(teams)
        return agent
