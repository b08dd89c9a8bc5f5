"""SQL of the message path, built once per process.

Django compiles a queryset's SQL on every run. For the statements every message runs
(lock the conversation's row, insert the message and update the conversation's
counters) compiling and Django's generic row handling were most of their CPU
(docs/performance.md, round 4), so their SQL is kept, per database vendor (a process
uses one; the key keeps a mistake from crossing vendors). Values still go through each
field's own conversion, both ways, as the ORM does it. The models of the message path
have no signal receivers, which these skip.
"""

import functools
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Field, Model
from django.db.models.expressions import Col

M = TypeVar("M", bound=Model)


def locked_row(model: type[M], pk: int) -> M | None:
    """`model.objects.select_for_update().filter(pk=pk).first()`, in the caller's transaction."""
    sql, attnames, converters = _lock_statement(connection.vendor, model)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, column, functions in converters:
        for function in functions:
            values[index] = function(values[index], column, connection)
    return model.from_db(DEFAULT_DB_ALIAS, attnames, values)


def insert_row_updating(instance: Model, other: Model, fields: list[str]) -> None:
    """`instance.save()` for a new row whose primary key the database assigns, and
    `other.save(update_fields=fields)` for a row known to exist.

    One statement on PostgreSQL, which runs an UPDATE inside WITH exactly once whether or
    not the INSERT reads it: one round trip of the database thread fewer per message, and
    both fail together. Two statements elsewhere, in the caller's transaction.
    """
    insert_sql, inserted = _insert_statement(connection.vendor, type(instance))
    update_sql, updated = _update_statement(connection.vendor, type(other), tuple(fields))
    insert_values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in inserted]
    update_values = [field.get_db_prep_save(getattr(other, field.attname), connection) for field in updated]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH updated AS ({update_sql}) {insert_sql}", [*update_values, other.pk, *insert_values])
        else:
            cursor.execute(update_sql, [*update_values, other.pk])
            cursor.execute(insert_sql, insert_values)
        (pk,) = cursor.fetchone()
    instance.pk = type(instance)._meta.pk.to_python(pk)
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS


def _field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{name} is a column of {model.__name__}"
    return field


def _quote(name: str | None) -> str:
    assert name is not None
    return connection.ops.quote_name(name)


@functools.cache
def _lock_statement(vendor: str, model: type[Model]) -> tuple[str, list[str], list[tuple[int, Col, list[Any]]]]:
    # Compiled inside the caller's transaction: Django refuses FOR UPDATE outside one.
    query = model._default_manager.select_for_update().filter(pk=0).order_by().query
    sql, params = query.sql_with_params()
    assert list(params) == [0], "the lock's one parameter is the primary key"
    converters = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)  # what the ORM's converters are given
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            converters.append((index, column, functions))
    return sql, [field.attname for field in model._meta.concrete_fields], converters


@functools.cache
def _insert_statement(vendor: str, model: type[Model]) -> tuple[str, list[Field]]:
    assert model._meta.db_returning_fields == [model._meta.pk], "only the primary key comes back"
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(_quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    table, pk = _quote(model._meta.db_table), _quote(model._meta.pk.column)
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}", fields


@functools.cache
def _update_statement(vendor: str, model: type[Model], names: tuple[str, ...]) -> tuple[str, list[Field]]:
    fields = [_field(model, name) for name in names]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    table, pk = _quote(model._meta.db_table), _quote(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s", fields
