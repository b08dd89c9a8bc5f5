#!/usr/bin/env python
"""Help-centre search on 10,000 articles on PostgreSQL: p50/p95/p99 of the real search path.

Run by hand against a PostgreSQL server:

    .venv/bin/python bench/kb_search.py                      # seed once, then measure
    .venv/bin/python bench/kb_search.py --runs 3 --explain   # three runs, plans of the slowest

It uses its own database (default `helpdesk_bench_kb`, created and migrated if missing) and
keeps the seeded articles between invocations; `--reseed` replaces them. The articles are
written like a shop's help centre: topics (orders, refunds, passwords, ...) are Zipf-
distributed, so a few topics have hundreds of articles and most have a handful; the words
of a body mix the topic's own words, a Zipf-distributed general English vocabulary and a
long tail of rare words (product names, error codes); bodies run from 40 to ~2,500 words.
The queries are what customers type: 2 to 6 words, mostly about common topics, some with a
rare word, some a single very common word, a few in websearch syntax ("phrase", -word, or),
and the console's suggestions for whole chat questions (any of the words).

Each timed call is what a page does: the help centre's first page (`article_search_page`:
the ranked candidates, which give the page count, then 10 hits with `ts_headline`
snippets) or the console's suggestions (`article_search` with `Match.ANY`, 5 hits with
snippets). It also prints the CPU time of this process and its PostgreSQL backend, which a
busy machine inflates far less than the wall clock.
"""

import argparse
import math
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_kb"
SLUG_PREFIX = "bench-"


def words(text: str) -> list[str]:
    return text.split()


# --- The vocabulary ------------------------------------------------------------------------

# Each topic's own words, most used first.
TOPIC_WORDS = """
orders: order orders ordered status confirmation number checkout basket cart placed pending processing
delivery: delivery deliver shipping ship courier parcel tracking dispatched arrive late days express
returns: return returns returning label unworn original packaging exchange within period drop
refunds: refund refunds money back bank card credited processed days statement reversed
payments: payment pay card declined visa mastercard paypal invoice instalments charge charged
account: account login log sign password reset email username locked verify profile
subscription: subscription plan renew renewal cancel cancellation monthly yearly upgrade downgrade
discounts: discount code coupon voucher promo sale offer expired valid apply gift
sizes: size sizes sizing fit small large chart measure measurements narrow wide
warranty: warranty guarantee repair broken faulty defect replacement claim damaged
privacy: privacy data personal delete gdpr cookies consent export marketing unsubscribe
app: app mobile iphone android update crash notifications install version download
stores: store stores shop opening hours pickup collect click location near
international: international customs duty duties import tax country abroad currency vat
gift_cards: gift card balance redeem expiry recipient physical digital top
business: business invoice company bulk wholesale quote tax vat number account
security: security two factor authentication code phishing suspicious fraud secure
loyalty: loyalty points rewards member tier earn redeem birthday bonus
integrations: api integration webhook key token export import csv zapier shopify
accessibility: accessibility screen reader keyboard contrast captions font large
"""
TOPICS: dict[str, list[str]] = {
    name: listed.split() for name, listed in (line.split(":") for line in TOPIC_WORDS.strip().splitlines())
}
# Words of any article, most used first.
GENERAL = words("""
    the a to and of you your is in for it on can we will be if with this or are not that have
    from at by as our an please when do need all any more after out about one use see also time
    how get make new only then there some they what which just other them first two next into
    up so within may should would could before back each same also most much take check open
    select choose click page button find help contact team support free working day week month
    year hours minutes today soon again still already always never information details message
    screen link form field list option settings menu section customer customers service problem
    issue question answer request change changes changed update add remove keep send sent
    receive received show shown follow steps step below above right left top bottom home
    usually normally sometimes quickly easy simple full part item items product products price
    prices total cost costs extra fee fees standard note important sure able possible available
    unavailable automatically manually online
""")
SYLLABLES = words("ka lo mi ne ru zo ta vi xe qua bri tor dex lan mor sil vex pra tun gol fin")
STOPWORDS_TYPED = words("how do i can my the a is to why where what when it not")


def zipf_pick(rng: random.Random, items: list[str], s: float = 1.1) -> str:
    """An item by rank, P(rank k) ∝ 1/k^s (inverse-CDF on the continuous approximation)."""
    n = len(items)
    u = rng.random()
    k = math.exp(u * math.log(n + 1)) if s == 1.0 else (1 + u * ((n + 1) ** (1 - s) - 1)) ** (1 / (1 - s))
    return items[min(n, max(1, int(k))) - 1]


class Vocabulary:
    def __init__(self, rng: random.Random) -> None:
        self.topics = list(TOPICS)
        # The long tail: invented product names and error codes, most used in a few articles.
        self.tail = sorted(
            {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(4000)}
            | {f"e{rng.randint(100, 9999)}" for _ in range(1500)}
        )
        rng.shuffle(self.tail)

    def topic(self, rng: random.Random) -> str:
        return zipf_pick(rng, self.topics, 1.0)

    def word(self, rng: random.Random, topic: str) -> str:
        roll = rng.random()
        if roll < 0.22:
            return zipf_pick(rng, TOPICS[topic], 0.9)
        return zipf_pick(rng, GENERAL, 1.0)

    def rare(self, rng: random.Random) -> str:
        return zipf_pick(rng, self.tail, 0.8)


def article_text(rng: random.Random, vocab: Vocabulary) -> tuple[str, str]:
    topic = vocab.topic(rng)
    words = TOPICS[topic]
    title = " ".join(
        [rng.choice(["How to", "Why", "Can I", "What if", "About", ""]), *rng.sample(words, rng.randint(2, 4))]
    ).strip()
    # A few product names or error codes per article, the same few repeated in it.
    rare = [vocab.rare(rng) for _ in range(rng.randint(0, 3))]
    if rare and rng.random() < 0.3:
        title += " " + rare[0]
    length = int(min(2500, max(40, rng.lognormvariate(math.log(250), 0.8))))
    parts, written = [], 0
    while written < length:
        sentences = []
        for _ in range(rng.randint(2, 5)):
            n = rng.randint(6, 22)
            sentence = [vocab.word(rng, topic) for _ in range(n)]
            if rare and rng.random() < 0.3:
                sentence[rng.randrange(n)] = rng.choice(rare)
            sentences.append(" ".join(sentence).capitalize() + ".")
            written += n
        paragraph = " ".join(sentences)
        if rng.random() < 0.15:
            paragraph = f"## {' '.join(rng.sample(words, 2)).capitalize()}\n\n{paragraph}"
        elif rng.random() < 0.1:
            paragraph = "\n".join(f"- {vocab.word(rng, topic)} {vocab.word(rng, topic)}" for _ in range(4))
        parts.append(paragraph)
    return title[:200], "\n\n".join(parts)


def customer_queries(rng: random.Random, vocab: Vocabulary, count: int) -> list[tuple[str, str]]:
    """(kind, text) pairs; kind "help" is the help centre, "chat" the console's suggestions."""
    out = []
    for _ in range(count):
        topic = vocab.topic(rng)
        words = TOPICS[topic]
        roll = rng.random()
        if roll < 0.10:  # one very common word
            out.append(("help", zipf_pick(rng, TOPICS[vocab.topics[0]], 1.5)))
        elif roll < 0.50:  # 2-6 words about a topic, as typed
            n = rng.randint(2, 6)
            content = rng.sample(words, min(len(words), rng.randint(1, 3)))
            fill = [rng.choice(STOPWORDS_TYPED) for _ in range(max(0, n - len(content)))]
            out.append(("help", " ".join(fill + content)))
        elif roll < 0.62:  # with a rare word: a product name or an error code
            out.append(("help", f"{rng.choice(words)} {vocab.rare(rng)}"))
        elif roll < 0.70:  # websearch syntax
            a, b, c = rng.sample(words, 3)
            out.append(("help", rng.choice([f'"{a} {b}"', f"{a} -{b}", f"{a} or {b} {c}"])))
        else:  # a whole chat question, searched on any of its words
            content = rng.sample(words, min(len(words), rng.randint(2, 4)))
            general = [zipf_pick(rng, GENERAL, 1.0) for _ in range(rng.randint(2, 5))]
            out.append(("chat", "Hi, " + " ".join(rng.sample(content + general, len(content) + len(general))) + "?"))
    return out


# --- Database --------------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """Point Django at the bench database, creating and migrating it if needed."""
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("helpdesk_bench"):
        sys.exit("--database-url must name a database starting with helpdesk_bench: its articles are replaced.")
    import psycopg

    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # As in production: DEBUG would also keep every query in memory.
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_hex(32))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def seed(count: int, rng: random.Random, vocab: Vocabulary, *, reseed: bool) -> None:
    from django.db import connection

    from knowledgebase.models import Article, Category

    existing = Article.objects.filter(slug__startswith=SLUG_PREFIX).count()
    if existing == count and not reseed:
        print(f"using the {count} articles already seeded (--reseed to replace them)")
        return
    started = time.perf_counter()
    Article.objects.filter(slug__startswith=SLUG_PREFIX).delete()
    categories = [
        Category.objects.update_or_create(slug=f"{SLUG_PREFIX}{name}", defaults={"name": name.replace("_", " ")})[0]
        for name in TOPICS
    ]
    batch = []
    for n in range(count):
        title, body = article_text(rng, vocab)
        # bulk_create skips save(): body_html is not searched, so it stays empty here.
        batch.append(
            Article(
                title=title,
                slug=f"{SLUG_PREFIX}{n}",
                body=body,
                status=Article.Status.PUBLISHED if rng.random() < 0.92 else Article.Status.DRAFT,
                category=rng.choice(categories),
            )
        )
        if len(batch) == 1000:
            Article.objects.bulk_create(batch)
            batch = []
    Article.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE knowledgebase_article")
    print(f"seeded {count} articles in {time.perf_counter() - started:.1f} s")


# --- Measuring -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def searcher(kind: str) -> Callable[[str], int]:
    from knowledgebase.search import Match
    from knowledgebase.selectors import article_search, article_search_page

    if kind == "chat":
        return lambda text: len(article_search(text=text, match=Match.ANY, limit=5))

    def help_page(text: str) -> int:
        page = article_search_page(text=text, page=1)
        return len(page.object_list)

    return help_page


class CpuClock:
    """CPU time of this process plus the PostgreSQL backend serving it, in ms, from
    /proc/<pid>/schedstat (nanoseconds on a CPU). On a busy machine the wall-clock time
    includes waiting for a core; this is the work itself. None when PostgreSQL is not local."""

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.path = Path(f"/proc/{cursor.fetchone()[0]}/schedstat")
        self.available = self.path.exists()

    def now(self) -> float:
        backend = int(self.path.read_text().split()[0]) / 1e6 if self.available else 0.0
        return backend + time.process_time() * 1000


def run_once(work: list[tuple[str, str]], clock: CpuClock) -> list[tuple[float, float, str, str, int]]:
    """(wall ms, cpu ms, kind, text, hits) per query."""
    timings = []
    for kind, text in work:
        search = searcher(kind)
        cpu, start = clock.now(), time.perf_counter()
        hits = search(text)
        wall = (time.perf_counter() - start) * 1000
        timings.append((wall, clock.now() - cpu, kind, text, hits))
    return timings


def summary(label: str, values: list[float]) -> str:
    values = sorted(values)
    return (
        f"{label:<10} n={len(values):<4} p50 {percentile(values, 50):6.1f} ms  p95 {percentile(values, 95):6.1f} ms"
        f"  p99 {percentile(values, 99):6.1f} ms  max {values[-1]:6.1f} ms"
    )


def explain(text: str, kind: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT one search runs, under the settings it runs with."""
    from django.db import connection

    plans: list[str] = []

    def capture(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        # The ranking is "SET LOCAL ...; SELECT ...; SET LOCAL ..." in one round trip: the
        # SELECT is explained in the same sandwich. The raw cursor skips this wrapper.
        if sql.startswith("SET LOCAL") or sql.lstrip().upper().startswith("SELECT"):
            explained = sql.replace("SELECT", "EXPLAIN (ANALYZE, BUFFERS) SELECT", 1)
            with connection.cursor() as wrapper:
                raw = wrapper.cursor
                raw.execute(explained, params)
                while raw.description is None or raw.description[0].name != "QUERY PLAN":
                    raw.nextset()
                plans.append("\n".join(row[0] for row in raw.fetchall()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        searcher(kind)(text)
    print(f"\n--- EXPLAIN ANALYZE for {kind} query {text!r}")
    for plan in plans:
        print(plan, end="\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--runs", type=int, default=1, help="timed passes over the same queries")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the three slowest queries")
    args = parser.parse_args()

    prepare_database(args.database_url)
    rng = random.Random(args.seed)
    vocab = Vocabulary(rng)
    seed(args.articles, rng, vocab, reseed=args.reseed)
    work = customer_queries(random.Random(args.seed + 1), vocab, args.queries)
    from django.db import connection

    connection.ensure_connection()
    clock = CpuClock()
    run_once(work[:20], clock)  # warm the connection, the caches and the plans

    for run in range(1, args.runs + 1):
        timings = run_once(work, clock)
        print(f"run {run}: {len(work)} queries; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for kind in ("all", "help", "chat"):
            rows = [t for t in timings if kind in ("all", t[2])]
            print("  " + summary(f"{kind} wall", [t[0] for t in rows]))
            if clock.available:
                print("  " + summary(f"{kind} cpu", [t[1] for t in rows]))
        print(f"  mean hits per page {statistics.mean(t[4] for t in timings):.1f}")
    slowest = sorted(timings, reverse=True)[:3]
    print("slowest: " + "; ".join(f"{t:.1f} ms {k} {text!r} ({h} hits)" for t, _, k, text, h in slowest))
    if args.explain:
        for _, _, kind, text, _ in slowest:
            explain(text, kind)
    print("target: p95 < 50 ms on 10,000 articles")


if __name__ == "__main__":
    main()
