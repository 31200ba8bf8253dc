"""Scale: simulated X accounts over 20 tokens, audited by Celery workers and by one ``auditor run``.

Issue #18's figures. One local X API (fake_x.py: 50 ms per answer, X's documented per-token
limits per endpoint enforced with 429s, a log per token), one PostgreSQL cluster and one
redis-server on loopback (started as the tests start them: tests/services.py). Every row audits
the same accounts (default 2,000, ``brand0`` .. ``brand1999``, 20 clients of 100, client ``k``'s
accounts on token ``k``) with the same config, which keeps the history in PostgreSQL and the
tokens' budgets in Redis (``fetch.shared_limits``):

* ``run``: today's single-process ``auditor run CONFIG`` (engine local), timed from start to
  exit;
* ``workers N``: one ``auditor worker CONFIG --concurrency N`` (one worker, a prefork pool of N
  processes: how a machine runs it), started and ready before the clock starts; timed from
  ``auditor enqueue CONFIG`` to the run finalized in the ledger (its reports written).

Each row gets a new database, an emptied Redis and a new fake X (so that no row spends another
row's 15-minute budget). Requests are counted by the server; the script asserts that no row had
a 429 and that every account was audited. Last, the PostgreSQL write time per account: the
fetched bundles of the ``run`` row audited again in this process and each account's ``record``
into a new PostgreSQL database timed (one writer, nothing else running).

Run: ``python benchmarks/bench_scale.py [--rounds 2] [--write]``; ``--write`` puts the figures
into README.md's Performance section and docs/scale.md's "Figures" (between their
``bench_scale`` markers). Needs the ``test`` and ``bench`` extras, PostgreSQL and redis-server.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests")]

from fake_x import LIMITS, FakeX  # noqa: E402

from services import (  # noqa: E402
    PostgresServer,
    RedisServer,
    running_postgres,
    running_redis,
)

LATENCY = 0.05
TOKENS = 20
PROCESSES = (1, 2, 4, 8)
TOKEN_ENV = "BENCH_X_TOKEN_{:02d}"
STORE_PASSWORD_ENV = "BENCH_STORE_PASSWORD"
REDIS_PASSWORD_ENV = "BENCH_REDIS_PASSWORD"
ROW_TIMEOUT_SECONDS = 1800.0
BEGIN, END = "<!-- bench_scale:begin -->", "<!-- bench_scale:end -->"
ROW_PREFIX = "scale (#18):"
FETCH_ROW = "| fetch 200 accounts x 5 pages"


@dataclass(frozen=True)
class Row:
    """One measured row: what ran, how long, and what the server saw."""

    label: str
    processes: int  # 0: auditor run
    seconds: float
    accounts: int
    requests: int
    rejected: int
    peak_per_second: int  # the most calls one token started within a second
    peak_in_flight: int  # the most calls of one token at once
    cpu_seconds: float  # the auditor's processes (start-up included), not the servers'

    @property
    def accounts_per_second(self) -> float:
        return self.accounts / self.seconds

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Bench:
    """The servers and the environment every row's commands get."""

    postgres: PostgresServer
    redis: RedisServer
    accounts: int
    folder: Path
    environ: dict[str, str]


def config_text(bench: Bench, x_url: str, database: str, *, celery: bool) -> str:
    redis = f"redis://127.0.0.1:{bench.redis.port}"
    lines = [
        "output: {dir: out, formats: [json]}",
        f"store: {{url: '{bench.postgres.url(database)}', password_env: {STORE_PASSWORD_ENV}}}",
        "fetch:",
        "  lookback_days: 14",
        "  dir: out/bundles",
        "  max_wait_seconds: 120",
        f"  shared_limits: {{url: '{redis}/1', password_env: {REDIS_PASSWORD_ENV}}}",
    ]
    if celery:
        lines += [
            "engine:",
            "  kind: celery",
            f"  broker: {{url: '{redis}/0', password_env: {REDIS_PASSWORD_ENV}}}",
        ]
    lines.append("clients:")
    for token in range(TOKENS):
        lines += [f"  - name: Client {token:02d}", "    accounts:"]
        for index in range(token, bench.accounts, TOKENS):
            lines.append(
                f"      - {{platform: x, handle: brand{index}, source: {{type: api,"
                f" token_env: {TOKEN_ENV.format(token)}, base_url: '{x_url}'}}}}"
            )
    return "\n".join(lines) + "\n"


@contextmanager
def fresh_row(bench: Bench, name: str, *, celery: bool) -> Iterator[tuple[Path, FakeX, str]]:
    """A new folder, database, emptied Redis and fake X for one row: (config, server, db)."""
    import redis

    database = f"bench_{secrets.token_hex(4)}"
    bench.postgres.admin(f"CREATE DATABASE {database}")
    client = redis.Redis.from_url(bench.redis.url(with_password=True))
    try:
        client.flushall()
    finally:
        client.close()
    folder = bench.folder / name
    folder.mkdir()
    # No cap on calls in flight: X documents none, and the per-token log shows what each row did.
    with FakeX(latency=LATENCY, max_in_flight=1_000_000) as server:
        config = folder / "audit.yaml"
        text = config_text(bench, server.base_url, database, celery=celery)
        config.write_text(text, encoding="utf-8")
        yield config, server, database


def auditor(*args: str) -> list[str]:
    return [sys.executable, "-m", "auditor", *args]


def ledger_state(bench: Bench, database: str, run_key: str) -> tuple[bool, dict[str, int]]:
    """Whether the run is finalized, and its accounts by ledger state."""
    import psycopg

    url = bench.postgres.url(database, with_password=True)
    with psycopg.connect(url) as connection:
        finalized = connection.execute(
            "SELECT finalize_state FROM ledger_runs WHERE run_key = %s", (run_key,)
        ).fetchone()
        states = connection.execute(
            "SELECT state, count(*) FROM run_ledger WHERE run_key = %s GROUP BY state",
            (run_key,),
        ).fetchall()
    return finalized is not None and finalized[0] == "done", {s: int(n) for s, n in states}


def recorded_accounts(bench: Bench, database: str) -> int:
    import psycopg

    with psycopg.connect(bench.postgres.url(database, with_password=True)) as connection:
        (count,) = connection.execute("SELECT count(*) FROM run_accounts").fetchone() or (0,)
    return int(count)


def children_cpu() -> float:
    """CPU seconds of every finished (and waited for) process this one started, and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measured_row(
    label: str, processes: int, seconds: float, accounts: int, server: FakeX, cpu: float
) -> Row:
    report = server.report()
    assert len(report) == TOKENS, f"{label}: {len(report)} tokens seen, not {TOKENS}"
    return Row(
        label=label,
        processes=processes,
        seconds=seconds,
        accounts=accounts,
        requests=sum(t["served"] for t in report.values()),
        rejected=sum(t["rejected"] for t in report.values()),
        peak_per_second=max(t["peak_per_second"] for t in report.values()),
        peak_in_flight=max(t["max_in_flight"] for t in report.values()),
        cpu_seconds=cpu,
    )


def run_row(bench: Bench, name: str) -> Row:
    """Today's ``auditor run``, start to exit."""
    with fresh_row(bench, name, celery=False) as (config, server, database):
        cpu = children_cpu()
        started = time.perf_counter()
        done = subprocess.run(
            auditor("run", str(config), "-q"),
            cwd=config.parent,
            env=bench.environ,
            capture_output=True,
            text=True,
            timeout=ROW_TIMEOUT_SECONDS,
        )
        seconds = time.perf_counter() - started
        cpu = children_cpu() - cpu
        # 1: findings; anything else is a failed run, not a figure.
        assert done.returncode in (0, 1), (
            f"auditor run: exit {done.returncode}: {done.stderr[-2000:]}"
        )
        accounts = recorded_accounts(bench, database)
        return measured_row("auditor run", 0, seconds, accounts, server, cpu)


def wait_ready(log: Path, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while "ready." not in log.read_text(encoding="utf-8", errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def workers_row(bench: Bench, processes: int, name: str) -> Row:
    """One worker of ``processes`` pool processes: enqueue to the run finalized."""
    with fresh_row(bench, name, celery=True) as (config, server, database):
        log = config.parent / "worker.log"
        cpu = children_cpu()
        with log.open("wb") as output:
            worker = subprocess.Popen(
                auditor("worker", str(config), "--concurrency", str(processes)),
                cwd=config.parent,
                env=bench.environ,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_ready(log, worker)
            started = time.perf_counter()
            enqueued = subprocess.run(
                auditor("enqueue", str(config)),
                cwd=config.parent,
                env=bench.environ,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert enqueued.returncode == 0, f"enqueue: {enqueued.stderr}"
            run_key = enqueued.stdout.strip()
            deadline = started + ROW_TIMEOUT_SECONDS
            while True:
                finalized, states = ledger_state(bench, database, run_key)
                if finalized:
                    break
                assert worker.poll() is None, f"the worker stopped: {log.read_text()[-2000:]}"
                assert time.perf_counter() < deadline, f"{name}: not finalized: {states}"
                time.sleep(0.05)
            seconds = time.perf_counter() - started
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        cpu = children_cpu() - cpu
        assert states.get("done") == bench.accounts, f"{name}: ledger {states}"
        label = f"{processes} pool process" + ("es" if processes > 1 else "")
        accounts = recorded_accounts(bench, database)
        return measured_row(label, processes, seconds, accounts, server, cpu)


def write_times(bench: Bench, run_folder: Path, sample: int) -> list[float]:
    """Seconds per account of ``record`` into a new PostgreSQL database, on the bundles the
    ``run`` row fetched (its config, another database), audited again in this process."""
    from auditor.cli_common import chosen_accounts, open_store
    from auditor.config import load_config
    from auditor.distributed.plan import plan_run
    from auditor.engine.audit import Engine, record
    from auditor.engine.gating import build_gate
    from auditor.registry import load_registry
    from auditor.sources.inputs import open_inputs

    database = f"bench_{secrets.token_hex(4)}"
    bench.postgres.admin(f"CREATE DATABASE {database}")
    config_path = run_folder / "audit.yaml"
    text = re.sub(r"/bench_[0-9a-f]{8}'", f"/{database}'", config_path.read_text())
    config_path = run_folder / "audit-write-time.yaml"
    config_path.write_text(text, encoding="utf-8")
    os.environ.update(bench.environ)
    config = load_config(config_path, load_registry([]))
    accounts = chosen_accounts(config, None)[:sample]
    times: list[float] = []
    with open_store(config) as store:
        now = datetime.now(UTC)
        run_key = plan_run(config, store, accounts, None, now)
        gate = build_gate(config, None, now.date())
        engine = Engine(config, load_registry([]), store=store, gate=gate)
        for account in accounts:
            assert account.source.path is not None
            (source,) = open_inputs(
                [(account.source.type, account.source.path, account.key, account.source.options)]
            )
            try:
                source.index()
                source.open()
                (data,) = list(source.read_all())
            finally:
                source.close()
            audited = engine.audit(data)
            started = time.perf_counter()
            record(store, run_key, audited, now, engine.position(account.key), engine.tracked)
            times.append(time.perf_counter() - started)
    return times


def spread(values: Sequence[float], digits: int = 1) -> str:
    """The median, and the range when there are several rounds."""
    middle = f"{statistics.median(values):.{digits}f}"
    if len(values) < 2:
        return middle
    return f"{middle} [{min(values):.{digits}f}-{max(values):.{digits}f}]"


def summary(rounds: list[list[Row]]) -> list[dict[str, str]]:
    """Per row, over the rounds: the figures as the table prints them."""
    lines = []
    for column in zip(*rounds, strict=True):
        first = column[0]
        baseline = [r[0].seconds for r in rounds]
        lines.append(
            {
                "row": first.label,
                "seconds": spread([r.seconds for r in column]),
                "accounts/s": spread([r.accounts_per_second for r in column]),
                "requests/s": spread([r.requests_per_second for r in column]),
                "vs run": spread([b / r.seconds for b, r in zip(baseline, column, strict=True)], 2),
                "CPU ms/account": spread([1000 * r.cpu_seconds / r.accounts for r in column], 0),
                "peak/s per token": f"{max(r.peak_per_second for r in column)}",
                "in flight per token": f"{max(r.peak_in_flight for r in column)}",
                "requests": f"{first.requests}",
                "429s": f"{sum(r.rejected for r in column)}",
            }
        )
    return lines


def table(lines: list[dict[str, str]]) -> str:
    heads = list(lines[0])
    widths = [max(len(h), *(len(line[h]) for line in lines)) for h in heads]
    rows = [heads, *([line[h] for h in heads] for line in lines)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def command(argv: Sequence[str]) -> str:
    return " ".join(["python benchmarks/bench_scale.py", *(a for a in argv if a != "--write")])


def write_figure(write_ms: Sequence[float]) -> str:
    return (
        f"median {statistics.median(write_ms):.1f} ms, 90th percentile"
        f" {statistics.quantiles(write_ms, n=10)[-1]:.1f} ms ({len(write_ms)} accounts, one"
        " writer)"
    )


def markdown(lines: list[dict[str, str]], write_ms: Sequence[float], argv: Sequence[str]) -> str:
    """docs/scale.md's figures: the whole table."""
    heads = list(lines[0])
    return "\n".join(
        [
            f"`{command(argv)}` on {os.cpu_count()} cores ({platform.python_implementation()}"
            f" {platform.python_version()}); medians over the rounds, their range in square"
            " brackets:",
            "",
            "| " + " | ".join(heads) + " |",
            "|" + "---|" * len(heads),
            *("| " + " | ".join(line[h] for h in heads) + " |" for line in lines),
            "",
            f"PostgreSQL write time per account (`record`): {write_figure(write_ms)}.",
        ]
    )


def readme_rows(
    lines: list[dict[str, str]], write: str, argv: Sequence[str], accounts: int
) -> list[str]:
    """README.md's row of its figure / target / measured table (the details: docs/scale.md);
    ``write``: the PostgreSQL write time's figure (:func:`write_figure`)."""

    def figures(line: dict[str, str]) -> str:
        return (
            f"{line['seconds']} s ({line['vs run']}x run, {line['accounts/s']} accounts/s,"
            f" {line['requests/s']} requests/s, {line['CPU ms/account']} ms CPU/account; per"
            f" token at most {line['peak/s per token']} calls in a second and"
            f" {line['in flight per token']} in flight)"
        )

    rows = "; ".join(f"{line['row']}: {figures(line)}" for line in lines)
    return [
        f"| {ROW_PREFIX} {accounts} X accounts over {TOKENS} tokens, PostgreSQL store, Redis"
        " limits: `auditor run` against one `auditor worker --concurrency N`, enqueue to"
        f' finalized, on {os.cpu_count()} cores (`{command(argv)}`; docs/scale.md "Figures")'
        f" | every account audited, 0 answers of 429 | {rows}; 0 answers of 429 in every row;"
        f" PostgreSQL write {write} |"
    ]


def replace_between_markers(path: Path, text: str) -> None:
    content = path.read_text(encoding="utf-8")
    start, end = content.index(BEGIN) + len(BEGIN), content.index(END)
    path.write_text(content[:start] + "\n" + text + "\n" + content[end:], encoding="utf-8")


def replace_readme_rows(path: Path, rows: list[str]) -> None:
    """This benchmark's rows of the table, replaced (or put after the fetch benchmark's row)."""
    lines = [
        line
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.startswith(f"| {ROW_PREFIX}")
    ]
    after = next(i for i, line in enumerate(lines) if line.startswith(FETCH_ROW))
    lines[after + 1 : after + 1] = rows
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, nargs="+", default=list(PROCESSES))
    parser.add_argument("--write-sample", type=int, default=500, help="accounts timed")
    parser.add_argument("--write", action="store_true", help="update README.md, docs/scale.md")
    args = parser.parse_args()

    # The commands must run this tree's auditor, not another install's.
    found = subprocess.run(
        [sys.executable, "-c", "import auditor; print(auditor.__file__)"],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    ).stdout.strip()
    assert Path(found).is_relative_to(ROOT), f"{sys.executable} imports auditor from {found}"
    with (
        running_postgres() as postgres,
        running_redis() as redis_server,
        tempfile.TemporaryDirectory(prefix="bench-scale-") as folder,
    ):
        environ = {
            **os.environ,
            STORE_PASSWORD_ENV: postgres.password,
            REDIS_PASSWORD_ENV: redis_server.password,
            **{TOKEN_ENV.format(t): f"bench-token-{t:02d}-not-a-secret" for t in range(TOKENS)},
        }
        bench = Bench(postgres, redis_server, args.accounts, Path(folder), environ)
        rounds: list[list[Row]] = []
        for round_number in range(1, args.rounds + 1):
            rows = [run_row(bench, f"run-{round_number}")]
            print(f"round {round_number}: auditor run {rows[0].seconds:.1f} s", flush=True)
            for processes in args.processes:
                rows.append(workers_row(bench, processes, f"workers{processes}-{round_number}"))
                print(
                    f"round {round_number}: {rows[-1].label} {rows[-1].seconds:.1f} s", flush=True
                )
            for row in rows:
                assert row.rejected == 0, f"{row.label}: {row.rejected} answers of 429"
                assert row.accounts == args.accounts, f"{row.label}: {row.accounts} recorded"
            rounds.append(rows)
        write_ms = [1000 * s for s in write_times(bench, bench.folder / "run-1", args.write_sample)]

    lines = summary(rounds)
    print()
    print(table(lines))
    print(f"\nPostgreSQL write per account: {write_figure(write_ms)}")
    print(f"limits per token and 15 minutes: {LIMITS}; 429 answers: 0 in every row")
    if args.write:
        rows = readme_rows(lines, write_figure(write_ms), sys.argv[1:], args.accounts)
        replace_readme_rows(ROOT / "README.md", rows)
        replace_between_markers(ROOT / "docs" / "scale.md", markdown(lines, write_ms, sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
