"""A schedule string becomes a Schedule, or one line saying what is wrong with an example; the
config's ``schedule`` keys (top level and per client) and ``scheduler`` section."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import ConfigError, load_config
from auditor.registry import load_registry
from auditor.scheduler.due import RetryPolicy
from auditor.scheduler.when import DEFAULT_SCHEDULE, Schedule, parse_schedule

from conftest import WriteBundle, WriteConfig, healthy_account


@pytest.mark.parametrize(
    ("text", "weekday", "at", "zone"),
    [
        ("monday 09:00 Europe/London", 0, time(9, 0), "Europe/London"),
        ("MON 09:00 Europe/London", 0, time(9, 0), "Europe/London"),
        ("Sunday 23:59 Australia/Sydney", 6, time(23, 59), "Australia/Sydney"),
        ("fri 7:05 America/New_York", 4, time(7, 5), "America/New_York"),
        ("daily 06:30 UTC", None, time(6, 30), "UTC"),
        ("  Daily   00:00   Asia/Kolkata ", None, time(0, 0), "Asia/Kolkata"),
        ("wed 12:00 Etc/GMT+5", 2, time(12, 0), "Etc/GMT+5"),
    ],
)
def test_good_schedules_parse(text: str, weekday: int | None, at: time, zone: str) -> None:
    schedule = parse_schedule(text)
    assert (schedule.weekday, schedule.at, schedule.zone.key) == (weekday, at, zone)
    assert parse_schedule(str(schedule)) == schedule  # the canonical form reads back


def test_the_canonical_form_is_written_out() -> None:
    assert str(parse_schedule("TUE 7:00 Europe/Paris")) == "tuesday 07:00 Europe/Paris"
    assert str(parse_schedule("daily 06:30 UTC")) == "daily 06:30 UTC"


def test_the_default_is_weekly_monday_nine_utc() -> None:
    assert str(DEFAULT_SCHEDULE) == "monday 09:00 UTC"
    assert DEFAULT_SCHEDULE.interval == timedelta(days=7)
    assert parse_schedule("daily 09:00 UTC").interval == timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is not a schedule"),
        ("monday 09:00", "is not a schedule"),
        ("monday at 09:00 UTC", "is not a schedule"),
        ("mondy 09:00 UTC", "'mondy' is not a weekday (did you mean monday?)"),
        ("weekly 09:00 UTC", "'weekly' is not a weekday"),
        ("tues 09:00 UTC", "'tues' is not a weekday"),
        ("monday 24:00 UTC", "'24:00' is not a time of day"),
        ("monday 9am UTC", "'9am' is not a time of day"),
        ("monday 09:60 UTC", "'09:60' is not a time of day"),
        ("monday 09:00:00 UTC", "'09:00:00' is not a time of day"),
        ("monday 09:00 Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
        ("monday 09:00 Europe", "'Europe' is not an IANA time zone"),
        ("monday 09:00 ../../etc/passwd", "is not an IANA time zone"),
        ("monday 09:00 /etc/localtime", "is not an IANA time zone"),
        ("monday 09:00 +01:00", "is not an IANA time zone"),
    ],
)
def test_bad_schedules_say_what_is_wrong_with_an_example(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(text)
    message = str(caught.value)
    assert says in message
    assert '"monday 09:00 Europe/London"' in message  # an example to copy
    assert "\n" not in message


def test_a_schedule_refuses_impossible_fields() -> None:
    with pytest.raises(ValueError, match="weekday 7"):
        Schedule(7, time(9), DEFAULT_SCHEDULE.zone)
    with pytest.raises(ValueError, match="no tzinfo"):
        Schedule(0, time(9, tzinfo=UTC), DEFAULT_SCHEDULE.zone)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        DEFAULT_SCHEDULE.latest_at_or_before(datetime(2026, 3, 2, 9))
    with pytest.raises(ValueError, match="no time zone"):
        DEFAULT_SCHEDULE.next_after(datetime(2026, 3, 2, 9))


# ---------------------------------------------------------------------------------------------
# The config's keys


@pytest.fixture
def bundle(write_bundle_file: WriteBundle) -> Path:
    return write_bundle_file("acme.jsonl", healthy_account())


def _config(bundle: Path, top: str = "", acme: str = "", beta: str = "") -> str:
    return f"""
        {top}
        clients:
          - name: acme
            {acme}
            accounts:
              - {{platform: x, handle: AcmeHelp, source: {bundle}}}
          - name: beta
            {beta}
            accounts:
              - {{platform: x, handle: BetaHelp, source: {bundle}}}
    """


def test_a_client_schedule_overrides_the_top_one(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(
        _config(
            bundle,
            top='schedule: "daily 06:00 UTC"',
            acme='schedule: "fri 17:30 Europe/Paris"',
        )
    )
    config = load_config(path, load_registry())
    acme, beta = config.clients
    assert str(config.schedule) == "daily 06:00 UTC"
    assert str(acme.schedule) == "friday 17:30 Europe/Paris"
    assert str(beta.schedule) == "daily 06:00 UTC"


def test_without_schedules_every_client_is_weekly(write_config: WriteConfig, bundle: Path) -> None:
    config = load_config(write_config(_config(bundle)), load_registry())
    assert config.schedule == DEFAULT_SCHEDULE
    assert [c.schedule for c in config.clients] == [DEFAULT_SCHEDULE, DEFAULT_SCHEDULE]
    assert config.retry == RetryPolicy(timedelta(hours=1), 1)


def test_the_scheduler_section_sets_the_retry_policy(
    write_config: WriteConfig, bundle: Path
) -> None:
    path = write_config(
        _config(bundle, top="scheduler: {retry_after_minutes: 20, max_early_retries: 0}")
    )
    config = load_config(path, load_registry())
    assert config.retry == RetryPolicy(timedelta(minutes=20), 0)


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, load_registry())
    return caught.value


def test_a_bad_client_schedule_names_file_line_and_key(
    write_config: WriteConfig, bundle: Path
) -> None:
    path = write_config(_config(bundle, beta='schedule: "monday 9 o\'clock UTC"'))
    error = _error(path)
    assert (error.line, error.key) == (7, "clients[1].schedule")
    assert str(error).startswith(f"{path}:7: clients[1].schedule: ")
    assert "e.g." in str(error)


def test_a_bad_top_schedule_names_its_key(write_config: WriteConfig, bundle: Path) -> None:
    path = write_config(_config(bundle, top='schedule: "someday 09:00 UTC"'))
    error = _error(path)
    assert (error.line, error.key) == (1, "schedule")
    assert "'someday' is not a weekday" in str(error)


@pytest.mark.parametrize(
    ("top", "key", "says"),
    [
        ("schedule: 9", "schedule", "expected string"),
        ("scheduler: {retry_after_minutes: 0}", "scheduler.retry_after_minutes", "minimum"),
        ("scheduler: {max_early_retries: -1}", "scheduler.max_early_retries", "minimum"),
        (
            "scheduler: {retry_after: 5}",
            "scheduler.retry_after",
            "did you mean 'retry_after_minutes'",
        ),
    ],
)
def test_the_schema_holds_the_keys(
    write_config: WriteConfig, bundle: Path, top: str, key: str, says: str
) -> None:
    error = _error(write_config(_config(bundle, top=top)))
    assert error.key == key and error.line == 1
    assert says in str(error)


@pytest.mark.parametrize(
    "schedule",
    ['"monday 09:00 Europe/Lundon"', '"monday 25:00 UTC"', '"every monday"', "[monday]"],
)
def test_cli_validate_exits_2_with_one_line(
    write_config: WriteConfig, bundle: Path, schedule: str
) -> None:
    path = write_config(_config(bundle, acme=f"schedule: {schedule}"))
    result = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {path}:3: clients[0].schedule: ")
    assert "Traceback" not in result.output
