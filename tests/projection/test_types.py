"""Tests for ovsdbus.projection.types: how every OVSDB column type looks on D-Bus, both ways.

Unit tests use small hand-made column types; the property tests walk every column type of
the installed Open_vSwitch schema (read at run time from
:data:`ovsdbus.vswitch.VSWITCH_SCHEMA_PATH`): a valid value goes out to D-Bus, through
the wire encoder and txdbus's decoder (which loses the exact D-Bus type, as a real call
does), and comes back as the same value; invalid values are refused with InvalidArgs naming
the table and the column.
"""

import json
import math
import os
import unittest

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import TestCase
from txdbus import marshal

from ovsdbus.bus import wire
from ovsdbus.ovsdb.errors import InvalidArgs, NotFound
from ovsdbus.ovsdb.schema import (
    INT64_MAX,
    INT64_MIN,
    ColumnType,
    DatabaseSchema,
    SymbolicRef,
)
from ovsdbus.projection import types
from ovsdbus.projection.types import (
    column_signature,
    describe,
    from_dbus,
    from_dbus_keys,
    from_dbus_map_value,
    map_key_from_text,
    map_value_signature,
    map_value_variant,
    to_dbus,
    variant,
)
from ovsdbus.vswitch import VSWITCH_SCHEMA_PATH

U1 = "0f1e2d3c-4b5a-4968-8776-655443322110"
U2 = "a0b1c2d3-e4f5-4607-9819-2a3b4c5d6e7f"
ROOT = "/org/openvswitch/ovsdb/test/"


def T(json_type):
    """A ColumnType from its schema JSON."""
    return ColumnType.from_json(json_type)


def path_of(table, uuid):
    """A reversible object path for tests: table and uuid in it."""
    return ROOT + table + "/" + uuid.replace("-", "_")


def uuid_of_path(path):
    """The inverse of :func:`path_of`; NotFound for anything else, as the real resolver."""
    if not path.startswith(ROOT) or path.count("/") != 6:
        raise NotFound("no object at %s" % path)
    return path.rsplit("/", 1)[1].replace("_", "-")


def through_dbus(signature, value):
    """``value`` sent as a variant of ``signature`` by ovsdbus's encoder and decoded by txdbus:
    what a handler gets for a caller's value (the exact D-Bus type is gone)."""
    body = bytes(wire.encode_body("v", [(signature, value)]))
    return marshal.unmarshal("v", body)[1][0]


def load_schema():
    """The installed Open_vSwitch schema; skip (or, under CI, fail) when it is missing."""
    if not os.path.exists(VSWITCH_SCHEMA_PATH):
        message = "%s is not installed (Debian: openvswitch-common)" % VSWITCH_SCHEMA_PATH
        if os.environ.get("CI"):
            raise AssertionError(message + "; CI must provide it")
        raise unittest.SkipTest(message)
    with open(VSWITCH_SCHEMA_PATH, encoding="utf-8") as f:
        return DatabaseSchema.from_json(json.load(f))


def column_types(schema):
    """One ``(table, column, ColumnType)`` per distinct column type of ``schema`` (distinct by
    signature and constraints), in a fixed order."""
    seen = {}
    for table in sorted(schema.tables):
        for column, cs in sorted(schema.tables[table].columns.items()):
            seen.setdefault(describe(cs.type), (table, column, cs.type))
    return list(seen.values())


# -- strategies from a column type ----------------------------------------------------------------

_TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")


def atoms(base):
    """Valid atoms of BaseType ``base``."""
    if base.enum is not None:
        return st.sampled_from(sorted(base.enum))
    if base.type == "integer":
        return st.integers(INT64_MIN if base.min is None else base.min, INT64_MAX if base.max is None else base.max)
    if base.type == "real":
        return st.floats(base.min, base.max, allow_nan=False, allow_infinity=False)
    if base.type == "boolean":
        return st.booleans()
    if base.type == "string":
        low = base.min_length or 0
        high = base.max_length if base.max_length is not None else low + 12
        return st.text(_TEXT, min_size=low, max_size=high)
    return st.uuids().map(str)


def values(ctype):
    """Valid Python values (schema representation) of ColumnType ``ctype``."""
    key = atoms(ctype.key)
    high = min(ctype.max if ctype.max is not None else 6, ctype.min + 6)
    if ctype.is_map:
        return st.dictionaries(key, atoms(ctype.value), min_size=ctype.min, max_size=high)
    if ctype.is_scalar:
        return key
    if ctype.is_optional:
        return st.none() | key
    return st.frozensets(key, min_size=ctype.min, max_size=high)


def wrong_atoms(base):
    """Values that are not atoms of ``base`` at all, or break its constraints."""
    t = base.type
    kinds = []
    if t == "integer":
        kinds += [st.booleans(), st.text(max_size=3), st.floats(allow_nan=False),
                  st.integers(INT64_MAX + 1, 1 << 64), st.integers(-(1 << 64), INT64_MIN - 1)]
        if base.min is not None and base.min > INT64_MIN:
            kinds.append(st.integers(INT64_MIN, base.min - 1))
        if base.max is not None and base.max < INT64_MAX:
            kinds.append(st.integers(base.max + 1, INT64_MAX))
    elif t == "real":
        kinds += [st.booleans(), st.text(max_size=3), st.sampled_from([math.nan, math.inf, -math.inf])]
    elif t == "boolean":
        kinds += [st.integers(0, 1), st.text(max_size=3)]
    elif t == "string":
        kinds += [st.integers(), st.booleans(), st.floats(allow_nan=False)]
        if base.max_length is not None:
            kinds.append(st.text(_TEXT, min_size=base.max_length + 1, max_size=base.max_length + 4))
        if base.min_length:
            kinds.append(st.text(_TEXT, max_size=base.min_length - 1))
    else:
        kinds += [st.integers(), st.booleans(), st.just("@"),
                  st.text(_TEXT, max_size=8).filter(lambda s: not s.startswith(("@", "/")))]
    if base.enum is not None and t in ("string", "integer"):
        other = st.text(_TEXT, max_size=8) if t == "string" else st.integers()
        kinds.append(other.filter(lambda a: a not in base.enum))
    return st.one_of(kinds)


def invalid_values(ctype):
    """D-Bus inputs that ``ctype`` must refuse: wrong shape, wrong or constrained-out atoms,
    repeated elements, too many or too few elements."""
    key, bad_key = atoms(ctype.key), wrong_atoms(ctype.key)
    if ctype.is_map:
        bad_value = wrong_atoms(ctype.value)
        kinds = [st.lists(key, max_size=2), key,
                 st.builds(lambda k, v: {k: v}, bad_key, atoms(ctype.value)),
                 st.builds(lambda k, v: {k: v}, key, bad_value)]
        return st.one_of(kinds)
    if ctype.is_scalar:
        return st.one_of(bad_key, st.lists(key, min_size=1, max_size=1), st.dictionaries(st.text(max_size=2), key))
    kinds = [st.lists(bad_key, min_size=1, max_size=1), bad_key, st.dictionaries(st.text(max_size=2), key),
             st.builds(lambda a: [a, a], key)]
    # More elements than allowed, where the atoms can be that many distinct values.
    domain = len(ctype.key.enum) if ctype.key.enum is not None else (2 if ctype.key.type == "boolean" else None)
    if ctype.max is not None and ctype.max < 8 and (domain is None or domain > ctype.max):
        kinds.append(st.frozensets(key, min_size=ctype.max + 1, max_size=ctype.max + 1).map(sorted))
    if ctype.min > 0:
        kinds.append(st.just([]))
    return st.one_of(kinds)


class SignatureTests(TestCase):
    """column_signature: the type table of the README."""

    def test_atoms(self):
        """integer x, real d, boolean b, string s, uuid to a table o, other uuid s."""
        self.assertEqual([column_signature(T(t)) for t in ("integer", "real", "boolean", "string", "uuid")],
                         ["x", "d", "b", "s", "s"])
        self.assertEqual(column_signature(T({"key": {"type": "uuid", "refTable": "Port"}})), "o")

    def test_sets_optionals_maps(self):
        """A set and an optional value are arrays; a map is a dictionary."""
        self.assertEqual(column_signature(T({"key": "string", "min": 0, "max": 1})), "as")
        self.assertEqual(column_signature(T({"key": "integer", "min": 0, "max": "unlimited"})), "ax")
        self.assertEqual(column_signature(T({"key": {"type": "uuid", "refTable": "P"}, "min": 1,
                                             "max": "unlimited"})), "ao")
        mapping = T({"key": "integer", "value": {"type": "uuid", "refTable": "Queue"}, "min": 0, "max": "unlimited"})
        self.assertEqual(column_signature(mapping), "a{xo}")
        self.assertEqual(map_value_signature(mapping), "o")


class ToDbusTests(TestCase):
    """OVSDB values as D-Bus shows them."""

    def test_scalars(self):
        """Atoms pass as they are; a real is a float; a reference is the row's object path."""
        self.assertEqual(to_dbus(T("integer"), 5, path_of), 5)
        self.assertIs(type(to_dbus(T("real"), 2, path_of)), float)
        self.assertEqual(to_dbus(T("uuid"), U1, path_of), U1)
        self.assertEqual(to_dbus(T({"key": {"type": "uuid", "refTable": "Port"}}), U1, path_of), path_of("Port", U1))

    def test_optional_is_array_of_zero_or_one(self):
        """An optional value is [] when unset and [value] when set: no sentinels."""
        ctype = T({"key": "integer", "min": 0, "max": 1})
        self.assertEqual(to_dbus(ctype, None, path_of), [])
        self.assertEqual(to_dbus(ctype, 0, path_of), [0])
        self.assertEqual(to_dbus(ctype, -1, path_of), [-1])

    def test_sets_sorted(self):
        """A set is an array in a fixed (sorted) order, so equal values always look the same."""
        ctype = T({"key": "integer", "min": 0, "max": "unlimited"})
        self.assertEqual(to_dbus(ctype, frozenset([30, -2, 7]), path_of), [-2, 7, 30])

    def test_map(self):
        """A map is a dictionary; reference values are object paths."""
        ctype = T({"key": "integer", "value": {"type": "uuid", "refTable": "Queue"}, "min": 0, "max": "unlimited"})
        self.assertEqual(to_dbus(ctype, {0: U1, 7: U2}, path_of), {0: path_of("Queue", U1), 7: path_of("Queue", U2)})

    def test_row_not_on_the_bus(self):
        """A reference to a row that path_of does not show is left out of arrays and maps and
        reads "/" for a scalar reference."""
        def hide_u2(table, uuid):
            return None if uuid == U2 else path_of(table, uuid)
        ref = {"type": "uuid", "refTable": "Port"}
        self.assertEqual(to_dbus(T({"key": ref, "min": 0, "max": "unlimited"}), frozenset([U1, U2]), hide_u2),
                         [path_of("Port", U1)])
        self.assertEqual(to_dbus(T({"key": ref, "min": 0, "max": 1}), U2, hide_u2), [])
        self.assertEqual(to_dbus(T({"key": ref}), U2, hide_u2), "/")
        self.assertEqual(to_dbus(T({"key": "string", "value": ref, "min": 0, "max": "unlimited"}),
                                 {"a": U1, "b": U2}, hide_u2), {"a": path_of("Port", U1)})

    def test_strings_dbus_cannot_carry(self):
        """A NUL or lone surrogate from OVSDB shows as U+FFFD, and the value still encodes."""
        ctype = T({"key": "string", "value": "string", "min": 0, "max": "unlimited"})
        shown = to_dbus(ctype, {"k\0": "v\ud800"}, path_of)
        self.assertEqual(shown, {"k\ufffd": "v\ufffd"})
        wire.encode_body(column_signature(ctype), [shown])

    def test_variant(self):
        """variant() gives (signature, value), which the wire encoder takes for a{sv} results,
        empty arrays included."""
        ctype = T({"key": "string", "min": 0, "max": 1})
        self.assertEqual(variant(ctype, None, path_of), ("as", []))
        wire.encode_body("a{sv}", [{"fail_mode": variant(ctype, None, path_of)}])
        mapping = T({"key": "integer", "value": {"type": "uuid", "refTable": "Queue"}, "min": 0, "max": "unlimited"})
        self.assertEqual(map_value_variant(mapping, U1, path_of), ("o", path_of("Queue", U1)))


class FromDbusTests(TestCase):
    """D-Bus inputs converted and checked against the column type."""

    def assertRefused(self, ctype, value, *fragments, table="T", column="c", **kwargs):
        """from_dbus refuses ``value`` with InvalidArgs naming table.column, the signature and ``fragments``."""
        with self.assertRaises(InvalidArgs) as cm:
            from_dbus(table, column, ctype, value, uuid_of_path, **kwargs)
        message = str(cm.exception)
        self.assertTrue(message.startswith("%s.%s: expected %s" % (table, column, column_signature(ctype))), message)
        for fragment in fragments:
            self.assertIn(fragment, message)
        return message

    def test_any_dbus_integer_type(self):
        """An integer column takes a value sent as any D-Bus integer type (y n q i u x t)."""
        ctype = T("integer")
        for sig, value in [("y", 255), ("n", -3), ("q", 65535), ("i", -7), ("u", 4294967295), ("x", INT64_MIN),
                           ("t", INT64_MAX)]:
            self.assertEqual(from_dbus("T", "c", ctype, through_dbus(sig, value)), value)

    def test_integer_range(self):
        """A uint64 beyond OVSDB's 64-bit signed range, and values outside the column's
        minimum and maximum, are refused; the bounds are in the message."""
        self.assertRefused(T("integer"), through_dbus("t", INT64_MAX + 1), "beyond 64 bits")
        vlan = T({"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}})
        self.assertEqual(from_dbus("Port", "tag", vlan, 4095), 4095)
        self.assertRefused(vlan, 4096, "0 to 4095", "got 4096")
        self.assertRefused(vlan, -1, "got -1")

    def test_boolean_is_not_an_integer(self):
        """true is not 1 for an integer column, and 1 is not true for a boolean one."""
        self.assertRefused(T("integer"), True, "got true")
        self.assertRefused(T("boolean"), 1, "got 1")
        self.assertIs(from_dbus("T", "c", T("boolean"), through_dbus("b", True)), True)

    def test_real(self):
        """A real column takes a double or an integer (as a float); NaN and infinities are refused."""
        ctype = T({"key": {"type": "real", "minReal": -1.5, "maxReal": 10}})
        self.assertEqual(from_dbus("T", "c", ctype, 3), 3.0)
        self.assertIs(type(from_dbus("T", "c", ctype, 3)), float)
        self.assertEqual(from_dbus("T", "c", ctype, through_dbus("d", -1.5)), -1.5)
        for bad in (math.nan, math.inf, 10.5, -2, False, "1"):
            self.assertRefused(ctype, bad)

    def test_string_enum_and_length(self):
        """A string outside the enum or the length bounds is refused."""
        fail_mode = T({"key": {"type": "string", "enum": ["set", ["standalone", "secure"]]}, "min": 0, "max": 1})
        self.assertEqual(from_dbus("Bridge", "fail_mode", fail_mode, ["secure"]), "secure")
        self.assertEqual(from_dbus("Bridge", "fail_mode", fail_mode, []), None)
        self.assertRefused(fail_mode, ["fast"], 'got "fast"', '"secure", "standalone"')
        short = T({"key": {"type": "string", "minLength": 2, "maxLength": 3}})
        self.assertEqual(from_dbus("T", "c", short, "abc"), "abc")
        self.assertRefused(short, "a", "2 to 3 characters")
        self.assertRefused(short, "abcd")

    def test_brief_example_message(self):
        """The message names table, column, the expected signature and the offending value."""
        fail_mode = T({"key": {"type": "string", "enum": ["set", ["standalone", "secure"]]}, "min": 0, "max": 1})
        message = self.assertRefused(fail_mode, 3, table="Bridge", column="fail_mode")
        self.assertEqual(message, 'Bridge.fail_mode: expected as (0 or 1 of "secure", "standalone"), got 3')

    def test_bare_value_for_an_array(self):
        """A bare value where an array is expected is an array of that value."""
        trunks = T({"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 4096})
        self.assertEqual(from_dbus("Port", "trunks", trunks, 10), frozenset([10]))
        self.assertEqual(from_dbus("T", "c", T({"key": "string", "min": 0, "max": 1}), "x"), "x")

    def test_scalar_takes_no_array(self):
        """A scalar column refuses an array, even of one element, and a dictionary."""
        self.assertRefused(T("string"), ["x"], 'got ["x"]')
        self.assertRefused(T("string"), {"x": "y"})

    def test_set_size(self):
        """A set's size must fit its min and max; a repeated element is refused, as ovs-vsctl does."""
        ctype = T({"key": "string", "min": 1, "max": 3})
        self.assertEqual(from_dbus("T", "c", ctype, ["a", "c", "b"]), frozenset("abc"))
        self.assertRefused(ctype, ["a", "b", "a"], 'got "a" more than once in the array')
        refs = T({"key": {"type": "uuid", "refTable": "P"}, "min": 0, "max": "unlimited"})
        self.assertRefused(refs, [U1, U1.upper()], "more than once")
        self.assertRefused(refs, [U1, path_of("P", U1)], "more than once", part=True)
        self.assertRefused(ctype, [], "1 to 3 elements", "got 0 elements")
        self.assertRefused(ctype, ["a", "b", "c", "d"], "got 4 elements")
        optional = T({"key": "string", "min": 0, "max": 1})
        self.assertRefused(optional, ["a", "b"], "got 2 elements")

    def test_part(self):
        """part=True (Add, Remove, set conditions): a frozenset (or dict) whose size is not checked,
        but whose elements are."""
        optional = T({"key": {"type": "integer", "minInteger": 0, "maxInteger": 9}, "min": 0, "max": 1})
        self.assertEqual(from_dbus("T", "c", optional, [1, 2], part=True), frozenset([1, 2]))
        self.assertEqual(from_dbus("T", "c", T({"key": "string", "min": 1, "max": 1}), "x", part=True),
                         frozenset(["x"]))
        self.assertRefused(optional, [10], "got 10 in the array", part=True)
        mapping = T({"key": "string", "value": "string", "min": 2, "max": "unlimited"})
        self.assertEqual(from_dbus("T", "c", mapping, {"a": "b"}, part=True), {"a": "b"})
        self.assertRefused(mapping, {"a": "b"}, "got 1 element")

    def test_references(self):
        """A reference is a uuid (any case), an object path or "@name"."""
        ctype = T({"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"})
        got = from_dbus("Bridge", "ports", ctype, [U1.upper(), path_of("Port", U2), "@new"], uuid_of_path)
        self.assertEqual(got, frozenset([U1, U2, "new"]))
        self.assertIn(SymbolicRef("new"), got)
        self.assertTrue(any(isinstance(a, SymbolicRef) for a in got))
        self.assertRefused(ctype, ["@"], "needs a name")
        self.assertRefused(ctype, ["port0"], 'got "port0"')
        self.assertRefused(ctype, [7])

    def test_object_path_of_another_table(self):
        """An object path to a row of another table than the column refers to is InvalidArgs naming
        the column, before anything is sent (a Port's path where a QoS is expected)."""
        ctype = T({"key": {"type": "uuid", "refTable": "QoS"}, "min": 0, "max": 1})
        keys = {path_of("Port", U1): ("Port", U1), path_of("QoS", U2): ("QoS", U2)}
        self.assertEqual(from_dbus("Port", "qos", ctype, [path_of("QoS", U2)], keys.get), U2)
        with self.assertRaises(InvalidArgs) as cm:
            from_dbus("Port", "qos", ctype, [path_of("Port", U1)], keys.get)
        self.assertIn("Port.qos", str(cm.exception))
        self.assertIn("a row of Port, not of QoS", str(cm.exception))

    def test_unknown_object_path(self):
        """An object path that names no row is NotFound, naming the column."""
        ctype = T({"key": {"type": "uuid", "refTable": "Port"}})
        with self.assertRaises(NotFound) as cm:
            from_dbus("Mirror", "output_port", ctype, "/org/nothing", uuid_of_path)
        self.assertIn("Mirror.output_port", str(cm.exception))

    def test_object_path_without_resolver(self):
        """Without a resolver, an object path is InvalidArgs, not a crash."""
        with self.assertRaises(InvalidArgs):
            from_dbus("T", "c", T("uuid"), path_of("Port", U1))

    def test_map(self):
        """A map takes a dictionary; its keys and values are checked each against its own type."""
        queues = T({"key": {"type": "integer", "minInteger": 0, "maxInteger": 4294967295},
                    "value": {"type": "uuid", "refTable": "Queue"}, "min": 0, "max": "unlimited"})
        self.assertEqual(from_dbus("QoS", "queues", queues, through_dbus("a{uo}", {1: path_of("Queue", U1)}),
                                   uuid_of_path), {1: U1})
        self.assertRefused(queues, {-1: U1}, "got key -1")
        self.assertRefused(queues, {1: "x"}, 'got value "x" for key 1')
        self.assertRefused(queues, [U1])

    def test_map_key_from_text(self):
        """"column:key" names a key of the map's key type: decimal for integer keys, the text
        itself for string keys, true/false for booleans."""
        queues = T({"key": {"type": "integer", "minInteger": 0, "maxInteger": 4294967295},
                    "value": {"type": "uuid", "refTable": "Queue"}, "min": 0, "max": "unlimited"})
        self.assertEqual(map_key_from_text("QoS", "queues", queues, "0"), 0)
        self.assertEqual(map_key_from_text("QoS", "queues", queues, "+12"), 12)
        for bad in ("x", "1.5", "0x10", "-1", "4294967296", "", "9" * 5000):
            with self.assertRaises(InvalidArgs) as cm:
                map_key_from_text("QoS", "queues", queues, bad)
            self.assertTrue(str(cm.exception).startswith("QoS.queues: expected a{xo}"), str(cm.exception))
        strings = T({"key": "string", "value": "string", "min": 0, "max": "unlimited"})
        self.assertEqual(map_key_from_text("T", "c", strings, '"a:b"'), '"a:b"')
        booleans = T({"key": "boolean", "value": "string", "min": 0, "max": "unlimited"})
        self.assertIs(map_key_from_text("T", "c", booleans, "false"), False)
        reals = T({"key": "real", "value": "string", "min": 0, "max": "unlimited"})
        self.assertEqual(map_key_from_text("T", "c", reals, "-2.5e1"), -25.0)
        self.assertRaises(InvalidArgs, map_key_from_text, "T", "c", reals, "nan")

    def test_not_a_map(self):
        """"column:key" on a column that is not a map is InvalidArgs naming the column."""
        for call in (lambda: map_key_from_text("Bridge", "name", T("string"), "x"),
                     lambda: from_dbus_map_value("Bridge", "name", T("string"), "x"),
                     lambda: from_dbus_keys("Bridge", "name", T("string"), ["x"])):
            with self.assertRaises(InvalidArgs) as cm:
                call()
            self.assertIn("Bridge.name: is not a map", str(cm.exception))

    def test_map_values_and_keys(self):
        """One map value (Set column:key) and a set of keys (Remove by keys) are checked against
        the map's value and key types."""
        stats = T({"key": "string", "value": "integer", "min": 0, "max": "unlimited"})
        self.assertEqual(from_dbus_map_value("I", "statistics", stats, 5), 5)
        self.assertRaises(InvalidArgs, from_dbus_map_value, "I", "statistics", stats, "5")
        self.assertEqual(from_dbus_keys("I", "statistics", stats, ["a", "b"]), frozenset("ab"))
        self.assertEqual(from_dbus_keys("I", "statistics", stats, "a"), frozenset("a"))
        self.assertRaises(InvalidArgs, from_dbus_keys, "I", "statistics", stats, [1])

    def test_long_values_shortened(self):
        """A huge offending value is shortened in the message, which stays readable."""
        message = self.assertRefused(T({"key": {"type": "string", "maxLength": 4}}), "x" * 100000)
        self.assertLess(len(message), 300)
        self.assertIn("(100000 characters)", message)
        nested = ["x" * 50] * 6
        for _ in range(30):
            nested = [nested] * 6
        message = self.assertRefused(T("string"), nested)
        self.assertLess(len(message), 300)


class VswitchSchemaProperties(TestCase):
    """Every column type of the installed vswitch schema, with generated values."""

    def setUp(self):
        self.schema = load_schema()
        self.columns = column_types(self.schema)

    def test_covers_every_kind(self):
        """The schema walk sees scalars, optionals, sets, maps with integer keys and references."""
        sigs = {column_signature(ctype) for _, _, ctype in self.columns}
        self.assertTrue({"s", "x", "b", "o", "as", "ax", "ao", "ab", "a{ss}", "a{sx}", "a{xo}", "a{so}"} <= sigs,
                        sigs)

    def test_round_trip(self):
        """For every column type: Python value -> D-Bus value -> wire -> txdbus -> Python value
        gives the value back, and the D-Bus value encodes with column_signature."""
        for table, column, ctype in self.columns:
            self._round_trip(table, column, ctype)

    def _round_trip(self, table, column, ctype):
        sig = column_signature(ctype)

        @settings(max_examples=30, deadline=None, database=None)
        @given(value=values(ctype))
        def check(value):
            shown = to_dbus(ctype, value, path_of)
            wire.encode_body(sig, [shown])
            received = through_dbus(sig, shown)
            self.assertEqual(from_dbus(table, column, ctype, received, uuid_of_path), value,
                             "%s.%s (%s)" % (table, column, sig))
            self.assertEqual(variant(ctype, value, path_of), (sig, shown))
        check()

    def test_invalid_refused(self):
        """For every column type: a wrong type, a value out of range, enum or length, or too many
        or too few elements is InvalidArgs naming table, column and the expected signature."""
        for table, column, ctype in self.columns:
            self._refused(table, column, ctype)

    def _refused(self, table, column, ctype):
        prefix = "%s.%s: expected %s" % (table, column, column_signature(ctype))

        @settings(max_examples=30, deadline=None, database=None)
        @given(value=invalid_values(ctype))
        def check(value):
            with self.assertRaises(InvalidArgs) as cm:
                from_dbus(table, column, ctype, value, uuid_of_path)
            self.assertTrue(str(cm.exception).startswith(prefix), str(cm.exception))
        check()

    def test_fail_mode_message(self):
        """The installed schema's Bridge.fail_mode gives the README's example message."""
        ctype = self.schema.tables["Bridge"].columns["fail_mode"].type
        with self.assertRaises(InvalidArgs) as cm:
            from_dbus("Bridge", "fail_mode", ctype, 3)
        self.assertEqual(str(cm.exception), 'Bridge.fail_mode: expected as (0 or 1 of "secure", "standalone"), got 3')

    def test_module_is_schema_generic(self):
        """projection.types names no Open_vSwitch table (it is driven by the column type alone)."""
        with open(types.__file__, encoding="utf-8") as f:
            code = f.read().split('"""', 2)[2]   # past the module docstring
        for table in self.schema.tables:
            self.assertNotIn('"%s"' % table, code)
