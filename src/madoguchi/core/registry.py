"""A typed registry for pluggable parts (field types, identity providers, sealers, …).

Plugins register under a stable key; lookups of unknown keys raise ``KeyError`` with the
known keys listed, so a typo in configuration is found at load time, not at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator


class Registry[T]:
    def __init__(self, name: str) -> None:
        self.name = name
        self._items: dict[str, T] = {}

    def register(self, key: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if key in self._items:
                raise ValueError(f"{self.name}: {key!r} is registered twice")
            self._items[key] = item
            return item

        return decorator

    def add(self, key: str, item: T) -> None:
        self.register(key)(item)

    def __getitem__(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise KeyError(f"{self.name}: unknown {key!r} (known: {known})") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())
