"""An account's ``aliases`` (its brand's other handles): read from the config with a clear
error for a bad value, seen in mentions in every form, never a customer, never pseudonymised.
The conversation rule itself: ``tests/test_addressed_conversations.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.analysis.threads import BrandMentions, analyse
from auditor.config import ConfigError, load_config
from auditor.engine.audit import Engine
from auditor.model import AccountData, AccountKey, Post
from auditor.registry import load_registry
from auditor.sources.bundle import add_record

from conftest import END, WriteBundle, WriteConfig, post, window


def _post(text: str, mentions: list[str] | None = None) -> Post:
    return Post(id="1", author="ann", by_brand=False, created_at=END, text=text, mentions=mentions)


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeMain my order?",
        "hey @acmemain!",
        "see https://x.com/ACMEMAIN/status/1",
        "twitter.com/AcmeMain",
        "@AcmeHelp are you there",
        # Not ASCII: the quick lower-case test is skipped, the pattern still decides.
        "Ça ne marche pas @ACMEMAIN",
        "@acmehelp@social.example bonjour",
    ],
)
def test_every_form_of_the_handle_or_an_alias_is_a_mention(text: str) -> None:
    mentions = BrandMentions("acmehelp@social.example", aliases=["AcmeMain"])
    assert mentions(_post(text))


@pytest.mark.parametrize(
    "text",
    ["@AcmeMainland hi", "fox.com/AcmeMain", "acmemain without an at", "@acmehelp@other.example"],
)
def test_longer_handles_other_hosts_and_bare_names_are_not_mentions(text: str) -> None:
    mentions = BrandMentions("acmehelp@social.example", aliases=["AcmeMain"])
    assert not mentions(_post(text))


def test_mention_data_naming_an_alias_by_handle_or_id_is_a_mention() -> None:
    mentions = BrandMentions("AcmeHelp", ["100"], aliases=["AcmeMain"], alias_ids=["200"])
    assert mentions(_post("", ["@acmemain"]))
    assert mentions(_post("", ["200"]))
    assert not mentions(_post("@AcmeMain in the text only", ["someone"]))


def test_alias_posts_are_counted_apart_and_never_answer() -> None:
    data = AccountData(key=AccountKey("x", "AcmeHelp"))
    for record in [
        post("1", "ann", 10, "@AcmeMain is the app down?"),
        post("2", "AcmeMain", 9, "@ann not that we know", in_reply_to="1", thread="1"),
    ]:
        add_record(data, record)
    index = analyse(data, aliases=["@acmemain"])
    assert index.alias_posts == 1 and index.customer_posts == 1
    ((engagement, first, answer),) = index.answered_posts()
    assert (engagement.customer, first.id, answer) == ("ann", "1", None)


def _config(write_config: WriteConfig, aliases: str, bundle: Path) -> Path:
    return write_config(f"""
        clients:
          - name: acme
            accounts:
              - platform: x
                handle: AcmeHelp
                aliases: {aliases}
                source: {bundle}
    """)


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        ("AcmeMain", "expected array, got 'AcmeMain'"),
        ("['Acme Main']", "'Acme Main' is not a handle"),
        ("['@AcmeHelp']", "'@AcmeHelp' is the account's own handle, not an alias"),
        ("[AcmeMain, '@acmemain']", "alias '@acmemain' is listed twice"),
        ("['']", "should be non-empty"),
    ],
)
def test_a_bad_alias_is_one_line_naming_the_key(
    aliases: str, message: str, write_config: WriteConfig, write_bundle_file: WriteBundle
) -> None:
    path = _config(write_config, aliases, write_bundle_file("acme.jsonl", [window()]))
    with pytest.raises(ConfigError) as caught:
        load_config(path, load_registry())
    text = str(caught.value)
    assert "\n" not in text and message in text
    assert "clients[0].accounts[0].aliases" in text


@pytest.mark.parametrize("pseudonymize", [False, True])
def test_the_engine_gives_checks_the_aliases_and_keeps_them_out_of_pseudonyms(
    pseudonymize: bool,
    write_config: WriteConfig,
    write_bundle_file: WriteBundle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = write_bundle_file(
        "acme.jsonl",
        [
            window(),
            post("1", "ann", 30, "@AcmeMain my order never came"),
            post("2", "AcmeMain", 29, "@ann we'll pass it on", in_reply_to="1", thread="1"),
        ],
    )
    monkeypatch.setenv("AUDITOR_PSEUDONYM_KEY", "secret")
    path = write_config(f"""
        output: {{dir: {tmp_path / "out"}}}
        privacy: {{pseudonymize_customers: {str(pseudonymize).lower()}}}
        policy: {{select: [RSP001]}}
        clients:
          - name: acme
            accounts:
              - {{platform: x, handle: AcmeHelp, aliases: [AcmeMain], source: {bundle}}}
    """)
    registry = load_registry()
    result = Engine(load_config(path, registry), registry, workers=1).run(END)
    ((account,),) = [list(result.accounts())]
    (check,) = account.checks
    # ann wrote to the alias and nobody answered her: addressed, unanswered; the alias's own
    # post is no customer's.
    assert check.metrics["alias_posts"] == 1
    assert check.metrics["addressed_posts"] == 1 and check.metrics["unanswered"] == 1
    assert [f.evidence_id for f in check.findings] == ["1"]
