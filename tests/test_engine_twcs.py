"""Auditing twcs files: the pool of worker processes gives what the sequential path gives."""

from __future__ import annotations

import csv
import multiprocessing
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.config import load_config
from auditor.engine.audit import Engine
from auditor.registry import load_registry
from auditor.sources.inputs import TwcsInput
from auditor.store.history import HistoryStore

from conftest import END, WriteConfig

BRANDS = ("AcmeHelp", "ShipFastCare", "globo_care", "NovaSupport")
HEADER = ["", "tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id",
          "in_response_to_tweet_id"]  # fmt: skip
TWCS_DATE = "%a %b %d %H:%M:%S +0000 %Y"


class _Thread:
    """Tweets of one invented conversation, as rows of the dataset."""

    def __init__(self, rows: list[list[str]], next_id: int) -> None:
        self.rows, self.next_id = rows, next_id

    def tweet(self, author: str, when: datetime, text: str, parent: int | None) -> int:
        tweet_id = self.next_id
        self.next_id += 1
        inbound = "False" if author in BRANDS else "True"
        written_parent = "" if parent is None else f"{parent}.0"  # as the dataset writes ids
        self.rows.append(
            [str(tweet_id), author, inbound, when.strftime(TWCS_DATE), text, "", written_parent]
        )
        return tweet_id


def write_twcs_file(path: Path, threads: int = 120, seed: int = 5) -> Path:
    """An invented twcs file with what the RSP checks meet in the real one: answered and
    unanswered customers, follow-ups, several customers in a thread, brand-started threads,
    threads shared by two brands, missing parents, ties to the second; rows shuffled."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    thread = _Thread(rows, 1000)
    start = datetime(2017, 10, 30, 8, 0, tzinfo=UTC)
    for number in range(threads):
        brand = BRANDS[number % len(BRANDS)]
        customer = str(500000 + rng.randrange(60))
        when = start + timedelta(minutes=rng.randrange(60 * 48))
        kind = rng.random()
        if kind < 0.15:  # a brand post with comments from several customers
            root = thread.tweet(brand, when, "New timetable from Monday!", None)
            for other in range(rng.randrange(1, 4)):
                commenter = str(600000 + other + 3 * number)
                at = when + timedelta(minutes=rng.randrange(1, 90))
                asked = f"@{brand} does it cover weekends?" if other else "weekends too?"
                comment = thread.tweet(commenter, at, asked, root)
                if rng.random() < 0.6:
                    later = at + timedelta(minutes=rng.randrange(0, 200))
                    thread.tweet(brand, later, f"@{commenter} Yes it does.", comment)
            continue
        parent = None if kind > 0.1 else 999_999  # a parent missing from the file
        text = f"@{brand} my order never came" if rng.random() < 0.5 else "anyone there?"
        first = thread.tweet(customer, when, text, parent)
        if rng.random() < 0.2:
            # A follow-up at the same second, and one replying to the customer's own post.
            thread.tweet(customer, when, "still waiting", first)
        if rng.random() < 0.3:
            # Another customer joins, mentioning the brand or not, answered or not: addressed
            # only when mentioning it (the thread is not theirs).
            joiner = str(700000 + number)
            at = when + timedelta(minutes=rng.randrange(1, 30))
            said = f"same here @{brand}" if rng.random() < 0.5 else "same here"
            joined = thread.tweet(joiner, at, said, first)
            if rng.random() < 0.7:
                later = at + timedelta(minutes=rng.randrange(1, 120))
                thread.tweet(brand, later, f"@{joiner} Looking into it.", joined)
        if rng.random() < 0.8:
            at = when + timedelta(minutes=rng.randrange(0, 240), seconds=rng.randrange(60))
            reply = thread.tweet(brand, at, f"@{customer} Sorry! Please DM us.", first)
            if rng.random() < 0.5:
                again = thread.tweet(customer, at + timedelta(minutes=5), "done, thanks", reply)
                if rng.random() < 0.5:
                    thread.tweet(brand, at + timedelta(minutes=70), "@x Thanks!", again)
            if rng.random() < 0.1:
                second = BRANDS[(number + 1) % len(BRANDS)]
                thread.tweet(second, at + timedelta(minutes=3), "We can help too.", first)
    rng.shuffle(rows)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows([str(index), *row] for index, row in enumerate(rows))
    return path


def _history(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {
            "posts": sorted(db.execute("SELECT * FROM posts")),
            "findings": sorted(db.execute("SELECT * FROM findings")),
        }


def test_parallel_twcs_audit_gives_the_sequential_result(
    tmp_path: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_twcs_file(tmp_path / "twcs.csv")
    accounts = "\n".join(
        f"      - {{platform: x, handle: {brand.lower()}, source: {{type: twcs, path: {data}}}}}"
        for brand in BRANDS
    )
    config_path = write_config(
        "policy: {select: [RSP], business_hours: {always_open: true}}\n"
        f"clients:\n  - name: c\n    accounts:\n{accounts}\n"
    )
    registry = load_registry()
    config = load_config(config_path, registry)
    monkeypatch.setattr(TwcsInput, "parallel_min_size", 0)
    forks: list[str] = []
    real_context = multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        forks.append(str(method))
        return real_context(method)

    monkeypatch.setattr(multiprocessing, "get_context", spy)
    outputs = {}
    for workers in (1, 2):
        with HistoryStore(tmp_path / f"h{workers}.sqlite") as store:
            result = Engine(config, registry, store=store, workers=workers).run(started_at=END)
        result.finished_at = None
        outputs[workers] = (result, _history(tmp_path / f"h{workers}.sqlite"))
    assert forks == ["fork"]  # only the two-worker run used a pool
    sequential, parallel = outputs[1], outputs[2]
    assert parallel[0].accounts() == sequential[0].accounts()
    assert parallel[1] == sequential[1]
    audited = sequential[0].accounts()
    assert [a.account for a in audited] == [b.lower() for b in BRANDS]
    assert all(a.status != "error" for a in audited)
    assert sum(len(c.findings) for a in audited for c in a.checks) > 0
    assert len(sequential[1]["posts"]) > 0


def test_small_twcs_file_is_audited_without_a_pool(
    tmp_path: Path, write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_twcs_file(tmp_path / "twcs.csv", threads=20)
    config_path = write_config(
        "policy: {select: [RSP002]}\nclients:\n  - name: c\n    accounts:\n"
        f"      - {{platform: x, handle: AcmeHelp, source: {{type: twcs, path: {data}}}}}\n"
        f"      - {{platform: x, handle: NovaSupport, source: {{type: twcs, path: {data}}}}}\n"
    )
    registry = load_registry()
    config = load_config(config_path, registry)

    def no_pool(method: str | None = None) -> Any:
        raise AssertionError("a pool for a file below TwcsInput.parallel_min_size")

    monkeypatch.setattr(multiprocessing, "get_context", no_pool)
    result = Engine(config, registry, workers=2).run(started_at=END)
    assert [a.status != "error" for a in result.accounts()] == [True, True]


def test_a_changed_twcs_file_is_another_run_and_the_same_file_the_same_run(
    tmp_path: Path, write_config: WriteConfig
) -> None:
    """A run is keyed by its inputs' contents: a twcs file (hashed only as it is read) too."""
    data = write_twcs_file(tmp_path / "twcs.csv", threads=30)
    config_path = write_config(
        "policy: {select: [RSP002]}\nclients:\n  - name: c\n    accounts:\n"
        f"      - {{platform: x, handle: AcmeHelp, source: {{type: twcs, path: {data}}}}}\n"
    )
    registry = load_registry()
    config = load_config(config_path, registry)
    history = tmp_path / "h.sqlite"

    def run() -> str:
        with HistoryStore(history) as store:
            return Engine(config, registry, store=store).run(started_at=END).run_id

    first = run()
    assert run() == first
    write_twcs_file(data, threads=30, seed=6)
    changed = run()
    assert changed != first
    with sqlite3.connect(history) as db:
        runs = sorted(key for (key,) in db.execute("SELECT run_key FROM runs"))
        accounts = sorted(key for (key,) in db.execute("SELECT run_key FROM run_accounts"))
    assert runs == sorted([first, changed])
    assert accounts == runs  # each run's account row moved with its key
