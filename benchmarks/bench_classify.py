"""Benchmark the customer-post classifier on synthetic posts.

Usage: python benchmarks/bench_classify.py [--texts N] [--repeat-share F] [--seed N]

Generates N (default 200,000) realistic synthetic customer posts, about 30% of them repeats of
earlier posts (verbatim or differing only in @mentions, links, case and spacing, which
normalisation removes), with a few percent in other languages. Prints the distinct-text count
and texts/s for ``classify_many`` on a fresh classifier (cold cache, language detector built on
first need), then the same texts again on the warm cache. The whole audit must reach 25,000
posts/s, so the classifier should be comfortably faster than that.

CPU seconds are printed too: on a machine shared with other work, wall time overstates the cost.
"""

from __future__ import annotations

import argparse
import os
import random
import time

from auditor.analysis.classify import Classification, Classifier, label_counts, normalise

_PRODUCTS = (
    "headphones", "blender", "jacket", "phone case", "running shoes", "coffee machine",
    "laptop bag", "gift card", "desk lamp", "vacuum", "charger", "backpack",
)  # fmt: skip
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CITIES = ("Leeds", "Austin", "Dublin", "Toronto", "Perth", "Denver", "Bristol", "Cork")

_TEMPLATES: tuple[str, ...] = (
    # complaints
    "my order #{order} still hasn't arrived, it's been {n} days",
    "never received my {product}, order {order}. what is going on?",
    "why is my package {n} days late??",
    "great, my {product} is lost again. order {order}",
    "been on hold for {n} minutes, this is ridiculous",
    "the {product} arrived broken and nobody answers my emails",
    "you charged me twice for order {order}, I want my money back",
    "the app keeps crashing when I try to pay for my {product}",
    "not happy at all, the {product} stopped working after {n} days",
    "still no refund for order {order} after {n} weeks",
    # questions
    "how do I reset my password? I've tried {n} times",
    "do you ship to {city}? thinking about ordering the {product}",
    "when do you open on {day}?",
    "is the {product} coming back in stock? asking for a friend",
    "what is your refund policy for the {product}?",
    "where can I find the tracking number for order {order}?",
    "i'm not angry, just asking when order {order} will ship",
    # praise
    "no problem at all, thanks for the quick fix on order {order}!",
    "love my new {product}, thank you so much",
    "shoutout to the team in {city}, super helpful on {day}",
    "thanks, the issue with my {product} is resolved now",
    "couldn't be happier with the {product} 😍",
    # spam
    "FREE crypto giveaway 🚀 send 0.1 BTC get 0.2 back https://bit.ly/{code}",
    "follow me for daily {product} deals, link in bio",
    "50% off {product} today only, shop now https://deals-{code}.example.shop/x",
    # other
    "just saw your ad for the {product} on TV in {city}",
    "happy {day} everyone",
    "ok",
)
_FOREIGN: tuple[str, ...] = (
    "mon colis n'est toujours pas arrivé, commande {order}",
    "bonjour, comment puis-je changer mon mot de passe ?",
    "mi pedido {order} no ha llegado todavía y nadie responde",
    "¿cuál es el horario de la tienda el {n} de mayo?",
    "meine Bestellung {order} ist immer noch nicht angekommen",
    "vielen Dank für die schnelle Hilfe, alles funktioniert wieder",
    "il mio ordine {order} è arrivato rotto",
    "спасибо за быструю доставку, заказ {order}",
)
_OPENERS = ("", "", "", "hi, ", "hey ", "hello, ", "ugh. ", "seriously, ", "quick one: ", "so ")
_CLOSERS = (
    "", "", " thanks", " pls", "!!!", " asap", " 🙏", " 😡", " (order {order})",
    " this is the {n}th time", " - {city} store", " ref {order}", " #{tag}", " #{tag} #{tag2}",
    " sent from my {product}", " day {n} of waiting",
)  # fmt: skip
_TAGS = (
    "fail", "help", "customerservice", "nofilter", "monday", "delivery", "refund", "love",
    "happy", "tech", "fashion", "foodie", "travel", "gaming", "music", "sale", "deal",
)  # fmt: skip
_CONTEXTS = (
    "", " since {day}", " for {n} days now", " at the {city} store", " (ticket {order})",
    " - {n} emails so far", " on {day} the {n}th",
)  # fmt: skip
_FOREIGN_SHARE = 0.04


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        order=rng.randrange(10_000, 99_999_999),
        n=rng.randrange(2, 60),
        product=rng.choice(_PRODUCTS),
        city=rng.choice(_CITIES),
        day=rng.choice(_DAYS),
        code="".join(rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=6)),
        tag=rng.choice(_TAGS),
        tag2=rng.choice(_TAGS) + str(rng.randrange(100)),
    )


def _decorate(text: str, rng: random.Random) -> str:
    """Vary what normalisation removes: mentions, links, case, spacing."""
    if rng.random() < 0.6:
        text = f"@{rng.choice(('acme', 'acme_help', 'AcmeSupport'))} {text}"
    if rng.random() < 0.1:
        text = f"{text} https://pic.example.com/{rng.randrange(10**9)}"
    if rng.random() < 0.2:
        text = text.upper() if rng.random() < 0.3 else text.capitalize()
    if rng.random() < 0.1:
        text = text.replace(" ", "  ", 1)
    return text


def synthetic_posts(count: int, repeat_share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    posts: list[str] = []
    for _ in range(count):
        if posts and rng.random() < repeat_share:
            # Recent posts are more likely to be repeated (copy-paste campaigns, bots).
            earlier = posts[max(0, len(posts) - 5000 + rng.randrange(5000))]
            posts.append(earlier if rng.random() < 0.5 else _decorate(normalise(earlier), rng))
            continue
        if rng.random() < _FOREIGN_SHARE:
            template = rng.choice(_FOREIGN)
        else:
            template = (
                rng.choice(_OPENERS)
                + rng.choice(_TEMPLATES)
                + rng.choice(_CONTEXTS)
                + rng.choice(_CLOSERS)
            )
        posts.append(_decorate(_fill(template, rng), rng))
    return posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200_000)
    parser.add_argument("--repeat-share", type=float, default=0.30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    posts = synthetic_posts(args.texts, args.repeat_share, args.seed)
    distinct = len({normalise(post) for post in posts})
    print(f"texts: {len(posts):,}  distinct normalised texts: {distinct:,}")

    classifier = Classifier()
    results: list[list[Classification]] = []
    for run in ("cold cache", "warm cache"):
        cpu_before = os.times()
        started = time.perf_counter()
        results.append(classifier.classify_many(posts))
        seconds = time.perf_counter() - started
        cpu_after = os.times()
        cpu = cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system
        print(f"{run}: {len(posts) / seconds:,.0f} texts/s ({seconds:.2f} s wall, cpu {cpu:.2f} s)")
    if results[0] != results[1]:
        raise SystemExit("the warm cache gave different results from the cold one")
    counts = label_counts(Classifier().classify_many(posts[:20_000]))
    print("labels (first 20,000):", ", ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
