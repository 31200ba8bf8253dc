"""Accounts handed on in config order, whatever order they are audited in.

Worker pools finish accounts in any order (the heaviest start first). An account that is done
before those ahead of it waits in an unnamed temporary file (pickled, its findings packed as
JSON), not in memory: a run holds at most the account being handed on, whatever its size.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Sequence
from typing import IO

from auditor.engine.parallel import PackedFindings
from auditor.model import AccountKey
from auditor.result import AccountResult


class ConfigOrder:
    """Takes accounts as they are done (:meth:`add`) and hands each to ``emit`` as soon as
    every account before it in ``keys`` has been handed on; :meth:`finish` hands on the rest,
    with ``missing(key)`` standing in for any account that never came."""

    def __init__(self, keys: Sequence[AccountKey], emit: Callable[[AccountResult], None]) -> None:
        self._keys = list(keys)
        self._position = {key: n for n, key in enumerate(self._keys)}
        self._emit = emit
        self._next = 0
        # Accounts done out of turn: their place (offset, length) in the waiting room.
        self._waiting: dict[AccountKey, tuple[int, int]] = {}
        self._room: IO[bytes] | None = None

    def add(self, key: AccountKey, account: AccountResult) -> None:
        if self._next < len(self._keys) and self._keys[self._next] == key:
            self._hand_on(account)
            self._release()
        elif key not in self._waiting and self._position.get(key, -1) > self._next:
            self._wait(key, account)

    def finish(self, missing: Callable[[AccountKey], AccountResult]) -> None:
        while self._next < len(self._keys):
            key = self._keys[self._next]
            self._hand_on(self._take(key) if key in self._waiting else missing(key))
        self.close()

    def close(self) -> None:
        if self._room is not None:
            self._room.close()
            self._room = None
        self._waiting.clear()

    def _hand_on(self, account: AccountResult) -> None:
        # Counted as handed on first: a stop signal raised as ``emit`` returns (held while it
        # ran) must not hand the same account on twice.
        self._next += 1
        self._emit(account)

    def _release(self) -> None:
        while self._next < len(self._keys) and self._keys[self._next] in self._waiting:
            self._hand_on(self._take(self._keys[self._next]))

    def _wait(self, key: AccountKey, account: AccountResult) -> None:
        for check in account.checks:
            if check.findings and not isinstance(check.findings, PackedFindings):
                check.findings = PackedFindings.pack(check.findings)
        if self._room is None:
            self._room = tempfile.TemporaryFile(prefix="auditor-accounts.")  # noqa: SIM115 (open until finish or close)
        data = pickle.dumps(account, protocol=pickle.HIGHEST_PROTOCOL)
        offset = self._room.seek(0, 2)
        self._room.write(data)
        self._waiting[key] = (offset, len(data))

    def _take(self, key: AccountKey) -> AccountResult:
        assert self._room is not None
        offset, length = self._waiting.pop(key)
        self._room.seek(offset)
        account: AccountResult = pickle.loads(self._room.read(length))
        return account
