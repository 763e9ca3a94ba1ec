"""A bounded least-recently-used cache of what is computed from a SQL text, by the text."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class TextCache(Generic[Value]):
    """The values of the last `size` texts of up to `max_length` characters (a longer text is computed
    each time: a few of them would hold more memory than the rest together). Thread-safe."""

    def __init__(self, size: int = 1024, max_length: int = 16_384) -> None:
        self._size, self._max_length = size, max_length
        self._kept: OrderedDict[str, Value] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str, make: Callable[[], Value], keep: Callable[[Value], bool] | None = None) -> Value:
        """The value kept for `text`, else `make()`, kept unless `keep` says otherwise."""
        if len(text) > self._max_length:
            return make()
        with self._lock:
            kept = self._kept.get(text)
            if kept is not None:
                self._kept.move_to_end(text)
                return kept
        value = make()
        if keep is None or keep(value):
            with self._lock:
                self._kept[text] = value
                if len(self._kept) > self._size:
                    self._kept.popitem(last=False)
        return value
