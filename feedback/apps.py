from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """The feedback backlog; its models arrive with the knowledge-base and feedback issue."""

    name = "feedback"
    verbose_name = "Feedback backlog"
