from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_delete, post_save


def _composer_terms_changed(**kwargs: object) -> None:
    from .composer import composer_terms_forget

    # Now, for this transaction's own replies, and after the commit, in case another
    # thread remembered the terms as they were before it.
    composer_terms_forget()
    transaction.on_commit(composer_terms_forget)


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = "Agents"

    def ready(self) -> None:
        # Signals, not save(): the admin's bulk delete removes terms without calling delete().
        post_save.connect(_composer_terms_changed, sender="agents.ComposerTerm", dispatch_uid="composer-terms-saved")
        post_delete.connect(
            _composer_terms_changed, sender="agents.ComposerTerm", dispatch_uid="composer-terms-deleted"
        )
