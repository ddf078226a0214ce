"""Text D-Bus can carry, and a memo of values computed from names bounded by bytes.

Pure code shared by the projection (which decides what a row shows) and the wire
encoder (which refuses what D-Bus cannot carry).
"""

import re

# What a D-Bus string may not hold.  A Python str has no surrogate pairs, so every code
# point in U+D800..U+DFFF is a lone surrogate, which has no UTF-8 form.
_UNCARRIABLE = re.compile("[\x00\ud800-\udfff]")

#: What :func:`carriable` puts in place of what D-Bus cannot carry: U+FFFD REPLACEMENT CHARACTER.
REPLACEMENT = "\ufffd"


def can_carry(text):
    """True if the str ``text`` can be a D-Bus string (or object path, or signature) value.

    A D-Bus string is valid UTF-8 with no NUL.  dbus-daemon drops the connection of a sender
    whose message breaks that (checked with dbus-daemon 1.14: a NUL, or a surrogate written as
    UTF-8); a Python str cannot even be encoded with a lone surrogate in it.  Every other code
    point is carried, control characters and Unicode noncharacters (U+FDD0, U+FFFE, U+10FFFF,
    ...) included: dbus-daemon 1.14 and GLib 2.74 pass them on (D-Bus specification 0.21
    allowed noncharacters).
    """
    if text.isascii():
        return "\0" not in text
    return _UNCARRIABLE.search(text) is None


def carriable(text):
    """``text`` with each NUL and lone surrogate replaced by U+FFFD, so that D-Bus can carry it
    (``text`` itself when it can already)."""
    return text if can_carry(text) else _UNCARRIABLE.sub(REPLACEMENT, text)


class BoundedCache:
    """A memo of values computed from names, bounded by its (estimated) size in bytes.

    New entries go into a young generation; once that holds half of ``max_bytes``, it becomes
    the old generation and the previous old one is dropped.  Lookups read both.  So the whole
    never exceeds ``max_bytes``, names no longer used are forgotten after two turnovers, and a
    working set of up to ``max_bytes`` that is read over and over (the names of a bridge's
    ports, one after the other) stays cached.  A value whose entry would take more than
    ``max_item_bytes`` is not kept: computing it again costs little next to copying it, and one
    huge name must not stay resident.  The size of an entry is the caller's estimate of what
    its key, its value and its dict slot take (``sys.getsizeof`` of key and value, plus about
    48 bytes).
    """

    def __init__(self, max_bytes, max_item_bytes):
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes
        self.clear()

    def clear(self):
        """Forget everything."""
        #: The generations, ``{key: value}``; reading ``young`` directly is the fast path.
        self.young, self.old = {}, {}
        self._young_bytes = self._old_bytes = 0

    @property
    def size(self):
        """The estimated bytes held now (never more than ``max_bytes``)."""
        return self._young_bytes + self._old_bytes

    def __len__(self):
        return len(self.young) + len(self.old)

    def get(self, key):
        """The value kept for ``key``, or None."""
        value = self.young.get(key)
        return self.old.get(key) if value is None else value

    def put(self, key, value, n):
        """Keep ``value`` for ``key``, an entry of ``n`` bytes (unless that is too large); return
        ``value``."""
        if n <= self.max_item_bytes and key not in self.young:
            if self._young_bytes + n > self.max_bytes // 2:
                self.old, self._old_bytes = self.young, self._young_bytes
                self.young, self._young_bytes = {}, 0
            self.young[key] = value
            self._young_bytes += n
        return value
