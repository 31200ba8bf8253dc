"""Retention (#11 item 8) goes by when the tool last observed a post, by the wall clock.

A post is deleted ``retention_days`` after it was last fetched or read from an input, whatever
its own date and whichever account it belongs to (one dropped from the config included). That
time is never reported and never an audit's clock: the audit stays on the data's time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from auditor.config import load_config
from auditor.engine.audit import Engine
from auditor.registry import load_registry
from auditor.reports import json_report
from auditor.store.history import HistoryStore

from conftest import END, WriteBundle, WriteConfig, healthy_account, neglected_account

RETENTION_DAYS = 90
FIRST_RUN = END + timedelta(hours=1)
# The second run: the first was RETENTION_DAYS + 2 days ago.
SECOND_RUN = FIRST_RUN + timedelta(days=RETENTION_DAYS + 2)
# An export of posts far older than the retention, read by the second run.
OLD_EXPORT_AGE = timedelta(days=400)


def shifted(records: Iterable[Mapping[str, Any]], by: timedelta) -> list[dict[str, Any]]:
    """The records with every time moved by ``by``."""
    moved = []
    for record in records:
        copy = dict(record)
        for key in ("created_at", "window_start", "window_end", "fetched_at"):
            if isinstance(copy.get(key), str):
                copy[key] = (datetime.fromisoformat(copy[key]) + by).isoformat()
        moved.append(copy)
    return moved


def config_text(accounts: dict[str, Path]) -> str:
    lines = "\n".join(
        f"              - {{platform: x, handle: {handle}, source: {path}}}"
        for handle, path in accounts.items()
    )
    return f"""
        output: {{dir: out}}
        store: {{path: out/history.sqlite, retention_days: {RETENTION_DAYS}}}
        clients:
          - name: acme
            accounts:
{lines}
    """


def audit(config_path: Path, started_at: datetime, out: Path) -> list[Path]:
    registry = load_registry()
    config = load_config(config_path, registry)
    config.store_path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore(config.store_path, config.retention_days) as store:
        result = Engine(config, registry, store=store).run(started_at=started_at)
    return json_report.write(result, out)


def kept_post_ids(store_path: Path, account: str) -> set[str]:
    with HistoryStore(store_path) as store:
        return set(store.previous_posts("x", account, SECOND_RUN + timedelta(days=1)))


def test_retention_follows_the_last_observation_not_the_data_nor_the_config(
    tmp_path: Path, write_bundle_file: WriteBundle, write_config: WriteConfig
) -> None:
    acme = write_bundle_file("acme.jsonl", healthy_account("AcmeHelp"))
    gone = write_bundle_file("gone.jsonl", neglected_account("GoneCo"))
    old = write_bundle_file("old.jsonl", shifted(neglected_account("OldCo"), -OLD_EXPORT_AGE))
    store_path = tmp_path / "out" / "history.sqlite"

    # The first run reads GoneCo; then GoneCo leaves the config and is never read again.
    first = write_config(config_text({"AcmeHelp": acme, "GoneCo": gone}), "first.yaml")
    audit(first, FIRST_RUN, tmp_path / "reports-1")
    assert kept_post_ids(store_path, "GoneCo") == {"10", "11"}

    # The second run reads OldCo, whose posts are dated far beyond the retention.
    second = write_config(config_text({"AcmeHelp": acme, "OldCo": old}), "second.yaml")
    reports = audit(second, SECOND_RUN, tmp_path / "reports-2")

    # Observed just now: kept, however old their own dates.
    assert kept_post_ids(store_path, "OldCo") == {"10", "11"}
    assert kept_post_ids(store_path, "AcmeHelp") == {"1", "2"}
    # Last observed RETENTION_DAYS + 2 days ago, by an account no longer in the config: gone.
    assert kept_post_ids(store_path, "GoneCo") == set()

    # The wall-clock observation is never reported, and the audit keeps the data's clock.
    (report_path,) = reports
    text = report_path.read_text(encoding="utf-8")
    assert "last_observed" not in text and "observed_at" not in text
    report = json.loads(text)
    windows = {a["account"]: a["coverage"]["window_end"] for a in report["accounts"]}
    assert windows["OldCo"] == (END - OLD_EXPORT_AGE).isoformat()
    assert windows["AcmeHelp"] == END.isoformat()
