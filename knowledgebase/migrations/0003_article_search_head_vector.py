"""PostgreSQL only: the weight-A part of the article's vector (its title) in a column of its own,
with a GIN index.

A search for a common word matches thousands of articles; ranking them all means reading
every one's (TOASTed) `search_vector`. knowledgebase/search.py instead ranks a bounded set of
candidates, and this small, never-TOASTed column is how it finds the title matches among
them first. Generated and STORED like `search_vector` (migration 0002).
"""

from django.db import migrations

ADD = """
ALTER TABLE knowledgebase_article ADD COLUMN search_head_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
) STORED;
CREATE INDEX knowledgebase_article_search_head_gin ON knowledgebase_article USING gin (search_head_vector);
"""
DROP = "ALTER TABLE knowledgebase_article DROP COLUMN search_head_vector;"


def add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ADD)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("knowledgebase", "0002_article_search_vector")]
    operations = [migrations.RunPython(add, drop, elidable=False)]
