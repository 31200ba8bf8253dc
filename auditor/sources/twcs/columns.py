"""The tweets as columns (Arrow arrays and numpy), as both readers hand them on.

pyarrow is imported when first used (:class:`_LazyModule`): it takes a few tenths of a second
to import, and most runs read no twcs file. The other modules of this package take ``pa``,
``pc`` and ``pa_csv`` from here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from auditor.sources.twcs.dataset import _AUTHOR, _CREATED, _ID, _INBOUND, _PARENT, _TEXT, _Tweet

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.csv as pa_csv  # type: ignore[import-untyped]


class _LazyModule:
    """A module imported when first used: pyarrow takes a few tenths of a second to import, and
    most runs read no twcs file."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


if not TYPE_CHECKING:
    pa = _LazyModule("pyarrow")
    pc = _LazyModule("pyarrow.compute")
    pa_csv = _LazyModule("pyarrow.csv")

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def _as_bools(array: pa.Array) -> BoolArray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _offsets(strings: pa.Array) -> npt.NDArray[np.int32]:
    """Where each string of an Arrow string array starts in its data buffer, and the end."""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)
    return offsets[strings.offset : strings.offset + len(strings) + 1]


@dataclass(slots=True)
class _Columns:
    """Every tweet kept (duplicates dropped), in file order, one array per field."""

    ids: pa.Array  # str, unique
    authors: pa.Array  # str
    inbound: BoolArray
    created: pa.Array  # str, ISO 8601 in UTC
    texts: pa.Array  # str
    parents: pa.Array  # str or null


# Ids of at most this many digits fit in an int64.
_MAX_ID_DIGITS: Final = 18


def _id_numbers(ids: pa.Array) -> IntArray | None:
    """The ids as numbers (null: -1) when each is written the one way a number is ("7", never
    "07"), so that equal numbers mean equal ids; else None. Numbers sort and search faster than
    strings hash."""
    present = ids if not ids.null_count else pc.fill_null(ids, "0")
    if not len(present):
        return np.zeros(0, dtype=np.int64)
    lengths = np.diff(_offsets(present))
    if int(lengths.max()) > _MAX_ID_DIGITS or not pc.all(pc.ascii_is_decimal(present)).as_py():
        return None
    if (_as_bools(pc.starts_with(present, "0")) & (lengths > 1)).any():
        return None
    numbers: IntArray = pc.cast(present, pa.int64()).to_numpy().copy()
    if ids.null_count:
        numbers[~_as_bools(ids.is_valid())] = -1
    return numbers


def _columns_of_tweets(tweets: list[_Tweet]) -> _Columns:
    """The row reader's tweets as columns."""
    return _Columns(
        ids=pa.array([tweet[_ID] for tweet in tweets], type=pa.string()),
        authors=pa.array([tweet[_AUTHOR] for tweet in tweets], type=pa.string()),
        inbound=np.array([tweet[_INBOUND] for tweet in tweets], dtype=np.bool_),
        created=pa.array([tweet[_CREATED] for tweet in tweets], type=pa.string()),
        texts=pa.array([tweet[_TEXT] for tweet in tweets], type=pa.string()),
        parents=pa.array([tweet[_PARENT] for tweet in tweets], type=pa.string()),
    )
