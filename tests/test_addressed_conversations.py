"""Who addressed the brand, per conversation: the shared cases of
``tests/data/addressed_conversations.yaml``, run through the auditor (the twcs source, the
thread analysis and the RSP checks via the engine, with the accounts' ``aliases`` from the
config) and through the pandas peer (``benchmarks/pandas_first_response.py``), which must agree
with the cases and so with each other. The rule: ``docs/sla.md``, "Addressed and answered".
"""

from __future__ import annotations

import csv
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_twcs_pandas import pandas_peer

from auditor.analysis.threads import analyse
from auditor.config import load_config
from auditor.engine.audit import Engine
from auditor.registry import load_registry
from auditor.sources.twcs import read_twcs_file

from conftest import END, WriteConfig

CASES_FILE = Path(__file__).parent / "data" / "addressed_conversations.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]
START = datetime(2017, 10, 31, 10, 0, tzinfo=UTC)
TWCS_DATE = "%a %b %d %H:%M:%S %z %Y"
# brand, thread root, customer, the customer's posts (earliest first), the first answer
Conversation = tuple[str, str, str, tuple[str, ...], str | None]
PeerConversation = tuple[str, str, str, tuple[str, int], str | None]


def _when(case: dict[str, Any]) -> dict[str, datetime]:
    return {str(t[0]): START + timedelta(minutes=t[2]) for t in case["tweets"]}


def write_case(case: dict[str, Any], path: Path) -> Path:
    """The case's tweets as a twcs file (the columns of the real one)."""
    replies: dict[str, list[str]] = {}
    for tweet_id, _, _, _, parent in case["tweets"]:
        if parent is not None:
            replies.setdefault(str(parent), []).append(str(tweet_id))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "tweet_id",
                "author_id",
                "inbound",
                "created_at",
                "text",
                "response_tweet_id",
                "in_response_to_tweet_id",
            ]
        )
        for tweet_id, author, minute, text, parent in case["tweets"]:
            writer.writerow(
                [
                    tweet_id,
                    author,
                    "False" if author in case["brands"] else "True",
                    (START + timedelta(minutes=minute)).strftime(TWCS_DATE),
                    text,
                    ",".join(replies.get(str(tweet_id), [])),
                    "" if parent is None else parent,
                ]
            )
    return path


def expected_conversations(case: dict[str, Any]) -> set[Conversation]:
    return {
        (
            brand,
            str(c["root"]),
            c["customer"],
            tuple(str(p) for p in c["posts"]),
            None if c["answer"] is None else str(c["answer"]),
        )
        for brand, conversations in case["expected"].items()
        for c in conversations
    }


def auditor_conversations(
    case: dict[str, Any], path: Path
) -> tuple[set[Conversation], dict[str, set[str]]]:
    """The addressed conversations of every brand, and the customers addressing nothing."""
    found: set[Conversation] = set()
    ignored: dict[str, set[str]] = {}
    twcs = read_twcs_file(path)
    for brand, aliases in case["brands"].items():
        data = twcs.account_data(brand)
        assert data.window is not None
        index = analyse(data, aliases=aliases, window_end=data.window.end)
        for engagement in index.engagements:
            answer = engagement.first_answers()[0]
            found.add(
                (
                    brand,
                    engagement.thread,
                    engagement.customer,
                    tuple(p.id for p in engagement.posts),
                    None if answer is None else answer.id,
                )
            )
        addressed = {e.customer for e in index.engagements}
        customers = {p.author for p in data.posts if not p.by_brand and p.author not in aliases}
        ignored[brand] = customers - addressed
        alias_tweets = [t for t in case["tweets"] if t[1] in aliases]
        assert index.alias_posts == len(alias_tweets)
    return found, ignored


def peer_conversations(case: dict[str, Any], path: Path) -> set[PeerConversation]:
    """The peer's conversations: brand, root, customer, (first post, how many posts), answer.
    The peer gives times; every tweet of a case has a minute of its own, which names it."""
    peer = pandas_peer()
    tweets = peer.read_tweets(path)
    peer.add_threads(tweets)
    aliases = {
        b.lower(): frozenset(a.lower() for a in names) for b, names in case["brands"].items()
    }
    clocks = peer.first_responses(tweets, aliases)
    at_second = {int(w.timestamp()): i for i, w in _when(case).items()}
    customers = {str(t[1]).lower(): str(t[1]) for t in case["tweets"]}
    ids = tweets["tweet_id"].to_numpy()
    found: set[PeerConversation] = set()
    for row in clocks.itertuples():
        answered = row.answered
        answer = None if answered != answered else at_second[int(answered)]  # NaN: unanswered
        first = at_second[int(row.started)]
        root = str(ids[int(row.root)])
        found.add(
            (str(row.brand), root, customers[str(row.customer)], (first, int(row.posts)), answer)
        )
    return found


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_auditor_and_pandas_peer_agree_on_who_addressed_the_brand(
    case: dict[str, Any], tmp_path: Path, write_config: WriteConfig
) -> None:
    path = write_case(case, tmp_path / "case.csv")
    expected = expected_conversations(case)
    found, ignored = auditor_conversations(case, path)
    assert found == expected
    assert ignored == {b: set(c) for b, c in case["not_addressed"].items()}

    # The engine, with the aliases from the config: RSP001 counts every addressed post and
    # RSP002 times each conversation from its earliest post.
    figures = engine_figures(case, path, write_config)
    for brand in case["brands"]:
        mine = [c for c in expected if c[0] == brand]
        assert figures[brand]["addressed_posts"] == sum(len(c[3]) for c in mine)
        assert figures[brand]["first_responses"] == expected_minutes(case, mine)

    shown = {(b, r, c, (p[0], len(p)), a) for b, r, c, p, a in expected}
    assert peer_conversations(case, path) == shown


def expected_minutes(case: dict[str, Any], conversations: list[Conversation]) -> dict[str, Any]:
    when = _when(case)
    minutes = [
        (when[answer] - when[posts[0]]).total_seconds() / 60
        for _, _, _, posts, answer in conversations
        if answer is not None
    ]
    return {"count": len(minutes), "median": round(statistics.median(minutes), 2)}


def engine_figures(
    case: dict[str, Any], path: Path, write_config: WriteConfig
) -> dict[str, dict[str, Any]]:
    accounts = "\n".join(
        f"      - {{platform: x, handle: {brand}, aliases: {list(aliases)},"
        f" source: {{type: twcs, path: {path}}}}}"
        for brand, aliases in case["brands"].items()
    )
    config_path = write_config(
        "policy: {select: [RSP001, RSP002], business_hours: {always_open: true}}\n"
        f"clients:\n  - name: c\n    accounts:\n{accounts}\n"
    )
    registry = load_registry()
    result = Engine(load_config(config_path, registry), registry, workers=1).run(END)
    figures: dict[str, dict[str, Any]] = {}
    for account in result.accounts():
        checks = {c.id: c.metrics for c in account.checks}
        figures[account.account] = {
            "addressed_posts": checks["RSP001"]["addressed_posts"],
            "first_responses": {
                "count": checks["RSP002"]["count"],
                "median": checks["RSP002"]["wall_minutes"]["median"],
            },
        }
    return figures
