"""Indexes for transcript review at volume (measured by bench/admin_list.py).

The newest-first index serves the list's order. On PostgreSQL a trigram index on
UPPER(body) serves the admin's message search, which Django runs as
`UPPER(body) LIKE UPPER('%word%')`: without it every search reads every message.
Other databases skip the trigram part.
"""

from django.db import migrations, models

ADD_TRIGRAM = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX chat_message_body_trgm ON chat_message USING gin (UPPER(body) gin_trgm_ops);
"""
DROP_TRIGRAM = "DROP INDEX IF EXISTS chat_message_body_trgm;"


def add_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ADD_TRIGRAM)


def drop_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGRAM)


class Migration(migrations.Migration):
    dependencies = [("chat", "0011_email_sites_reviews_unsubscribe")]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(fields=["-created_at", "-id"], name="conversation_newest_first"),
        ),
        migrations.RunPython(add_trigram, drop_trigram, elidable=False),
    ]
