"""VersionedSet: every version of a large set column reads as the frozenset it stands for,
however many successors were made from it, in whatever order they are read."""

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb import sets
from ovsdbus.ovsdb.schema import UUID, BaseType, ColumnType
from ovsdbus.ovsdb.sets import SET_TYPES, VersionedSet, changed_set

ELEMENTS = st.integers(min_value=0, max_value=40)


def _check_same(value, model):
    """``value`` behaves as the frozenset ``model`` in every way a reader uses."""
    assert len(value) == len(model)
    assert set(value) == model
    assert sorted(value) == sorted(model)
    for e in range(-1, 42):
        assert (e in value) == (e in model)
    assert value == model and model == value
    assert not (value != model)
    assert hash(value) == hash(model)
    assert (value | {99}) == model | {99}
    assert ({99} | value) == model | {99}
    assert (value - {1, 2}) == model - {1, 2}
    assert (frozenset({1, 2}) - value) == frozenset({1, 2}) - model
    assert value.union({98}) == model.union({98})
    assert value.difference({3}) == model.difference({3})
    assert value.issubset(model | {97}) and value.issuperset(model - {0})
    assert value.isdisjoint({97}) == model.isdisjoint({97})
    assert bool(value) == bool(model)
    assert isinstance(value, SET_TYPES)


class VersionedSetTests(TestCase):
    """Versions of large sets."""

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.sets(ELEMENTS, max_size=6)), max_size=25),
           st.sets(ELEMENTS, max_size=30), st.randoms(use_true_random=False))
    def test_every_version_reads_as_its_own_value(self, steps, start, rnd):
        """Successors made from the newest version and from older ones (in any order), read in
        any order afterwards (each read after all versions exist), all equal their model."""
        versions = [(VersionedSet(start), frozenset(start))]
        for pick, toggled in steps:
            value, model = versions[pick % len(versions)]
            removed = tuple(e for e in toggled if e in model)
            added = tuple(e for e in toggled if e not in model)
            new_value = value.changed(removed, added)
            new_model = model.difference(removed).union(added)
            versions.append((new_value, new_model))
        rnd.shuffle(versions)
        for value, model in versions:
            _check_same(value, model)


    def test_making_a_successor_leaves_the_old_version_unchanged_and_its_iteration_stable(self):
        """Iterating the newest version while its successor is made yields the elements it had."""
        old = VersionedSet(range(10))
        seen = iter(old)
        new = old.changed((0, 1), (100,))
        assert sorted(seen) == list(range(10))
        assert sorted(old) == list(range(10)) and sorted(new) == list(range(2, 10)) + [100]
        assert 0 in old and 100 not in old and 0 not in new and 100 in new


    def test_a_long_line_of_versions_is_read_correctly_from_its_oldest(self):
        """The oldest of many versions (more than the walk bound) still answers correctly."""
        first = VersionedSet(range(5))
        value = first
        for i in range(200):
            value = value.changed((), (1000 + i,))
        assert 1000 not in first and 4 in first and len(first) == 5
        assert len(value) == 205 and 1199 in value
        assert first.changed((0,), ()) == frozenset(range(1, 5))


    def test_pickles_as_a_frozenset(self):
        """A pickled value comes back as a frozenset with the same elements."""
        value = VersionedSet({"a", "b"}).changed(("a",), ("c",))
        assert pickle.loads(pickle.dumps(value)) == frozenset({"b", "c"})


    def test_changed_set_uses_versions_only_for_large_sets(self):
        """Small sets stay frozensets; a large one becomes a VersionedSet whose next version shares
        its storage; shrinking far below the bound gives a frozenset back."""
        self.patch(sets, "VERSIONED_MIN", 8)
        self.patch(sets, "FROZEN_BELOW", 4)
        small = changed_set(frozenset({1, 2}), (1,), (3,))
        assert type(small) is frozenset and small == {2, 3}
        large = changed_set(frozenset(range(10)), (), (10,))
        assert type(large) is VersionedSet and large == frozenset(range(11))
        larger = changed_set(large, (0,), ())
        assert type(larger) is VersionedSet and larger._elements is not None and large._elements is None
        assert large == frozenset(range(11)) and larger == frozenset(range(1, 11))
        shrunk = changed_set(larger, tuple(range(1, 9)), ())
        assert type(shrunk) is frozenset and shrunk == {9, 10}
        assert changed_set(larger, (), ()) is larger


    def test_set_diff_of_a_large_set_shares_storage_and_reports_the_elements(self):
        """A column's diff of a set past the bound gives the elements it removed and added, and
        the old value still reads as before."""
        ctype = ColumnType(BaseType(UUID), None, 0, None)
        uuids = ["%08d-0000-0000-0000-000000000000" % i for i in range(sets.VERSIONED_MIN + 5)]
        old = frozenset(uuids[:-1])
        new, removed, added = ctype.set_diff(old, ["set", [["uuid", uuids[0]], ["uuid", uuids[-1]]]])
        assert removed == (uuids[0],) and added == (uuids[-1],)
        assert isinstance(new, VersionedSet) and new == old - {uuids[0]} | {uuids[-1]}
        newer, removed, added = ctype.set_diff(new, ["uuid", uuids[1]])
        assert removed == (uuids[1],) and added == ()
        assert uuids[1] in new and uuids[1] not in newer and len(newer) == len(new) - 1
