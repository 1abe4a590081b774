"""Entry-point discovery for every plugin group, built-ins included.

Built-ins are registered in sslkit's own ``pyproject.toml`` exactly like third-party plugins, so
there is one code path. Discovery reads entry-point *metadata* only; the code behind a name is
imported when that name is used (:func:`load`), so a broken plugin cannot break ``--help`` or
``sslkit list``.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
from dataclasses import dataclass
from functools import cache

from sslkit.errors import SSLKitError

GROUPS = ("methods", "augmentations", "datasets", "backbones")


@dataclass(frozen=True)
class Entry:
    """One registered name: where it points and which distribution registered it.

    ``conflict`` is set when two distributions register the name: loading it is then an error
    naming both, while every other name of the group keeps working.
    """

    group: str
    name: str
    value: str  # "module:attr"
    distribution: str
    entry_point: md.EntryPoint
    conflict: str | None = None

    def load(self) -> object:
        """Import the object behind the name; an import error names the distribution, on one line."""
        if self.conflict is not None:
            raise SSLKitError(self.conflict)
        try:
            return self.entry_point.load()
        except Exception as error:  # noqa: BLE001 - any plugin failure must be reported, not crash
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
            raise SSLKitError(
                f"{self.group[:-1]} {self.name!r} from distribution {self.distribution!r} failed to load "
                f"({reason}); reinstall or uninstall {self.distribution}"
            ) from error


def _entry_points(group: str) -> list[md.EntryPoint]:
    """All entry points of ``sslkit.<group>`` (a separate function so tests can inject fakes)."""
    return list(md.entry_points(group=f"sslkit.{group}"))


def _duplicate(previous: Entry, entry: Entry) -> Entry:
    """The entry of a name that two distributions register: loading it says which, and how to fix it."""
    group = entry.group
    message = (f"{group[:-1]} name {entry.name!r} is registered twice: by {previous.distribution!r} "
               f"({previous.value}) and by {entry.distribution!r} ({entry.value}); uninstall one of them")
    both = f"{previous.distribution}, {entry.distribution}"
    return Entry(group, entry.name, entry.value, both, entry.entry_point, conflict=message)


@cache
def entries(group: str) -> dict[str, Entry]:
    """Every name registered in ``group``.

    A name registered by two distributions (other than the same entry point seen twice) is kept
    as a conflicting entry: using it is an error naming both (:meth:`Entry.load`), the other names
    of the group still work.
    """
    if group not in GROUPS:
        raise SSLKitError(f"unknown plugin group {group!r}; valid groups: {', '.join(GROUPS)}")
    found: dict[str, Entry] = {}
    for ep in _entry_points(group):
        dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
        entry = Entry(group, ep.name, ep.value, dist, ep)
        previous = found.get(ep.name)
        if previous is not None and (previous.value, previous.distribution) != (entry.value, dist):
            entry = _duplicate(previous, entry)
        elif previous is not None:
            continue
        found[ep.name] = entry
    return dict(sorted(found.items()))


def names(group: str) -> list[str]:
    """Registered names of ``group``, sorted."""
    return list(entries(group))


def get(group: str, name: str) -> Entry:
    """The entry for ``name``, or an error listing the valid names and the closest match."""
    registered = entries(group)
    if name in registered:
        return registered[name]
    kind = group[:-1]
    close = difflib.get_close_matches(name, registered, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise SSLKitError(
        f"unknown {kind} {name!r}; {hint}valid {group}: {', '.join(registered) or '(none installed)'}"
    )


def load(group: str, name: str) -> object:
    """Import and return the object registered as ``name`` in ``group``."""
    return get(group, name).load()


def summary(obj: object) -> str:
    """First line of an object's docstring (what ``sslkit list`` shows)."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def clear_cache() -> None:
    """Forget discovered entry points (after installing a plugin in the same process; tests)."""
    entries.cache_clear()
