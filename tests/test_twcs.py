"""The twcs ("Customer Support on Twitter") reader, on small invented files with each quirk.

``data/twcs/twcs_indexed.csv``: index column, float ids, True/False, quoted and unquoted
mangled reply lists, repairable and unrepairable mojibake, a thread written children first.
``data/twcs/twcs_bom_crlf.csv``: BOM, no index column, TRUE/FALSE, CRLF line ends, bare CRs in
unquoted text, a quoted CRLF, a thread shared by two brands, a missing parent, a bad date and
a thread no brand answered.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from auditor.sources.twcs import TwcsStats, iter_twcs_records, read_twcs, repair_mojibake

DATA = Path(__file__).parent / "data" / "twcs"
INDEXED = DATA / "twcs_indexed.csv"
BOM_CRLF = DATA / "twcs_bom_crlf.csv"
REAL = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "twcs" / "twcs_first5001.csv"
)

Record = dict[str, Any]


def posts_of(records: list[Record]) -> dict[str, Record]:
    return {record["id"]: record for record in records if record["kind"] == "post"}


def all_posts(by_account: dict[str, list[Record]]) -> list[Record]:
    return [
        record for records in by_account.values() for record in records if record["kind"] == "post"
    ]


def physical_line_of(path: Path, marker: str) -> int:
    """1-based line (split on \\n only) where ``marker`` starts."""
    text = path.read_bytes().decode("utf-8-sig")
    return text[: text.index(marker)].count("\n") + 1


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8", newline="")
    return path


STANDARD_HEADER = (
    "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id"
)


# --- the indexed file ------------------------------------------------------------------------


def test_index_column_and_float_ids() -> None:
    by_account, stats = read_twcs(INDEXED)
    posts = posts_of(by_account["AcmeHelp"])
    assert stats.rows_read == 8
    assert stats.rows_unreadable == 0
    assert set(posts) == {"101", "102", "103", "104", "105", "106", "107", "108"}
    assert posts["104"]["in_reply_to"] == "103"
    assert posts["101"]["in_reply_to"] is None
    assert all(not post["id"].endswith(".0") for post in posts.values())


def test_true_false_and_brand_identity() -> None:
    by_account, _ = read_twcs(INDEXED)
    posts = posts_of(by_account["AcmeHelp"])
    assert posts["102"]["by_brand"] is True
    assert posts["102"]["author"] == "AcmeHelp"
    assert posts["101"]["by_brand"] is False
    assert posts["101"]["author"] == "200001"
    assert posts["101"]["author_id"] == "200001"
    assert list(by_account) == ["AcmeHelp"]


def test_threads_rebuilt_to_the_root_whatever_the_row_order() -> None:
    by_account, stats = read_twcs(INDEXED)
    posts = posts_of(by_account["AcmeHelp"])
    assert {posts[i]["thread"] for i in ("101", "102", "103", "104", "105")} == {"101"}
    assert {posts[i]["thread"] for i in ("106", "107", "108")} == {"106"}
    assert stats.parents_missing == 0


def test_reply_lists_quoted_and_unquoted_mangled() -> None:
    by_account, stats = read_twcs(INDEXED)
    posts = posts_of(by_account["AcmeHelp"])
    # The unquoted "17,751,776" split row 105 into two extra fields: rebuilt, not dropped.
    assert posts["105"]["text"] == "@200001 Also: check your spam folder"
    assert posts["105"]["in_reply_to"] == "102"
    assert posts["106"]["text"] == "@AcmeHelp is the app down?"
    assert posts["103"]["text"] == "@AcmeHelp done, order 5521"
    assert stats.rows_rebuilt >= 1


def test_mojibake_repaired_when_it_round_trips() -> None:
    by_account, stats = read_twcs(INDEXED)
    posts = posts_of(by_account["AcmeHelp"])
    assert posts["104"]["text"] == "@200001 We’ve found it — it’s on its way 🚚"
    # 😁 holds the byte 0x81, which cp1252 leaves undefined.
    assert posts["107"]["text"] == "@200002 Not that we know of 😁 try again?"
    # Mixed with a correct accent, the text does not round-trip and is kept as it was.
    assert posts["108"]["text"] == "@AcmeHelp Café says â€” still down"
    assert stats.mojibake_repaired == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Itâ€™s fine", "It’s fine"),
        ("plain ascii", None),
        ("déjà vu", None),
        ("SÃO PAULO", None),
    ],
)
def test_repair_mojibake(text: str, expected: str | None) -> None:
    assert repair_mojibake(text) == expected


def test_post_record_fields() -> None:
    by_account, _ = read_twcs(INDEXED)
    post = posts_of(by_account["AcmeHelp"])["102"]
    assert post["kind"] == "post"
    assert post["platform"] == "x"
    assert post["account"] == "AcmeHelp"
    assert post["created_at"] == "2017-10-30T09:05:00+00:00"
    assert post["visibility"] == "public"
    assert post["url"] == "https://twitter.com/AcmeHelp/status/102"
    assert post["source"] is None
    assert post["automated"] is None
    customer = posts_of(by_account["AcmeHelp"])["101"]
    assert customer["url"] == "https://twitter.com/200001/status/101"


def test_window_record_spans_the_accounts_posts() -> None:
    by_account, _ = read_twcs(INDEXED)
    records = by_account["AcmeHelp"]
    window = records[-1]
    assert window["kind"] == "window"
    assert [record["kind"] for record in records[:-1]] == ["post"] * (len(records) - 1)
    times = [record["created_at"] for record in records[:-1]]
    assert window["window_start"] == min(times) == "2017-10-30T09:00:00+00:00"
    assert window["window_end"] == max(times) == "2017-10-30T10:03:00+00:00"
    assert window["complete"] is None
    assert window["observes"] == []
    assert window["reason"] == "twcs dataset export"
    assert not any(record["kind"] == "profile" for record in records)


# --- the BOM / CRLF file ---------------------------------------------------------------------


def test_bom_no_index_column_upper_case_booleans() -> None:
    by_account, stats = read_twcs(BOM_CRLF)
    assert set(by_account) == {"AcmeHelp", "ShipFastCare"}
    posts = posts_of(by_account["AcmeHelp"])
    assert posts["202"]["by_brand"] is True
    assert posts["201"]["by_brand"] is False
    assert posts["201"]["text"] == "@AcmeHelp @ShipFastCare where is my parcel?"
    assert stats.rows_read == 9


def test_bare_carriage_returns_rebuilt_into_one_row() -> None:
    by_account, stats = read_twcs(BOM_CRLF)
    posts = posts_of(by_account["ShipFastCare"])
    assert posts["205"]["text"] == "@ShipFastCare \r\rdriver left it in the rain"
    assert posts["205"]["in_reply_to"] is None
    assert posts["206"]["text"] == "@300002 We are so sorry.\r\nPlease DM us a photo."
    assert posts["206"]["thread"] == "205"
    assert stats.rows_rebuilt == 1


def test_unreadable_row_counted_with_file_and_line() -> None:
    _, stats = read_twcs(BOM_CRLF)
    assert stats.rows_unreadable == 1
    line = physical_line_of(BOM_CRLF, "209,")
    assert stats.unreadable_examples == [
        f"twcs_bom_crlf.csv:{line}: not a date: 'yesterday at noon'"
    ]


def test_missing_parent_kept_and_counted() -> None:
    by_account, stats = read_twcs(BOM_CRLF)
    posts = posts_of(by_account["AcmeHelp"])
    assert stats.parents_missing == 1
    assert posts["207"]["in_reply_to"] == "299"
    assert posts["207"]["thread"] == "207"
    assert posts["208"]["thread"] == "207"


def test_thread_with_two_brands_gives_each_brand_the_customers_and_its_own_replies() -> None:
    by_account, stats = read_twcs(BOM_CRLF)
    acme = posts_of(by_account["AcmeHelp"])
    ship = posts_of(by_account["ShipFastCare"])
    customer_posts = {"201", "204"}
    assert customer_posts <= set(acme)
    assert customer_posts <= set(ship)
    # Each brand's reply is in its own account only: ShipFastCare is not AcmeHelp's customer,
    # and its reply does not answer for AcmeHelp.
    assert "202" in acme and "202" not in ship
    assert "203" in ship and "203" not in acme
    assert ship["203"]["account"] == "ShipFastCare"
    assert acme["204"]["account"] == "AcmeHelp"
    assert stats.other_brand_posts == 2
    assert stats.posts == len(all_posts(by_account))


def test_thread_without_a_brand_belongs_to_no_account() -> None:
    by_account, stats = read_twcs(BOM_CRLF)
    assert all("210" not in posts_of(records) for records in by_account.values())
    assert stats.posts_without_brand == 1


def test_brand_filter() -> None:
    by_account, stats = read_twcs(BOM_CRLF, brands=["@shipfastcare"])
    assert list(by_account) == ["ShipFastCare"]
    assert stats.accounts == 1
    # The shared thread's customer posts are there; AcmeHelp's reply is not.
    shipfast = posts_of(by_account["ShipFastCare"])
    assert {"201", "203", "204"} <= set(shipfast)
    assert "202" not in shipfast


def test_iter_records_grouped_by_account_with_stats() -> None:
    stats = TwcsStats()
    records = list(iter_twcs_records(BOM_CRLF, stats=stats))
    accounts = [record["account"] for record in records]
    # Each account's records are contiguous and end with its window.
    assert accounts == sorted(accounts, key=str.casefold)
    for account in set(accounts):
        mine = [record for record in records if record["account"] == account]
        assert mine[-1]["kind"] == "window"
        assert sum(record["kind"] == "window" for record in mine) == 1
    assert stats.accounts == 2
    assert stats.posts == sum(record["kind"] == "post" for record in records)


# --- other copies of the dataset ------------------------------------------------------------


def test_other_offsets_and_iso_dates_become_utc(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "dates.csv",
        STANDARD_HEADER,
        [
            "1,400001,True,Tue Oct 31 23:30:00 +0200 2017,@AcmeHelp hi,2,",
            "2,AcmeHelp,False,2017-10-31 22:00:00,@400001 hello,,1",
            "3,AcmeHelp,False,2017-10-31T22:05:00-01:00,@400001 still there?,,1",
        ],
    )
    by_account, stats = read_twcs(path)
    posts = posts_of(by_account["AcmeHelp"])
    assert posts["1"]["created_at"] == "2017-10-31T21:30:00+00:00"
    assert posts["2"]["created_at"] == "2017-10-31T22:00:00+00:00"
    assert posts["3"]["created_at"] == "2017-10-31T23:05:00+00:00"
    assert stats.rows_unreadable == 0


def test_bad_rows_never_fatal(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        STANDARD_HEADER,
        [
            "1,400001,True,Tue Oct 31 08:00:00 +0000 2017,@AcmeHelp hi,2,",
            "2,AcmeHelp,maybe,Tue Oct 31 08:01:00 +0000 2017,@400001 hello,,1",
            "x7,AcmeHelp,False,Tue Oct 31 08:02:00 +0000 2017,@400001 hello,,1",
            "4,AcmeHelp,False,Tue Oct 31 08:03:00 +0000 2017,too few fields",
            "5,AcmeHelp,False,Tue Oct 31 25:03:00 +0000 2017,@400001 late,,1",
            "6,AcmeHelp,False,Tue Oct 31 08:04:00 +0000 2017,@400001 ok,,1.0",
            "6,AcmeHelp,False,Tue Oct 31 08:04:00 +0000 2017,@400001 ok,,1.0",
        ],
    )
    by_account, stats = read_twcs(path)
    assert stats.rows_unreadable == 4
    assert [example.split(":")[1] for example in stats.unreadable_examples] == ["3", "4", "5", "6"]
    assert "inbound" in stats.unreadable_examples[0]
    assert stats.duplicates == 1
    assert set(posts_of(by_account["AcmeHelp"])) == {"1", "6"}


def test_csv_error_counted_at_its_line_and_reading_goes_on(tmp_path: Path) -> None:
    huge = "@AcmeHelp " + "spam " * 30_000  # beyond the csv module's field size limit
    path = write_csv(
        tmp_path / "huge.csv",
        STANDARD_HEADER,
        [
            "1,400001,True,Tue Oct 31 08:00:00 +0000 2017,@AcmeHelp hi,2,",
            '2,AcmeHelp,False,Tue Oct 31 08:01:00 +0000 2017,"@400001 hello\nthere",,1',
            f'3,400002,True,Tue Oct 31 08:02:00 +0000 2017,"{huge}",,',
            "4,AcmeHelp,False,Tue Oct 31 08:03:00 +0000 2017,@400001 anything else?,,1",
        ],
    )
    by_account, stats = read_twcs(path)
    assert stats.rows_unreadable == 1
    assert stats.unreadable_examples[0].startswith("huge.csv:5: csv: field larger")
    assert set(posts_of(by_account["AcmeHelp"])) == {"1", "2", "4"}


def test_file_with_carriage_return_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(
        (
            STANDARD_HEADER + "\r"
            "1,400001,True,Tue Oct 31 08:00:00 +0000 2017,@AcmeHelp hi,2,\r"
            "2,AcmeHelp,False,Tue Oct 31 08:01:00 +0000 2017,@400001 hello,,1\r"
        ).encode("utf-8")
    )
    by_account, stats = read_twcs(path)
    assert set(posts_of(by_account["AcmeHelp"])) == {"1", "2"}
    assert stats.rows_unreadable == 0


def test_headerless_file_with_index_column(tmp_path: Path) -> None:
    path = tmp_path / "headerless.csv"
    path.write_text(
        "0,1,400001,True,Tue Oct 31 08:00:00 +0000 2017,@AcmeHelp hi,2,\n"
        "1,2,AcmeHelp,False,Tue Oct 31 08:01:00 +0000 2017,@400001 hello,,1.0\n",
        encoding="utf-8",
    )
    by_account, stats = read_twcs(path)
    assert set(posts_of(by_account["AcmeHelp"])) == {"1", "2"}
    assert stats.rows_read == 2


def test_not_a_twcs_file(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("name,age\nada,36\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a twcs file"):
        read_twcs(path)


# --- the real file, when ../shared is there -------------------------------------------------


@pytest.mark.skipif(not REAL.exists(), reason="../shared/data/real/twcs is not available")
def test_real_file() -> None:
    by_account, stats = read_twcs(REAL)
    unique = {post["id"]: post for post in all_posts(by_account)}
    assert stats.rows_read == 5000
    assert stats.rows_unreadable == 0
    assert len(unique) == 5000
    assert len(by_account) == stats.accounts == 76
    assert Counter(post["by_brand"] for post in unique.values())[True] == 2222
    # Tweet 3399 holds bare carriage returns in unquoted text: one whole row, not fragments.
    assert unique["3399"]["text"].count("\r") == 2
    assert unique["3399"]["text"].count("http") == 1
    assert unique["3398"]["in_reply_to"] == "3399"
    assert unique["3398"]["thread"] == "3399"
