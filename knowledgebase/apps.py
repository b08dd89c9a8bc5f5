from django.apps import AppConfig


class KnowledgebaseConfig(AppConfig):
    """Help-centre articles and suggestions; its models arrive with the knowledge-base issue."""

    name = "knowledgebase"
    verbose_name = "Knowledge base"
