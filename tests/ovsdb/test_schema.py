"""Tests for ovsdbus.ovsdb.schema: OVSDB types and the conversion of wire data to Python values."""

import json
import os
import unittest

from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.schema import (
    ZERO_UUID,
    BaseType,
    ColumnType,
    DatabaseSchema,
    NamedUuid,
    SchemaError,
    is_uuid,
    is_valid_id,
)

VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"

U1 = "0cfa1d5b-5d4f-4e2c-9c3e-9b1a1a0e3f11"
U2 = "9e4d8b2a-1c3f-4e5a-8b7c-6d5e4f3a2b1c"
U3 = "d3b07384-d9a0-4c9b-8b1b-2e4e5e0f0a11"


def load_vswitch_schema(testcase):
    """The installed vswitch schema as JSON; skips (fails under CI) when it is not installed."""
    try:
        with open(VSWITCH_SCHEMA) as f:
            return json.load(f)
    except FileNotFoundError:
        if os.environ.get("CI"):
            testcase.fail("%s is missing (CI must install openvswitch-common)" % VSWITCH_SCHEMA)
        raise unittest.SkipTest("%s is not installed" % VSWITCH_SCHEMA) from None


def column(type_json):
    return ColumnType.from_json(type_json)


class AtomTests(TestCase):
    """Atoms of every type decode from the wire, and bad ones are refused."""

    GOOD = [
        ("integer", 42, 42),
        ("integer", 0, 0),
        ("integer", -9223372036854775808, -9223372036854775808),
        ("integer", 9223372036854775807, 9223372036854775807),
        ("real", 1.5, 1.5),
        ("real", -0.25, -0.25),
        ("real", 2, 2.0),
        ("boolean", True, True),
        ("boolean", False, False),
        ("string", "", ""),
        ("string", "br0", "br0"),
        ("string", "caf\u00e9 \U0001F600", "caf\u00e9 \U0001F600"),
        ("uuid", ["uuid", U1], U1),
        ("uuid", ["uuid", U1.upper()], U1),
        ("uuid", ["named-uuid", "new_port"], NamedUuid("new_port")),
    ]

    BAD = [
        ("integer", True),
        ("integer", 1.5),
        ("integer", "1"),
        ("integer", None),
        ("integer", ["set", 1]),
        ("real", True),
        ("real", "1.0"),
        ("boolean", 1),
        ("boolean", "true"),
        ("string", 1),
        ("string", None),
        ("string", ["uuid", U1]),
        ("uuid", U1),
        ("uuid", ["uuid", "not-a-uuid"]),
        ("uuid", ["uuid", U1 + "0"]),
        ("uuid", ["uuid"]),
        ("uuid", ["uuid", U1, U2]),
        ("uuid", ["named-uuid", "port-eth0"]),
        ("uuid", ["named-uuid", "0abc"]),
        ("uuid", ["named-uuid", ""]),
        ("uuid", ["named_uuid", "x"]),
        ("uuid", ["uuid", U1 + "\n"]),
        ("uuid", ["named-uuid", "new_port\n"]),
        ("integer", 2 ** 63),
        ("integer", -2 ** 63 - 1),
    ]

    def test_good_atoms(self):
        """Every atomic type decodes to its Python value."""
        for type_, wire, expected in self.GOOD:
            value = BaseType(type_).atom_from_wire(wire)
            self.assertEqual(value, expected, (type_, wire))
            self.assertIs(type(value), type(expected), (type_, wire))

    def test_bad_atoms(self):
        """Data of the wrong type is refused with SchemaError (a bool is not an integer)."""
        for type_, wire in self.BAD:
            self.assertRaises(SchemaError, BaseType(type_).atom_from_wire, wire)

    def test_atom_to_wire(self):
        """uuids and named uuids are sent in their tagged forms; other atoms bare."""
        uuid = BaseType("uuid")
        self.assertEqual(uuid.atom_to_wire(U1), ["uuid", U1])
        self.assertEqual(uuid.atom_to_wire(NamedUuid("new_br")), ["named-uuid", "new_br"])
        for type_, wire, value in self.GOOD:
            if type_ != "uuid":
                self.assertEqual(BaseType(type_).atom_to_wire(value), wire)

    def test_named_uuid_syntax(self):
        """A uuid-name must match [A-Za-z_][A-Za-z0-9_]* (ovsdb-server rejects 'port-eth0')."""
        for good in ["a", "_x", "new_port", "Row1"]:
            self.assertEqual(str(NamedUuid(good)), good)
            self.assertTrue(is_valid_id(good))
        for bad in ["", "1row", "port-eth0", "a b", "a.b", "\u00e9", "row\n"]:
            self.assertRaises(SchemaError, NamedUuid, bad)
            self.assertFalse(is_valid_id(bad))

    def test_is_uuid(self):
        """is_uuid accepts the 36-character form in either case and nothing else."""
        self.assertTrue(is_uuid(U1))
        self.assertTrue(is_uuid(U1.upper()))
        for bad in [U1 + "\n", U1[:-1], "x", None, 5, ["uuid", U1]]:
            self.assertFalse(is_uuid(bad), bad)

    def test_unknown_atomic_type(self):
        """A schema naming an unknown atomic type is refused."""
        self.assertRaises(SchemaError, BaseType, "float")
        self.assertRaises(SchemaError, BaseType.from_json, {"type": "map"})
        self.assertRaises(SchemaError, BaseType.from_json, {"enum": ["set", []]})

    def test_defaults(self):
        """Default atoms are RFC 7047's: 0, 0.0, false, empty string, all-zero uuid."""
        types = ("integer", "real", "boolean", "string", "uuid")
        self.assertEqual([BaseType(t).default_atom() for t in types], [0, 0.0, False, "", ZERO_UUID])


STRING_SET = {"key": "string", "min": 0, "max": "unlimited"}
UUID_SET = {"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"}
OPTIONAL_INT = {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 1}
OPTIONAL_UUID = {"key": {"type": "uuid", "refTable": "NetFlow"}, "min": 0, "max": 1}
STRING_MAP = {"key": "string", "value": "string", "min": 0, "max": "unlimited"}
FLOW_TABLES = {"key": {"type": "integer", "minInteger": 0, "maxInteger": 254},
               "value": {"type": "uuid", "refTable": "Flow_Table"}, "min": 0, "max": "unlimited"}


class ValueTests(TestCase):
    """Column values: scalars, optionals, sets and maps, as the server sends them."""

    GOOD = [
        ("string", "br0", "br0"),
        ("string", ["set", ["br0"]], "br0"),
        ("integer", 7, 7),
        ({"key": "uuid"}, ["uuid", U1], U1),
        (OPTIONAL_INT, ["set", []], None),
        (OPTIONAL_INT, 10, 10),
        (OPTIONAL_INT, ["set", [10]], 10),
        (OPTIONAL_UUID, ["uuid", U1], U1),
        (OPTIONAL_UUID, ["set", [["uuid", U1]]], U1),
        (STRING_SET, ["set", []], frozenset()),
        (STRING_SET, ["set", ["a", "b"]], frozenset(["a", "b"])),
        (STRING_SET, "a", frozenset(["a"])),
        (UUID_SET, ["uuid", U1], frozenset([U1])),
        (UUID_SET, ["set", [["uuid", U1], ["uuid", U2]]], frozenset([U1, U2])),
        (UUID_SET, ["set", []], frozenset()),
        (STRING_MAP, ["map", []], {}),
        (STRING_MAP, ["map", [["a", "1"], ["b", "2"]]], {"a": "1", "b": "2"}),
        (FLOW_TABLES, ["map", [[0, ["uuid", U1]], [254, ["uuid", U2]]]], {0: U1, 254: U2}),
        ({"key": "integer", "value": "string", "min": 0, "max": "unlimited"},
         ["map", [[1, "one"], [-2, "minus two"]]], {1: "one", -2: "minus two"}),
    ]

    BAD = [
        ("string", ["set", []]),
        ("string", ["set", ["a", "b"]]),
        ("integer", "7"),
        (OPTIONAL_INT, ["set", [1, 2]]),
        (OPTIONAL_INT, ["set", 1]),
        (STRING_SET, ["set", [1]]),
        (STRING_SET, ["set", "a"]),
        (UUID_SET, ["set", [U1]]),
        (STRING_MAP, ["set", []]),
        (STRING_MAP, {"a": "1"}),
        (STRING_MAP, ["map", [["a"]]]),
        (STRING_MAP, ["map", [["a", 1]]]),
        (STRING_MAP, ["map", {"a": "1"}]),
        (FLOW_TABLES, ["map", [["1", ["uuid", U1]]]]),
        (FLOW_TABLES, ["map", [[1, U1]]]),
    ]

    def test_from_wire(self):
        """Each encoding the server may use decodes to the documented Python value, including
        a one-element set sent as a bare atom and integer map keys (Bridge.flow_tables)."""
        for type_json, wire, expected in self.GOOD:
            value = column(type_json).from_wire(wire)
            self.assertEqual(value, expected, (type_json, wire))
            self.assertIs(type(value), type(expected), (type_json, wire))

    def test_from_wire_refuses(self):
        """Values that do not fit the column type are refused with SchemaError."""
        for type_json, wire in self.BAD:
            self.assertRaises(SchemaError, column(type_json).from_wire, wire)

    def test_from_wire_refuses_what_the_server_never_sends(self):
        """A value from the server cannot hold a named uuid (only a transaction has them), a
        repeated set element or a repeated map key (ovsdb-server refuses both)."""
        cases = [
            (UUID_SET, ["named-uuid", "p"]),
            (OPTIONAL_UUID, ["set", [["named-uuid", "p"]]]),
            (FLOW_TABLES, ["map", [[0, ["named-uuid", "t"]]]]),
            (STRING_SET, ["set", ["a", "a"]]),
            (UUID_SET, ["set", [["uuid", U1], ["uuid", U1.upper()]]]),
            (STRING_MAP, ["map", [["a", "1"], ["a", "2"]]]),
            (STRING_MAP, ["map", [["a", "1"], ["a", "1"]]]),
        ]
        for type_json, wire in cases:
            self.assertRaises(SchemaError, column(type_json).from_wire, wire)
        self.assertEqual(column(UUID_SET).from_wire(["named-uuid", "p"], named=True), frozenset(["p"]))

    def test_diff_refuses_repeats(self):
        """A modify diff with a repeated element or key is refused, not half-applied."""
        self.assertRaises(SchemaError, column(STRING_SET).apply_diff, frozenset(), ["set", ["a", "a"]])
        self.assertRaises(SchemaError, column(STRING_MAP).apply_diff, {}, ["map", [["a", "1"], ["a", "2"]]])
        self.assertRaises(SchemaError, column(UUID_SET).apply_diff, frozenset(), ["named-uuid", "p"])

    def test_round_trip(self):
        """Encoding a decoded value and decoding it again gives the same value."""
        for type_json, wire, expected in self.GOOD:
            t = column(type_json)
            self.assertEqual(t.from_wire(t.to_wire(expected)), expected, (type_json, wire))

    def test_to_wire_forms(self):
        """Values are sent in the forms ovsdb-server accepts: tagged sets, maps and uuids."""
        self.assertEqual(column(OPTIONAL_INT).to_wire(None), ["set", []])
        self.assertEqual(column(OPTIONAL_INT).from_wire(column(OPTIONAL_INT).to_wire(5)), 5)
        self.assertEqual(column(STRING_SET).to_wire(frozenset(["b", "a"])), ["set", ["a", "b"]])
        self.assertEqual(column(UUID_SET).to_wire(frozenset([U2, U1])), ["set", [["uuid", U1], ["uuid", U2]]])
        self.assertEqual(column(FLOW_TABLES).to_wire({254: U2, 0: U1}),
                         ["map", [[0, ["uuid", U1]], [254, ["uuid", U2]]]])
        self.assertEqual(column("string").to_wire("br0"), "br0")
        self.assertEqual(column({"key": "uuid"}).to_wire(NamedUuid("new_br")), ["named-uuid", "new_br"])

    def test_defaults(self):
        """A column's default value: the default atom, None, an empty set or map."""
        self.assertEqual(column("integer").default(), 0)
        self.assertEqual(column("string").default(), "")
        self.assertIsNone(column(OPTIONAL_INT).default())
        self.assertEqual(column(STRING_SET).default(), frozenset())
        self.assertEqual(column(STRING_MAP).default(), {})

    def test_kinds(self):
        """min/max decide scalar, optional, set and map ("unlimited" is no maximum)."""
        self.assertTrue(column("string").is_scalar)
        self.assertTrue(column(OPTIONAL_INT).is_optional)
        self.assertFalse(column(OPTIONAL_INT).is_scalar)
        s = column(STRING_SET)
        self.assertFalse(s.is_scalar or s.is_optional or s.is_map)
        self.assertIsNone(s.max)
        self.assertTrue(column(FLOW_TABLES).is_map)

    def test_bad_column_types(self):
        """Malformed column types in a schema are refused."""
        for bad in [{"value": "string"}, 5, None, {"key": "nosuch"}]:
            self.assertRaises(SchemaError, ColumnType.from_json, bad)


class DiffTests(TestCase):
    """update2 ``modify`` diffs, as ovsdb-server computes them (ovsdb_datum_diff)."""

    def test_set_symmetric_difference(self):
        """A set diff lists elements added or removed: each is toggled."""
        t = column(STRING_SET)
        old = frozenset(["a", "b"])
        self.assertEqual(t.apply_diff(old, ["set", ["b", "c"]]), frozenset(["a", "c"]))
        self.assertEqual(t.apply_diff(old, "a"), frozenset(["b"]))
        self.assertEqual(t.apply_diff(frozenset(), ["set", ["x"]]), frozenset(["x"]))
        self.assertEqual(old, frozenset(["a", "b"]))

    def test_uuid_set_bare_atom_diff(self):
        """A one-element uuid set diff sent as a bare ["uuid", ...] toggles that uuid."""
        t = column(UUID_SET)
        self.assertEqual(t.apply_diff(frozenset([U1, U2]), ["uuid", U2]), frozenset([U1]))
        self.assertEqual(t.apply_diff(frozenset([U1]), ["uuid", U3]), frozenset([U1, U3]))

    def test_map_add_change_remove(self):
        """A map diff adds new keys, changes keys with a new value and removes keys sent with
        their current value; the old map is left alone."""
        t = column(STRING_MAP)
        old = {"keep": "1", "remove": "2", "change": "3"}
        new = t.apply_diff(old, ["map", [["remove", "2"], ["change", "33"], ["add", "4"]]])
        self.assertEqual(new, {"keep": "1", "change": "33", "add": "4"})
        self.assertEqual(old, {"keep": "1", "remove": "2", "change": "3"})

    def test_map_integer_keys(self):
        """Integer-keyed maps (Bridge.flow_tables) take diffs too."""
        t = column(FLOW_TABLES)
        new = t.apply_diff({0: U1, 1: U2}, ["map", [[0, ["uuid", U1]], [1, ["uuid", U3]], [2, ["uuid", U1]]]])
        self.assertEqual(new, {1: U3, 2: U1})

    def test_scalar_takes_new_value(self):
        """A scalar column's diff is its new value."""
        self.assertEqual(column("string").apply_diff("br0", "br1"), "br1")
        self.assertEqual(column("integer").apply_diff(1, ["set", [2]]), 2)

    def test_optional_set_from_empty(self):
        """An optional column that was empty takes the value in the diff."""
        self.assertEqual(column(OPTIONAL_INT).apply_diff(None, 10), 10)

    def test_optional_changed(self):
        """An optional column changed from one value to another (Port.tag 10 -> 20) holds the new
        value: for max-1 columns ovsdb-server sends the new value, not a symmetric difference."""
        t = column(OPTIONAL_INT)
        self.assertEqual(t.apply_diff(10, 20), 20)
        self.assertEqual(t.apply_diff(20, 10), 10)
        self.assertEqual(t.apply_diff(10, ["set", [20]]), 20)

    def test_optional_cleared(self):
        """An optional column cleared by the server (diff ["set", []]) becomes None."""
        self.assertIsNone(column(OPTIONAL_INT).apply_diff(10, ["set", []]))
        self.assertIsNone(column(OPTIONAL_UUID).apply_diff(U1, ["set", []]))

    def test_bad_diff(self):
        """A diff that does not fit the column type is refused."""
        self.assertRaises(SchemaError, column(STRING_SET).apply_diff, frozenset(), ["set", [1]])
        self.assertRaises(SchemaError, column(STRING_MAP).apply_diff, {}, ["set", []])


class CheckTests(TestCase):
    """check() enforces the schema's constraints before we send a value."""

    def test_enum(self):
        """Only the enumerated values are allowed (Bridge.fail_mode)."""
        t = column({"key": {"type": "string", "enum": ["set", ["standalone", "secure"]]}, "min": 0, "max": 1})
        t.check("secure")
        t.check(None)
        self.assertRaises(SchemaError, t.check, "bogus")

    def test_single_value_enum(self):
        """An enum of one value may be written as a bare atom in the schema."""
        t = column({"key": {"type": "string", "enum": "only"}})
        t.check("only")
        self.assertRaises(SchemaError, t.check, "other")

    def test_integer_range(self):
        """minInteger/maxInteger are inclusive bounds (Port.tag is 0..4095)."""
        t = column(OPTIONAL_INT)
        for ok in (0, 4095, 100):
            t.check(ok)
        for bad in (-1, 4096):
            self.assertRaises(SchemaError, t.check, bad)

    def test_real_range(self):
        """minReal/maxReal are inclusive bounds."""
        t = column({"key": {"type": "real", "minReal": 0.0, "maxReal": 1.0}})
        t.check(0.0)
        t.check(1.0)
        self.assertRaises(SchemaError, t.check, 1.5)
        self.assertRaises(SchemaError, t.check, -0.1)

    def test_string_length(self):
        """minLength/maxLength bound a string's length."""
        t = column({"key": {"type": "string", "minLength": 1, "maxLength": 3}})
        t.check("a")
        t.check("abc")
        self.assertRaises(SchemaError, t.check, "")
        self.assertRaises(SchemaError, t.check, "abcd")

    def test_set_size(self):
        """A set's number of elements must be within min..max."""
        t = column({"key": "integer", "min": 1, "max": 2})
        t.check(frozenset([1]))
        t.check(frozenset([1, 2]))
        self.assertRaises(SchemaError, t.check, frozenset())
        self.assertRaises(SchemaError, t.check, frozenset([1, 2, 3]))

    def test_set_elements(self):
        """Each element of a set is checked against the key type's constraints."""
        t = column({"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095}, "min": 0, "max": 4096})
        t.check(frozenset([0, 4095]))
        self.assertRaises(SchemaError, t.check, frozenset([1, 4096]))

    def test_unlimited_set(self):
        """An unlimited set accepts any number of elements."""
        column(STRING_SET).check(frozenset(str(i) for i in range(10000)))

    def test_map(self):
        """Map keys and values are checked, and the number of pairs is bounded."""
        t = column({"key": {"type": "integer", "minInteger": 0, "maxInteger": 254}, "value": "string",
                    "min": 0, "max": 2})
        t.check({0: "a", 254: "b"})
        self.assertRaises(SchemaError, t.check, {255: "a"})
        self.assertRaises(SchemaError, t.check, {0: "a", 1: "b", 2: "c"})
        v = column({"key": "string", "value": {"type": "string", "enum": ["set", ["x"]]}, "min": 0,
                    "max": "unlimited"})
        self.assertRaises(SchemaError, v.check, {"k": "y"})


SMALL_SCHEMA = {
    "name": "Small",
    "version": "1.0.0",
    "tables": {
        "Root": {"isRoot": True, "maxRows": 1, "columns": {"items": {"type": UUID_SET}}},
        "Item": {"columns": {"name": {"type": "string"}}, "indexes": [["name"]]},
    },
}


class DatabaseSchemaTests(TestCase):
    """Whole schemas, as get_schema returns them."""

    def test_small_schema(self):
        """Tables, root flags, indexes and maxRows are read from the schema."""
        schema = DatabaseSchema.from_json(SMALL_SCHEMA)
        self.assertEqual(schema.name, "Small")
        self.assertEqual(schema.version, "1.0.0")
        self.assertEqual(set(schema.tables), {"Root", "Item"})
        self.assertTrue(schema.tables["Root"].is_root)
        self.assertFalse(schema.tables["Item"].is_root)
        self.assertEqual(schema.tables["Item"].indexes, [("name",)])
        self.assertEqual(schema.tables["Root"].max_rows, 1)
        self.assertIs(schema.json, SMALL_SCHEMA)

    def test_implicit_columns(self):
        """_uuid and _version are uuid columns of every table."""
        table = DatabaseSchema.from_json(SMALL_SCHEMA).tables["Item"]
        for name in ("_uuid", "_version"):
            self.assertEqual(table.column_type(name).from_wire(["uuid", U1]), U1)
        self.assertRaises(KeyError, table.column_type, "nosuch")

    def test_no_is_root_means_all_root(self):
        """A schema where no table says isRoot treats every table as root (RFC 7047 compatibility)."""
        schema = DatabaseSchema.from_json({"name": "Old", "tables": {
            "A": {"columns": {}}, "B": {"columns": {}}}})
        self.assertTrue(schema.tables["A"].is_root and schema.tables["B"].is_root)

    def test_not_a_schema(self):
        """Something that is not a schema is refused with SchemaError."""
        for bad in [None, [], {"name": "x"}, {"tables": {}}, {"name": "x", "tables": []},
                    {"name": "x", "tables": {"T": {"columns": []}}},
                    {"name": "x", "tables": {"T": {"columns": {"c": {}}}}}]:
            self.assertRaises(SchemaError, DatabaseSchema.from_json, bad)

    def test_vswitch_schema(self):
        """The installed Open_vSwitch schema parses with the facts ovsdbus relies on."""
        schema = DatabaseSchema.from_json(load_vswitch_schema(self))
        self.assertEqual(schema.name, "Open_vSwitch")
        roots = {name for name, t in schema.tables.items() if t.is_root}
        self.assertEqual(roots, {"Open_vSwitch", "QoS", "Queue", "Flow_Sample_Collector_Set"})
        for table in ("Bridge", "Port", "Interface"):
            self.assertIn(("name",), schema.tables[table].indexes, table)
        self.assertEqual(schema.tables["Open_vSwitch"].max_rows, 1)

    def test_vswitch_column_types(self):
        """vswitch columns decode as their types say: flow_tables is an integer-keyed map,
        Port.tag optional, Port.interfaces a non-empty set of references."""
        tables = DatabaseSchema.from_json(load_vswitch_schema(self)).tables
        flow_tables = tables["Bridge"].column_type("flow_tables")
        self.assertTrue(flow_tables.is_map)
        self.assertEqual(flow_tables.from_wire(["map", [[0, ["uuid", U1]]]]), {0: U1})
        tag = tables["Port"].column_type("tag")
        self.assertTrue(tag.is_optional)
        self.assertRaises(SchemaError, tag.check, 4096)
        interfaces = tables["Port"].column_type("interfaces")
        self.assertEqual((interfaces.min, interfaces.max), (1, None))
        self.assertEqual(interfaces.key.ref_table, "Interface")
        self.assertRaises(SchemaError, interfaces.check, frozenset())
        fail_mode = tables["Bridge"].column_type("fail_mode")
        self.assertEqual(fail_mode.key.enum, frozenset(["standalone", "secure"]))
        self.assertEqual(tables["Bridge"].column_type("name").from_wire("br0"), "br0")
