#!/usr/bin/env python
"""The console's conversation search (/console/search/) on PostgreSQL with 10,000
conversations and 100,000 messages: p50/p95 of one result page, for a supervisor and for an
agent, over common and rare words, a visitor's email, a label and a date range.

    .venv/bin/python bench/conversation_search.py              # seed once, then measure
    .venv/bin/python bench/conversation_search.py --runs 30

Seeding is `bench/admin_list.py`'s (SQL, `generate_series`) into its own database,
`helpdesk_bench_search` by default; its 20 words each appear in about one message in
seven, so "parcel" is a common word on purpose: the page must stay fast when thousands of
chats match, because only the 25 shown get a headline.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.admin_list import percentile, prepare_database, seed, supervisor

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_search"


def measure(runs: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from agents.models import Agent
    from chat.models import Conversation, Label, Visitor

    setup_test_environment()
    label, _ = Label.objects.get_or_create(name="Bench VIP")
    if not label.conversations.exists():
        # One chat in fifty carries the label.
        ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True)[::50])
        label.conversations.add(*ids)
    visitor = Visitor.objects.filter(site__name="bench-admin-list").order_by("pk")[123]
    Visitor.objects.filter(pk=visitor.pk).update(email="someone.special@example.com")
    newest = Conversation.objects.order_by("-created_at").values_list("created_at", flat=True)[0].date()

    supervisor_client, agent_client = Client(), Client()
    supervisor_client.force_login(supervisor())
    agent = Agent.objects.filter(user__username="bench-agent-0@example.com").get()
    agent_client.force_login(agent.user)
    url = reverse("agents:search")
    searches = {
        "no filter": "",
        "common word 'parcel'": "q=parcel",
        "two words": "q=refund+courier",
        "phrase": 'q="the+parcel+and"',
        "word, page 20": "q=parcel&page=20",
        "visitor email": "q=someone.special@example.com",
        "label": f"label={label.pk}",
        "word + label": f"q=invoice&label={label.pk}",
        "word + last 7 days": f"q=voucher&start={(newest - timedelta(days=6)).isoformat()}",
        "no match": "q=zyzzyva",
    }
    print(f"\n{runs} requests per search after one warm-up; ms (whole page through Django's test client)\n")
    print(f"{'who':10} {'search':26} {'found':>7} {'queries':>7} {'p50':>8} {'p95':>8}")
    every = []
    for who, client in (("supervisor", supervisor_client), ("agent", agent_client)):
        for name, query in searches.items():
            connection.queries_log.clear()
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"{url}?{query}")
            assert response.status_code == 200, (name, response.status_code)
            page = response.context["page"]
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                client.get(f"{url}?{query}")
                samples.append((time.perf_counter() - started) * 1000)
            every += samples
            print(
                f"{who:10} {name:26} {page.paginator.count:>7} {len(queries):>7} "
                f"{statistics.median(samples):>8.1f} {percentile(samples, 0.95):>8.1f}"
            )
    print(f"\nAll searches: p50 {statistics.median(every):.1f} ms, p95 {percentile(every, 0.95):.1f} ms")
    print(f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=10, help="per conversation")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    prepare_database(args.database_url, reseed=args.reseed)
    seed(args.conversations, args.messages)
    measure(args.runs)


if __name__ == "__main__":
    main()
