from django.core.management.base import BaseCommand

from chat.emails import emails_requeue


class Command(BaseCommand):
    help = (
        "Queue every email that is due (review requests) or whose task was lost: what beat does "
        "every minute on the real stack. On the embedded default (no beat) run it by hand."
    )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        self.stdout.write(f"Queued {emails_requeue()} email(s).")
