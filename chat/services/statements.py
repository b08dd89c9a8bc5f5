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


class RowChanged(Exception):
    """The row to update no longer holds the values it was read with: nothing was written."""


def locked_row(model: type[M], pk: int) -> M | None:
    """`model.objects.select_for_update().filter(pk=pk).first()`, in the caller's transaction."""
    return _fetch(model, pk, for_update=True)


def read_row(model: type[M], pk: int) -> M | None:
    """`model.objects.filter(pk=pk).first()`, without a lock."""
    return _fetch(model, pk, for_update=False)


def _fetch(model: type[M], pk: int, *, for_update: bool) -> M | None:
    sql, attnames, converters = _select_statement(connection.vendor, model, for_update)
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


def insert_row_updating(
    instance: Model, other: Model, fields: list[str], unchanged: dict[str, object] | None = None
) -> None:
    """`instance.save()` for a new row whose primary key the database assigns, and
    `other.save(update_fields=fields)` for a row known to exist.

    One statement on PostgreSQL, which runs an UPDATE inside WITH exactly once whether or
    not the INSERT reads it: one round trip of the database thread fewer per message, and
    both fail together. Two statements elsewhere, in the caller's transaction.

    `unchanged` (PostgreSQL only) maps columns of `other` to the values the caller read
    them with, without a lock: both rows are written only if every one still holds, in one
    statement, so no transaction is needed; else RowChanged.
    """
    unchanged = unchanged or {}
    assert not unchanged or connection.vendor == "postgresql", "one statement writes both rows only on PostgreSQL"
    insert_sql, inserted = _insert_statement(connection.vendor, type(instance), bool(unchanged))
    update_sql, updated, checked = _update_statement(connection.vendor, type(other), tuple(fields), tuple(unchanged))
    insert_values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in inserted]
    update_values = [field.get_db_prep_save(getattr(other, field.attname), connection) for field in updated]
    update_values.append(other.pk)
    read = zip(checked, unchanged.values(), strict=True)
    update_values += [field.get_db_prep_save(value, connection) for field, value in read]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"WITH updated AS ({update_sql}) {insert_sql}", [*update_values, *insert_values])
        else:
            cursor.execute(update_sql, update_values)
            cursor.execute(insert_sql, insert_values)
        row = cursor.fetchone()
    if row is None:
        raise RowChanged
    (pk,) = row
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
def _select_statement(
    vendor: str, model: type[Model], for_update: bool
) -> tuple[str, list[str], list[tuple[int, Col, list[Any]]]]:
    # FOR UPDATE is compiled inside the caller's transaction: Django refuses it outside one.
    rows = model._default_manager.select_for_update() if for_update else model._default_manager.all()
    sql, params = rows.filter(pk=0).order_by().query.sql_with_params()
    assert list(params) == [0], "the select's one parameter is the primary key"
    converters = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)  # what the ORM's converters are given
        functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if functions:
            converters.append((index, column, functions))
    return sql, [field.attname for field in model._meta.concrete_fields], converters


@functools.cache
def _insert_statement(vendor: str, model: type[Model], if_updated: bool) -> tuple[str, list[Field]]:
    """The INSERT; `if_updated`: of one row per row of the WITH's `updated`, none if it is empty."""
    assert model._meta.db_returning_fields == [model._meta.pk], "only the primary key comes back"
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(_quote(field.column) for field in fields)
    table, pk = _quote(model._meta.db_table), _quote(model._meta.pk.column)
    if if_updated:
        # Typed, because a SELECT's parameters get no type from the columns they fill.
        values = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
        return f"INSERT INTO {table} ({columns}) SELECT {values} FROM updated RETURNING {pk}", fields
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}", fields


@functools.cache
def _update_statement(
    vendor: str, model: type[Model], names: tuple[str, ...], unchanged: tuple[str, ...]
) -> tuple[str, list[Field], list[Field]]:
    """The UPDATE, its assigned fields and the fields of its `unchanged` conditions."""
    fields = [_field(model, name) for name in names]
    checked = [_field(model, name) for name in unchanged]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    table, pk = _quote(model._meta.db_table), _quote(model._meta.pk.column)
    conditions = "".join(f" AND {_quote(field.column)} IS NOT DISTINCT FROM %s" for field in checked)
    returning = f" RETURNING {pk}" if checked else ""
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s{conditions}{returning}", fields, checked
