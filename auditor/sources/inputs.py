"""The one contract between the engine and every input it reads: list accounts, read an account.

An :class:`AccountInput` is one file (a bundle, a twcs export) and the accounts the config reads
from it; :func:`open_inputs` makes one per file from the accounts' ``source`` settings, choosing
the implementation by ``source.type`` in :data:`INPUT_TYPES`. The engine sees only this module:
it names no source, and a new input type is one class and one line of the table.

The engine uses an input in three steps:

1. :meth:`~AccountInput.index`, before the run starts, for every input: whatever can be learnt
   without reading the accounts (a bundle's hash and where each account's lines are). What is
   known here keys the run.
2. :meth:`~AccountInput.open`, when the input's accounts are next: whatever must be read in
   full first (a twcs file, whose threads cross accounts); :meth:`~AccountInput.close` lets go
   of it once its accounts are audited, so that one such input is held at a time.
3. :meth:`~AccountInput.accounts` lists the accounts found; :meth:`~AccountInput.read_all` reads
   them one after the other in this process, or :meth:`~AccountInput.read` reads one on its own,
   in a forked worker process when :attr:`~AccountInput.readable_by_account` says it may.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from auditor.model import AccountData, AccountKey
from auditor.sources.bundle import (
    BundleError,
    BundleIndex,
    file_sha256,
    index_bundle,
    read_bundle,
    read_span,
)
from auditor.sources.files import LineTooLong, NotARegularFile, check_regular
from auditor.sources.twcs import TwcsFile, TwcsStats, read_twcs_file
from auditor.wording import count


class InputError(Exception):
    """An input that cannot be read: the message is the run's input error, and every account
    the input was to give is an error with it."""


@dataclass(frozen=True, slots=True)
class Indexed:
    """What an input tells once its accounts are known: the file's sha256 (the report's
    provenance) and the wanted accounts it holds nothing for, each with the input error to
    report."""

    sha256: str
    missing: list[tuple[AccountKey, str]] = field(default_factory=list)


class AccountInput(ABC):
    """One input file and the accounts the config reads from it (``wanted``, in config order)."""

    # Below this much work (summed over the accounts audited together, in the unit of ``size``),
    # starting worker processes costs more than auditing the accounts in parallel saves.
    parallel_min_size: ClassVar[int]

    def __init__(
        self,
        path: Path,
        wanted: Sequence[AccountKey],
        options: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.path = path
        self.wanted = list(wanted)
        # Each wanted account's ``source`` options (in the same order).
        self.options = list(options)

    def index(self) -> Indexed | None:
        """Before the run starts: what the input holds, when that is known without reading
        the accounts (its hash then keys the run); else ``None``. Raises :class:`InputError`."""
        return None

    def open(self) -> Indexed | None:
        """When the input's accounts are next: read what auditing them needs; what the input
        holds if :meth:`index` did not say. Raises :class:`InputError`."""
        return None

    def close(self) -> None:
        """Let go of what :meth:`open` read, once the accounts are audited."""
        return None

    @abstractmethod
    def accounts(self) -> list[AccountKey]:
        """The wanted accounts the input holds, in the order they are read one by one."""

    @abstractmethod
    def size(self, key: AccountKey) -> int:
        """How much work one account is, in this input type's unit (see ``parallel_min_size``)."""

    @property
    @abstractmethod
    def readable_by_account(self) -> bool:
        """True when :meth:`read` may read each account on its own, in forked workers."""

    @abstractmethod
    def read(self, key: AccountKey) -> AccountData:
        """One account, read on its own."""

    @abstractmethod
    def read_all(self) -> Iterator[AccountData]:
        """Every account of :meth:`accounts`, one after the other, each as soon as it is complete.
        Raises :class:`InputError` (the accounts read before it stand)."""


class BundleInput(AccountInput):
    """A bundle file (``source.type`` ``bundle``, or ``api``: the bundle a fetch wrote).

    Indexed before the run in one pass (hash and account spans); a grouped, uncompressed bundle
    can then be read account by account, each from its own byte span.
    """

    # Bytes of bundle lines.
    parallel_min_size = 32 << 20

    def __init__(
        self,
        path: Path,
        wanted: Sequence[AccountKey],
        options: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(path, wanted, options)
        self._index: BundleIndex | None = None
        # A bundle without its end record is taken as whole only when every account read
        # from it says it was written before end records (``legacy_no_end: true``).
        self.require_end = not (options and all(o.get("legacy_no_end") is True for o in options))

    def index(self) -> Indexed:
        try:
            index = self._index = index_bundle(self.path, require_end=self.require_end)
        except BundleError as error:
            raise InputError(str(error)) from None
        missing = [
            (key, f"{self.path}: no records for account {key}")
            for key in self.wanted
            if key not in index.spans
        ]
        return Indexed(index.sha256, missing)

    def _indexed(self) -> BundleIndex:
        assert self._index is not None, "index() first"
        return self._index

    def accounts(self) -> list[AccountKey]:
        spans = self._indexed().spans
        return [key for key in self.wanted if key in spans]

    def size(self, key: AccountKey) -> int:
        span = self._indexed().spans[key]
        return span.end - span.start

    @property
    def readable_by_account(self) -> bool:
        return self._index is not None and self._index.seekable

    def read(self, key: AccountKey) -> AccountData:
        return read_span(self._indexed(), key)

    def read_all(self) -> Iterator[AccountData]:
        try:
            yield from read_bundle(self._indexed(), self.accounts())
        except BundleError as error:
            raise InputError(str(error)) from None


class TwcsInput(AccountInput):
    """A file in the layout of the public "Customer Support on Twitter" dataset.

    Read in full when its accounts are next (every thread must be known before any account),
    while its hash is taken on a thread; forked workers then share the columns read.
    """

    # Posts in the accounts read.
    parallel_min_size = 100_000

    def __init__(
        self,
        path: Path,
        wanted: Sequence[AccountKey],
        options: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(path, wanted, options)
        # The dataset spells a handle its own way: accounts are matched case-insensitively.
        self._wanted = {key.account.lower(): key for key in wanted}
        self._file: TwcsFile | None = None
        self._keys: dict[AccountKey, str] = {}  # the config's account -> the dataset's handle

    def open(self) -> Indexed:
        try:
            # Refused before the hashing thread opens it: a device would never end.
            check_regular(self.path)
            # The file's hash for the report's provenance, on a thread while the reader parses:
            # hashing releases the GIL, and the read is the run's longest serial part.
            with ThreadPoolExecutor(max_workers=1) as hasher:
                digest = hasher.submit(file_sha256, self.path)
                twcs = read_twcs_file(self.path, self._wanted, TwcsStats())
                sha256 = digest.result()
        except LineTooLong as error:
            raise InputError(f"{error} (the limit): cannot read twcs file") from None
        except NotARegularFile as error:
            raise InputError(f"{self.path}: cannot read twcs file: {error.strerror}") from None
        except (OSError, ValueError) as error:
            raise InputError(f"{self.path}: cannot read twcs file: {error}") from None
        self._file = twcs
        self._keys = {self._wanted[handle.lower()]: handle for handle in twcs.handles()}
        found = {handle.lower() for handle in self._keys.values()}
        missing = [
            (key, f"{self.path}: no tweets by brand {key.account}")
            for handle, key in self._wanted.items()
            if handle not in found
        ]
        return Indexed(sha256, missing)

    def close(self) -> None:
        # A file's tweets are held until its accounts are audited, not until the run ends.
        self._file = None

    def _opened(self) -> TwcsFile:
        assert self._file is not None, "open() first"
        return self._file

    def accounts(self) -> list[AccountKey]:
        return list(self._keys)

    def size(self, key: AccountKey) -> int:
        return self._opened().size(self._keys[key])

    @property
    def readable_by_account(self) -> bool:
        # Workers inherit the file read here through fork.
        return self._file is not None

    def read(self, key: AccountKey) -> AccountData:
        """One account under its config's key, incomplete when rows could not be read."""
        twcs = self._opened()
        data = twcs.account_data(self._keys[key], key)
        stats = twcs.stats
        if stats.rows_unreadable and data.window is not None:
            # The rows that could not be read may have been this brand's.
            data.window.complete = False
            unreadable = count(stats.rows_unreadable, "row")
            data.window.reason = f"{unreadable} of {twcs.path} could not be read"
            data.errors.extend(stats.unreadable_examples)
        return data

    def read_all(self) -> Iterator[AccountData]:
        for key in self._keys:
            yield self.read(key)


# How each ``source.type`` of the config is read. ``api`` accounts are read from the bundle the
# fetch wrote for them.
INPUT_TYPES: Mapping[str, type[AccountInput]] = {
    "bundle": BundleInput,
    "api": BundleInput,
    "twcs": TwcsInput,
}


# One account's source: ``(source.type, source.path, key, source.options)``.
Source = tuple[str, Path, AccountKey, Mapping[str, Any]]


def open_inputs(sources: Iterable[Source]) -> list[AccountInput]:
    """One input per file from the accounts' sources, in the order the files first appear;
    accounts whose sources read the same file the same way share it."""
    wanted: dict[tuple[type[AccountInput], Path], list[tuple[AccountKey, Mapping[str, Any]]]] = {}
    for source_type, path, key, options in sources:
        wanted.setdefault((INPUT_TYPES[source_type], path), []).append((key, options))
    return [
        input_type(path, [key for key, _ in accounts], [options for _, options in accounts])
        for (input_type, path), accounts in wanted.items()
    ]
