"""The test servers of tests/services.py start, need their password, and keep tests apart."""

from __future__ import annotations

import psycopg
import pytest
import redis

from services import PostgresServer, RedisServer


def test_postgres_needs_the_password(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_database, connect_timeout=5).close()
    with psycopg.connect(postgres_database, password=postgres_server.password) as connection:
        row = connection.execute("SELECT current_database(), version()").fetchone()
    assert row is not None
    assert postgres_database.endswith("/" + row[0])
    assert "PostgreSQL" in row[1]


def test_each_test_has_its_own_database(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    with psycopg.connect(postgres_database, password=postgres_server.password) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert tables == (0,)


def test_redis_needs_the_password(redis_server: RedisServer, redis_url: str) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.url()).ping()
    client = redis.Redis.from_url(redis_url)
    assert client.dbsize() == 0
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()
