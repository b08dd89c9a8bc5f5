#!/usr/bin/env python
"""The transcript review list in admin with 100,000 conversations and 2,000,000 messages on
PostgreSQL: p50/p95 of the list page, logged in as a supervisor, under several filters (R23).

Run by hand against a PostgreSQL server:

    .venv/bin/python bench/admin_list.py                  # seed once (a few minutes), then measure
    .venv/bin/python bench/admin_list.py --runs 30        # more requests per filter
    .venv/bin/python bench/admin_list.py --explain        # also EXPLAIN ANALYZE the slowest page's queries

It uses its own database (default `helpdesk_bench_admin`, created and migrated if
missing; the name must start with `helpdesk_bench`) and keeps the seeded rows between
invocations; `--reseed` replaces them. Seeding is SQL (`INSERT ... SELECT` over
`generate_series`), so 2,000,000 messages take minutes, not hours: one site, 5 topics,
3 teams, 40 agents; conversations spread over 90 days, nearly all ended, with the
review metrics `message_insert` would have stored (first response, longest wait, agent
and canned counts, overridden warnings, ratings, follow-ups, missed chats); 20 messages
each, alternating visitor and agent, with a few private notes.

Each timed request is the whole page through Django's test client in this process
(middleware, session, admin, template): what the server does for a supervisor, without
the network. Columns and filters are all stored on the conversation, so the page should
not grow with the number of messages; the search box (over message text) is the
exception and is timed separately.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_admin"
SITE_NAME = "bench-admin-list"
AGENTS = 40
TOPICS = ["returns", "billing", "delivery", "accounts", "product"]
WORDS = [
    "parcel", "refund", "order", "invoice", "delivery", "password", "account", "tracking", "warehouse", "courier",
    "label", "size", "colour", "discount", "voucher", "subscription", "payment", "card", "address", "exchange",
]  # fmt: skip


def prepare_database(url: str, *, reseed: bool) -> None:
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("helpdesk_bench"):
        sys.exit("--database-url must name a database starting with helpdesk_bench: its chats are replaced.")
    import psycopg

    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if reseed:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def insert_select(model, columns: dict[str, str], source: str) -> None:
    """INSERT INTO model's table SELECT the given SQL per column FROM `source`; every other
    column gets its field's default, so fields added later need no change here."""
    from django.db import connection

    # The given SQL is ours (no user input); its % are the modulo operator, not placeholders.
    values = {column: sql.replace("%", "%%") for column, sql in columns.items()}
    defaults: list = []
    for field in model._meta.concrete_fields:
        if field.column in values or field.primary_key:
            continue
        values[field.column] = "%s"
        defaults.append(field.get_db_prep_save(field.get_default(), connection))
    names = ", ".join(f'"{column}"' for column in values)
    select = ", ".join(values.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{model._meta.db_table}" ({names}) SELECT {select} FROM {source.replace("%", "%%")}', defaults
        )


def seed(conversations: int, messages_per: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from agents.models import Agent, Team
    from chat.models import Conversation, Message, Site, Topic, Visitor

    site = Site.objects.filter(name=SITE_NAME).first()
    if site is not None:
        print(f"Seeded already: {Conversation.objects.filter(site=site).count():,} conversations (--reseed to redo).")
        return
    started = time.perf_counter()
    # One transaction: an interrupted seed leaves nothing behind.
    with transaction.atomic():
        site = Site.objects.create(name=SITE_NAME, allowed_origins="http://bench.local")
        topics = [Topic.objects.create(site=site, slug=slug, name=slug.title()) for slug in TOPICS]
        users = get_user_model()
        teams = []
        for index, name in enumerate(["Bench Care", "Bench Billing", "Bench Returns"]):
            team, _ = Team.objects.get_or_create(name=name, defaults={"is_default": index == 0})
            team.topics.set(topics[index::3])
            teams.append(team)
        agent_ids = []
        for number in range(AGENTS):
            user, _ = users.objects.get_or_create(username=f"bench-agent-{number}@example.com")
            agent, _ = Agent.objects.get_or_create(user=user, defaults={"display_name": f"Bench Agent {number}"})
            agent.teams.set([teams[number % 3]])
            agent_ids.append(user.pk)
        topic_ids = [topic.pk for topic in topics]

        print(f"Inserting {conversations:,} visitors ...")
        with connection.cursor() as cursor:
            cursor.execute("SELECT setseed(0.42)")
        insert_select(
            Visitor,
            {
                "public_id": "gen_random_uuid()",
                "site_id": str(site.pk),
                "token_hash": "md5('bench-admin-' || g)",
                "name": "CASE WHEN g % 3 = 0 THEN 'Customer ' || g ELSE '' END",
                "created_at": "now()",
                "last_seen_at": "now()",
            },
            f"generate_series(1, {int(conversations)}) AS g",
        )
        print(f"Inserting {conversations:,} conversations ...")
        # Metrics drawn per row; `r` is one random number per row to keep them consistent.
        insert_select(
            Conversation,
            {
                "site_id": str(site.pk),
                "visitor_id": "v.id",
                "topic_id": f"(ARRAY{topic_ids})[1 + (v.id % {len(topic_ids)})]",
                "status": "CASE WHEN v.rn <= 300 THEN 'active' ELSE 'ended' END",
                "assigned_agent_id": "CASE WHEN v.r < 0.05 THEN NULL "
                f"ELSE (ARRAY{agent_ids})[1 + (v.id % {AGENTS})] END",
                "last_seq": str(messages_per),
                "last_public_seq": str(messages_per),
                "needs_follow_up": "(v.r2 < 0.03)",
                "rating": "CASE WHEN v.r2 < 0.4 THEN NULL ELSE 1 + floor(v.r3 * 5)::int END",
                "longest_wait_seconds": "CASE WHEN v.r < 0.05 THEN 0 ELSE (power(v.r3, 3) * 300)::int END",
                "agent_message_count": "CASE WHEN v.r < 0.05 THEN 0 ELSE 3 + (v.id % 8) END",
                "canned_message_count": "CASE WHEN v.r < 0.05 THEN 0 ELSE floor(v.r2 * (4 + (v.id % 8)))::int END",
                "warnings_overridden_count": "CASE WHEN v.r3 < 0.05 THEN 1 ELSE 0 END",
                "missed_at": "CASE WHEN v.r < 0.05 THEN v.created + interval '10 minutes' ELSE NULL END",
                "preview": "'Where is my parcel? Order ' || v.id",
                "created_at": "v.created",
                "claimed_at": "CASE WHEN v.r < 0.05 THEN NULL ELSE v.created + interval '20 seconds' END",
                "first_response_at": "CASE WHEN v.r < 0.05 THEN NULL "
                "ELSE v.created + make_interval(secs => 5 + power(v.r3, 2) * 400) END",
                "ended_at": "CASE WHEN v.rn <= 300 THEN NULL ELSE v.created + interval '15 minutes' END",
            },
            "(SELECT id, row_number() OVER (ORDER BY id DESC) AS rn, random() AS r, random() AS r2, random() AS r3,"
            " now() - random() * interval '90 days' AS created"
            f' FROM "chat_visitor" WHERE site_id = {int(site.pk)}) AS v',
        )
        total = conversations * messages_per
        print(f"Inserting {total:,} messages ...")
        words = "ARRAY[" + ", ".join(f"'{word}'" for word in WORDS) + "]"
        pick = f"({words})[1 + floor(random() * {len(WORDS)})::int]"
        insert_select(
            Message,
            {
                "conversation_id": "c.id",
                "seq": "s",
                "sender": "CASE WHEN s % 2 = 1 THEN 'visitor' WHEN s % 10 = 0 THEN 'note' ELSE 'agent' END",
                "author_id": "CASE WHEN s % 2 = 1 THEN NULL ELSE c.assigned_agent_id END",
                "body": f"'About my ' || {pick} || ': the ' || {pick} || ' and the ' || {pick} || ', please.'",
                "created_at": "c.created_at + s * interval '25 seconds'",
            },
            f'"chat_conversation" AS c CROSS JOIN generate_series(1, {int(messages_per)}) AS s '
            f"WHERE c.site_id = {int(site.pk)}",
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"Seeded in {time.perf_counter() - started:.0f} s.")


def supervisor():  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench-supervisor", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(runs: int, explain: bool) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from agents.models import Team
    from chat.models import Conversation

    setup_test_environment()
    client = Client()
    client.force_login(supervisor())
    url = reverse("admin:chat_conversation_changelist")
    agent_id = Conversation.objects.filter(assigned_agent__isnull=False).values_list("assigned_agent_id", flat=True)[0]
    team = Team.objects.get(name="Bench Billing")
    month = Conversation.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    pages = {
        "no filter": "",
        "agent": f"assigned_agent__id__exact={agent_id}",
        "team": f"team={team.pk}",
        "status ended": "status__exact=ended",
        "rating 1": "rating__exact=1",
        "silence > 45 s": "long_wait=yes",
        "canned > 50 %": "canned_share=yes",
        "warnings overridden": "warnings_overridden=yes",
        "this month": f"created_at__year={month.year}&created_at__month={month.month}",
        "slowest first reply": "o=6",
        "agent + silence, page 5": f"assigned_agent__id__exact={agent_id}&long_wait=yes&p=5",
    }
    search = {"search 'warehouse'": "q=warehouse"}
    print(f"\n{runs} requests per page after one warm-up; ms. cpu: this process; db: the warm-up's queries\n")
    print(f"{'page':28} {'queries':>7} {'p50':>8} {'p95':>8} {'max':>8} {'cpu p50':>8} {'db':>8}")
    every: list[float] = []
    every_cpu: list[float] = []
    slowest = ("", 0.0)
    for group in (pages, search):
        for name, query in group.items():
            connection.queries_log.clear()  # a full log (DEBUG) would make the count read 0
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"{url}?{query}")
            assert response.status_code == 200, (name, response.status_code)
            database_ms = sum(float(query["time"]) for query in queries.captured_queries) * 1000
            samples, cpu = [], []
            for _ in range(runs if group is pages else max(3, runs // 5)):
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(f"{url}?{query}")
                samples.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                assert response.status_code == 200
            if group is pages:
                every += samples
                every_cpu += cpu
            p95 = percentile(samples, 0.95)
            if p95 > slowest[1]:
                slowest = (query, p95)
            print(
                f"{name:28} {len(queries):>7} {statistics.median(samples):>8.1f} {p95:>8.1f} {max(samples):>8.1f} "
                f"{statistics.median(cpu):>8.1f} {database_ms:>8.1f}"
            )
    p50, p95 = statistics.median(every), percentile(every, 0.95)
    print(f"\nList page, all filters but search: p50 {p50:.1f} ms, p95 {p95:.1f} ms (wall clock)")
    print(
        f"This process's CPU per request: p50 {statistics.median(every_cpu):.1f} ms, "
        f"p95 {percentile(every_cpu, 0.95):.1f} ms (less sensitive to a busy machine; excludes PostgreSQL's own time)"
    )
    print(f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if explain:
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as queries:
            client.get(f"{url}?{slowest[0]}")
        timed = []
        with connection.cursor() as cursor:
            for query in queries.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                timed.append((float(plan.rsplit("Execution Time: ", 1)[1].split(" ")[0]), sql, plan))
        for ms, sql, plan in sorted(timed, reverse=True)[:3]:
            print(f"\n--- {ms:.1f} ms: {sql[:300]}\n{plan}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per", type=int, default=20, help="messages per conversation (default 20)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per filter (default 20)")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.conversations <= 1_000_000 or not 1 <= args.messages_per <= 100:
        sys.exit("--conversations 1..1,000,000 and --messages-per 1..100")
    prepare_database(args.database_url, reseed=args.reseed)
    seed(args.conversations, args.messages_per)
    measure(max(1, min(args.runs, 500)), args.explain)


if __name__ == "__main__":
    main()
