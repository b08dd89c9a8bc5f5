#!/usr/bin/env python
"""Help-centre search on 10,000 articles on PostgreSQL: prints p50/p95/p99 of the one search function.

Run by hand against a PostgreSQL server (it creates and drops its own `test_...` database):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_kb .venv/bin/python bench/kb_search.py

The articles are inserted with bulk_create; the search vector needs no UPDATE afterwards,
because it is a generated column the database fills on insert (knowledgebase migration 0002).
Words follow a Zipf-like distribution, so common words match thousands of articles and
the ranking has real work to do.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from knowledgebase.models import Article, Category  # noqa: E402
from knowledgebase.search import Match  # noqa: E402
from knowledgebase.selectors import article_search  # noqa: E402

DOMAIN = [
    "order",
    "refund",
    "return",
    "shipping",
    "delivery",
    "invoice",
    "payment",
    "card",
    "account",
    "password",
    "login",
    "email",
    "subscription",
    "plan",
    "upgrade",
    "cancel",
    "discount",
    "coupon",
    "gift",
    "voucher",
    "size",
    "exchange",
    "warranty",
    "repair",
    "damaged",
    "missing",
    "tracking",
    "parcel",
    "courier",
    "address",
    "billing",
    "tax",
    "receipt",
    "export",
    "import",
    "integration",
    "api",
    "widget",
    "chat",
    "agent",
    "schedule",
    "holiday",
    "opening",
    "hours",
    "store",
    "pickup",
    "international",
    "customs",
    "duty",
    "currency",
    "bank",
    "transfer",
    "paypal",
    "invoice",
    "pdf",
    "download",
    "upload",
    "photo",
    "profile",
    "settings",
    "notification",
    "privacy",
    "data",
    "delete",
    "security",
    "two",
    "factor",
    "authentication",
    "device",
    "app",
    "mobile",
    "desktop",
    "browser",
    "cookie",
    "language",
    "translation",
    "report",
    "bug",
]
FILLER = [f"w{n}" for n in range(3000)]


def zipf_word(rng: random.Random) -> str:
    # Domain words are common, filler words form a long tail.
    if rng.random() < 0.5:
        return DOMAIN[min(int(rng.paretovariate(1.1)) - 1, len(DOMAIN) - 1)]
    return FILLER[min(int(rng.paretovariate(0.9)) - 1, len(FILLER) - 1)]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(zipf_word(rng) for _ in range(words)).capitalize() + "."


def seed(count: int, rng: random.Random) -> None:
    categories = Category.objects.bulk_create(Category(name=f"Category {n}", slug=f"category-{n}") for n in range(20))
    batch = []
    for n in range(count):
        body = "\n\n".join(
            " ".join(sentence(rng, rng.randint(8, 20)) for _ in range(4)) for _ in range(rng.randint(2, 6))
        )
        batch.append(
            Article(
                title=sentence(rng, rng.randint(3, 8)).rstrip("."),
                slug=f"article-{n}",
                body=body,
                status=Article.Status.PUBLISHED if rng.random() < 0.9 else Article.Status.DRAFT,
                category=rng.choice(categories),
            )
        )
    Article.objects.bulk_create(batch, batch_size=1000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledgebase_article")


def queries(rng: random.Random, count: int) -> list[tuple[str, Match]]:
    out: list[tuple[str, Match]] = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.4:
            out.append((zipf_word(rng), Match.ALL))
        elif kind < 0.7:
            out.append((f"{zipf_word(rng)} {zipf_word(rng)}", Match.ALL))
        elif kind < 0.8:
            out.append((f'"{zipf_word(rng)} {zipf_word(rng)}" -{zipf_word(rng)}', Match.ALL))
        else:  # a chat question, as the console's suggestions search it
            out.append((f"Hi, how do I {zipf_word(rng)} my {zipf_word(rng)} {zipf_word(rng)}?", Match.ANY))
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database; the fallback is not what this measures.")
    rng = random.Random(args.seed)
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        started = time.perf_counter()
        seed(args.articles, rng)
        print(f"seeded {args.articles} articles into {test_db} in {time.perf_counter() - started:.1f} s")
        work = queries(rng, args.queries)
        for text, match in work[:10]:  # warm the cache and the connection
            article_search(text=text, match=match)
        timings, hits = [], []
        for text, match in work:
            start = time.perf_counter()
            results = article_search(text=text, match=match)
            timings.append((time.perf_counter() - start) * 1000)
            hits.append(len(results))
        timings.sort()
        print(f"{len(work)} queries (20 results each, ranked, with snippets); mean hits {statistics.mean(hits):.1f}")
        print(
            f"p50 {percentile(timings, 50):.1f} ms  p95 {percentile(timings, 95):.1f} ms  "
            f"p99 {percentile(timings, 99):.1f} ms  max {timings[-1]:.1f} ms  (target: p95 < 50 ms)"
        )
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)


if __name__ == "__main__":
    main()
