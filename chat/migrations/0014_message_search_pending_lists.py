"""The message-body search indexes merge their pending lists in smaller steps.

A GIN index collects new entries in a pending list and merges it into the index inside the
INSERT that fills it past `gin_pending_list_limit` (4 MB by default): a message's INSERT
took 45-55 ms alone on an idle machine, and over 100 ms under the chat load, every ~2,000
messages for the trigram index (docs/performance.md, round 7). At 256 kB the merges come
16 times as often and took 6-14 ms, for about the same work in all. Other databases have
no such indexes.
"""

from django.db import migrations

INDEXES = ("chat_message_body_trgm", "chat_message_body_fts")
PENDING_LIST_KB = 256


def set_limit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for index in INDEXES:
            schema_editor.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = {PENDING_LIST_KB})")


def reset_limit(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for index in INDEXES:
            schema_editor.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")


class Migration(migrations.Migration):
    dependencies = [("chat", "0013_attachments_labels_privacy_languages")]

    operations = [migrations.RunPython(set_limit, reset_limit, elidable=False)]
