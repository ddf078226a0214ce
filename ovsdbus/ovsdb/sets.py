"""Immutable sets whose successors cost what changed, not what they hold.

A set column's value in the replica is immutable: a row handed out stays as it was.  With
``frozenset`` values every one-element diff of a large set (a bridge's 10 000 ports) costs a
copy of the whole set, and freeing the old one.  A :class:`VersionedSet` instead shares one
mutable ``set`` along a line of versions (Baker's "rerooting"): the newest version holds the
storage, and making its successor moves the storage over, changes it in place and leaves
behind, in the older version, just the elements to put back and take out to see it as it was.

- The newest version answers ``in``, ``len`` and iteration as a ``set`` does.
- An older version answers ``in`` by walking the (usually short) line of differences to the
  newest; anything that must list it (iteration, comparisons) gives it its own ``frozenset``
  copy first.
- Older versions refer to newer ones, never the other way: an old value nobody holds any more
  is freed at once, whatever it used to hold.

A value is read-only for everyone; :meth:`VersionedSet.changed` (used by
:meth:`~ovsdbus.ovsdb.schema.ColumnType.set_diff`) is the only way to a new version.
Operators (``|``, ``-``, ...) and the ``frozenset`` methods work and return ``frozenset``.
"""

from collections.abc import Set

#: Sets at least this large are diffed into a VersionedSet; smaller ones stay frozensets.
VERSIONED_MIN = 1024
#: A VersionedSet that shrinks below this becomes a frozenset again.
FROZEN_BELOW = 256
#: An older version this many differences behind the newest gets its own copy when read.
_MAX_WALK = 64


class VersionedSet(Set):
    """An immutable set of hashable elements; see the module's documentation.

    ``VersionedSet(iterable)`` makes a newest version holding a copy of ``iterable``.
    """

    __slots__ = ("_elements", "_newer", "_put_back", "_take_out", "_len", "_hash")

    def __init__(self, iterable=()):
        self._elements = set(iterable)
        self._newer = None
        self._put_back = self._take_out = None
        self._len = len(self._elements)
        self._hash = None

    @classmethod
    def _from_iterable(cls, iterable):
        return frozenset(iterable)

    # -- versions ---------------------------------------------------------------

    def changed(self, removed, added):
        """The version without ``removed`` and with ``added``.

        ``removed`` must be elements of this set and ``added`` elements it lacks (a
        diff's elements, as :meth:`~ovsdbus.ovsdb.schema.ColumnType.set_diff` finds them).
        From the newest version this costs the size of the change.
        """
        if type(self._elements) is not set:
            # An older version, or one that was copied: start a new line from a copy.
            newest = VersionedSet(self)
            newest._apply(removed, added)
            return newest
        elements = self._elements
        successor = VersionedSet.__new__(VersionedSet)
        successor._elements = elements
        successor._newer = successor._put_back = successor._take_out = successor._hash = None
        elements.difference_update(removed)
        elements.update(added)
        successor._len = len(elements)
        self._elements = None
        self._newer = successor
        self._put_back = frozenset(removed)
        self._take_out = frozenset(added)
        return successor

    def _apply(self, removed, added):
        self._elements.difference_update(removed)
        self._elements.update(added)
        self._len = len(self._elements)

    def _own(self):
        """This version's elements as a set or frozenset of its own, made if need be."""
        elements = self._elements
        if elements is not None:
            return elements
        line = []
        node = self
        while node._elements is None:
            line.append(node)
            node = node._newer
        rebuilt = set(node._elements)
        for older in reversed(line):
            rebuilt.difference_update(older._take_out)
            rebuilt.update(older._put_back)
        self._elements = frozenset(rebuilt)
        self._newer = self._put_back = self._take_out = None
        return self._elements

    # -- reading ------------------------------------------------------------------

    def __contains__(self, element):
        node = self
        walked = 0
        while node._elements is None:
            if element in node._take_out:
                return False
            if element in node._put_back:
                return True
            node = node._newer
            walked += 1
            if walked > _MAX_WALK:
                return element in self._own()
        return element in node._elements

    def __len__(self):
        return self._len

    def __iter__(self):
        elements = self._own()
        if type(elements) is set:
            # The newest version's storage changes with its successor: iterate a snapshot.
            return iter(tuple(elements))
        return iter(elements)

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(frozenset(self._own()))
        return self._hash

    def __eq__(self, other):
        if other is self:
            return True
        if not isinstance(other, (frozenset, set, VersionedSet)):
            return NotImplemented
        if self._len != len(other):
            return False    # without copying an older version (a diff's old and new values)
        return self._own() == (other._own() if isinstance(other, VersionedSet) else other)

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __repr__(self):
        return "VersionedSet(%r)" % (frozenset(self._own()),)

    def __reduce__(self):
        return (frozenset, (tuple(self),))

    # -- frozenset's methods (results are frozensets) ------------------------------

    def _frozen(self):
        elements = self._own()
        return elements if type(elements) is frozenset else frozenset(elements)

    def union(self, *others):
        """Like ``frozenset.union``."""
        return self._frozen().union(*others)

    def difference(self, *others):
        """Like ``frozenset.difference``."""
        return self._frozen().difference(*others)

    def intersection(self, *others):
        """Like ``frozenset.intersection``."""
        return self._frozen().intersection(*others)

    def symmetric_difference(self, other):
        """Like ``frozenset.symmetric_difference``."""
        return self._frozen().symmetric_difference(other)

    def issubset(self, other):
        """Like ``frozenset.issubset``."""
        return self._own().issubset(other)

    def issuperset(self, other):
        """Like ``frozenset.issuperset``."""
        return self._own().issuperset(other)

    def copy(self):
        """This value (immutable, like ``frozenset.copy``)."""
        return self


#: The types of a set column's value: :func:`isinstance` against this, not against ``frozenset``.
SET_TYPES = (frozenset, VersionedSet, set)


def changed_set(old, removed, added):
    """``old`` without ``removed`` and with ``added`` (elements found by a diff: ``removed`` in
    ``old``, ``added`` not): a :class:`VersionedSet` for large sets, else a frozenset."""
    if not removed and not added:
        return old
    if isinstance(old, VersionedSet):
        if old._len - len(removed) + len(added) < FROZEN_BELOW:
            result = frozenset(old)
            return result.difference(removed).union(added)
        return old.changed(removed, added)
    if len(old) >= VERSIONED_MIN:
        result = VersionedSet(old)
        result._apply(removed, added)
        return result
    new = old.difference(removed) if removed else old
    return new.union(added) if added else new
