"""The Celery app made from a config's ``engine`` section, and the queue the planners use.

The broker's URL comes from the config and its password from ``password_env`` /
``password_file`` (read with :func:`~auditor.fetch.secrets.read_secret`, so that it is redacted
from every log line; kombu masks it in the URLs it prints). No result backend: the ledger in the
history store is the state. Tasks are acknowledged late and given back when their worker dies
(``task_acks_late``, ``task_reject_on_worker_lost``), each worker process takes one at a time
(``worker_prefetch_multiplier`` 1), and an account's task has a time limit of the fetch's
per-account deadline plus :data:`AUDIT_MARGIN_SECONDS` for the audit (a soft one first: the
account is recorded ``failed`` with that reason).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery

from auditor.distributed.context import requeue_every

if TYPE_CHECKING:
    from auditor.config import Config

TASK_AUDIT = "auditor.audit_account"
TASK_FINALIZE = "auditor.finalize_run"
TASK_REQUEUE = "auditor.requeue_expired"
QUEUE = "auditor"
# What an account's audit and recording may take beyond its fetch's deadline.
AUDIT_MARGIN_SECONDS = 300.0
# Between the soft limit (the task is told, and records the account failed) and the hard one
# (its pool process is killed).
HARD_LIMIT_AFTER_SOFT_SECONDS = 60.0


class BrokerError(Exception):
    """The broker cannot be reached or refused us: one line naming it, never its password."""


def make_app(config: Config) -> Celery:
    """The app for ``config``'s broker, with the project's tasks registered. Raises
    :class:`~auditor.fetch.secrets.SecretUnavailable` when the password it names is missing."""
    from auditor.distributed import tasks
    from auditor.fetch.secrets import read_secret

    engine = config.engine
    password = None
    if engine.broker_password is not None:
        password = read_secret(engine.broker_password).reveal()
    soft_limit = config.fetch.account_deadline_seconds + AUDIT_MARGIN_SECONDS
    app = Celery("auditor", set_as_current=False)
    app.conf.update(
        broker_url=engine.broker_url,
        broker_password=password,
        broker_transport_options={"visibility_timeout": engine.visibility_timeout_seconds},
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_soft_time_limit=soft_limit,
        task_time_limit=soft_limit + HARD_LIMIT_AFTER_SOFT_SECONDS,
        # The project's logging stays: its redaction of secrets on every handler included.
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        beat_schedule={
            "requeue-expired": {
                "task": TASK_REQUEUE,
                "schedule": requeue_every(config).total_seconds(),
                "args": (str(config.path.resolve()),),
            }
        },
    )
    tasks.register(app)
    return app


def broker_text(config: Config) -> str:
    """The broker as messages name it: its URL, which holds no password (the config refuses
    one in it)."""
    return str(config.engine.broker_url)


def check_broker(app: Celery, config: Config, timeout: float = 5.0) -> None:
    """Connect to the broker once; :class:`BrokerError` with one line when it cannot be done."""
    from auditor.fetch.secrets import server_text

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
            if _is_redis(connection):  # connecting is lazy: a ping makes it say no now
                connection.default_channel.client.ping()
    except Exception as error:
        raise BrokerError(
            f"broker {broker_text(config)} (engine.broker.url): {server_text(_reason(error))};"
            " is it running, and is its password (engine.broker.password_env / password_file)"
            " right?"
        ) from None


def _is_redis(connection: Any) -> bool:
    return str(connection.transport_cls).startswith("redis")


def _reason(error: BaseException) -> str:
    cause = error.__cause__ or error.__context__
    text = str(error) or type(error).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    return " ".join(text.split())


class CeleryQueue:
    """Enqueues tasks on ``app``'s broker (:class:`~auditor.distributed.context.Enqueue`)."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def audit(
        self, config_path: str, run_key: str, client: str, platform: str, account: str
    ) -> None:
        self.app.send_task(TASK_AUDIT, args=[config_path, run_key, client, platform, account])

    def finalize(self, config_path: str, run_key: str) -> None:
        self.app.send_task(TASK_FINALIZE, args=[config_path, run_key])
