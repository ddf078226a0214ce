"""org.openvswitch.ovsdb.Database arguments and results (ovsdbus.projection.args), on a schema of the
test's own: what a caller's D-Bus values become, which errors bad ones get, how results look.  Their
dispatch on the root object is tested in tests/bus/test_dispatch.py."""

from twisted.trial.unittest import TestCase

from ovsdbus import api
from ovsdbus.api.errors import dbus_error_name
from ovsdbus.ovsdb.conditions import parse_condition
from ovsdbus.ovsdb.errors import InvalidArgs, NotFound
from ovsdbus.ovsdb.schema import DatabaseSchema, SymbolicRef
from ovsdbus.projection.args import DatabaseArgs, command_label

U1 = "0cfa1d5b-5d4f-4e2c-9c3e-9b1a1a0e3f11"
U2 = "9e4d8b2a-1c3f-4e5a-8b7c-6d5e4f3a2b1c"

#: A schema of its own (no Open_vSwitch table): the conversions are driven by column types only.
SCHEMA = DatabaseSchema.from_json({
    "name": "Garden",
    "version": "1.0.0",
    "tables": {
        "Bed": {
            "isRoot": True,
            "columns": {
                "name": {"type": "string"},
                "rows": {"type": {"key": {"type": "integer", "minInteger": 1, "maxInteger": 12}}},
                "soil": {"type": {"key": {"type": "string", "enum": ["set", ["clay", "sand", "loam"]]},
                                  "min": 0, "max": 1}},
                "plants": {"type": {"key": {"type": "uuid", "refTable": "Plant"}, "min": 0, "max": "unlimited"}},
                "notes": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
                "slots": {"type": {"key": "integer", "value": {"type": "uuid", "refTable": "Plant"},
                                   "min": 0, "max": "unlimited"}},
                "ph": {"type": "real"},
                "watered": {"type": "boolean"},
            },
        },
        "Plant": {
            "columns": {
                "name": {"type": "string"},
                "tags": {"type": {"key": "string", "min": 0, "max": 3}},
            },
        },
    },
})


def path_of(table, uuid):
    return "/garden/%s/%s" % (table.lower(), uuid.replace("-", "_"))


def uuid_of_path(path):
    if path.startswith("/garden/plant/"):
        return path.rsplit("/", 1)[1].replace("_", "-")
    raise NotFound("no object at %s" % path)


def conv():
    return DatabaseArgs(SCHEMA, path_of, uuid_of_path)


class InputTests(TestCase):
    def test_unknown_table(self):
        """A table the schema lacks is InvalidArgs naming it."""
        e = self.assertRaises(InvalidArgs, conv().call_args, "Get", {"table": "Nope", "record": "x", "columns": []})
        self.assertIn("Nope", str(e))

    def test_unknown_column(self):
        """A column the table lacks is InvalidArgs naming table and column."""
        e = self.assertRaises(InvalidArgs, conv().call_args, "Get",
                              {"table": "Bed", "record": "b", "columns": ["name", "colour"]})
        self.assertIn("colour", str(e))
        self.assertIn("Bed", str(e))

    def test_set_splits_whole_columns_and_keys(self):
        """Set takes whole columns and column:key entries apart, keys converted by the map's key type."""
        a = conv().call_args("Set", {"table": "Bed", "record": "b1", "values": {
            "rows": 3, "soil": ["clay"], "notes:colour": "red", "slots:2": "/garden/plant/" + U1.replace("-", "_"),
            "plants": [U1, "@p"]}})
        self.assertEqual(a["values"], {"rows": 3, "soil": "clay", "plants": frozenset([U1, SymbolicRef("p")])})
        self.assertEqual(a["key_values"], {"notes": {"colour": "red"}, "slots": {2: U1}})
        self.assertEqual(a["record"], "b1")

    def test_set_refuses_bad_values_naming_column_and_signature(self):
        """A value of the wrong type, outside an enum or a range is InvalidArgs naming table.column and the
        expected D-Bus signature."""
        for values, expected in [({"rows": 13}, "Bed.rows: expected x"),
                                 ({"rows": True}, "Bed.rows: expected x"),
                                 ({"soil": ["peat"]}, "Bed.soil: expected as"),
                                 ({"notes": {"a": 1}}, "Bed.notes: expected a{ss}"),
                                 ({"slots:x": "/garden/plant/a"}, "Bed.slots"),
                                 ({"name:k": "v"}, "Bed.name is not a map")]:
            e = self.assertRaises(InvalidArgs, conv().call_args, "Set",
                                  {"table": "Bed", "record": "b", "values": values})
            self.assertIn(expected, str(e), values)

    def test_set_refuses_a_column_whole_and_by_key(self):
        """Setting a map whole and one of its keys in the same call is ambiguous: InvalidArgs."""
        self.assertRaises(InvalidArgs, conv().call_args, "Set",
                          {"table": "Bed", "record": "b", "values": {"notes": {}, "notes:a": "b"}})

    def test_reference_by_unknown_path(self):
        """An object path that names no row is NotFound, naming the column."""
        e = self.assertRaises(NotFound, conv().call_args, "Set",
                              {"table": "Bed", "record": "b", "values": {"plants": ["/elsewhere"]}})
        self.assertIn("Bed.plants", str(e))

    def test_create_merges_keys_into_maps(self):
        """Create's column:key entries become keys of their map column."""
        a = conv().call_args("Create", {"table": "Bed", "values": {"name": "b", "notes:a": "1", "notes:b": "2"}})
        self.assertEqual(a["values"], {"name": "b", "notes": {"a": "1", "b": "2"}})

    def test_add_and_remove(self):
        """Add/Remove take set elements, map pairs, or (Remove) an array of map keys; the column's size
        bounds do not apply to the part added or removed."""
        c = conv()
        self.assertEqual(c.call_args("Add", {"table": "Plant", "record": "p", "column": "tags",
                                             "values": ["a", "b", "c", "d"]})["values"], frozenset("abcd"))
        self.assertEqual(c.call_args("Add", {"table": "Plant", "record": "p", "column": "tags",
                                             "values": "a"})["values"], frozenset("a"))
        self.assertEqual(c.call_args("Add", {"table": "Bed", "record": "b", "column": "notes",
                                             "values": {"k": "v"}})["values"], {"k": "v"})
        self.assertEqual(c.call_args("Remove", {"table": "Bed", "record": "b", "column": "notes",
                                                "values": ["k", "j"]})["values"], frozenset(["k", "j"]))
        self.assertEqual(c.call_args("Remove", {"table": "Bed", "record": "b", "column": "notes",
                                                "values": {"k": "v"}})["values"], {"k": "v"})
        self.assertEqual(c.call_args("Remove", {"table": "Bed", "record": "b", "column": "slots",
                                                "values": [1, 2]})["values"], frozenset([1, 2]))

    def test_add_refuses_scalar_and_key(self):
        """Add to a column of exactly one value, or to column:key, is InvalidArgs."""
        c = conv()
        e = self.assertRaises(InvalidArgs, c.call_args, "Add",
                              {"table": "Bed", "record": "b", "column": "rows", "values": [1]})
        self.assertIn("Bed.rows", str(e))
        self.assertRaises(InvalidArgs, c.call_args, "Add",
                          {"table": "Bed", "record": "b", "column": "notes:a", "values": {"k": "v"}})
        self.assertRaises(InvalidArgs, c.call_args, "Remove",
                          {"table": "Bed", "record": "b", "column": "notes", "values": [7]})

    def test_conditions_match_rows(self):
        """Conditions (column, operator, value) get values typed by the column (by the map's value type
        for column:key) and select rows as ovs-vsctl find does."""
        triples = conv().call_args("Find", {"table": "Bed", "conditions": [
            ["rows", ">=", 2], ["notes:colour", "=", "red"], ["soil", "{!=}", ["sand"]]],
            "columns": []})["conditions"]
        self.assertEqual(triples, [("rows", ">=", frozenset([2])), ("notes:colour", "=", "red"),
                                   ("soil", "{!=}", frozenset(["sand"]))])
        conds = [parse_condition(SCHEMA.tables["Bed"], *t) for t in triples]
        good = {"rows": 3, "notes": {"colour": "red"}, "soil": "clay"}
        self.assertTrue(all(c.matches(good) for c in conds))
        for bad in ({"rows": 1}, {"notes": {"colour": "blue"}}, {"soil": "sand"}, {"notes": {}}):
            self.assertFalse(all(c.matches(dict(good, **bad)) for c in conds), bad)

    def test_conditions_refused(self):
        """An unknown operator, a value of the wrong type or an unknown column in a condition is InvalidArgs."""
        for cond in (["rows", "~", 1], ["rows", "=", "three"], ["depth", "=", 1], ["notes:a", "=", 5]):
            self.assertRaises(InvalidArgs, conv().call_args, "Find",
                              {"table": "Bed", "conditions": [cond], "columns": []})

    def test_timeout(self):
        """WaitUntil's timeout must be a finite number of seconds above 0."""
        for bad in (0, -1.0, float("inf"), float("nan")):
            self.assertRaises(InvalidArgs, conv().call_args, "WaitUntil",
                              {"table": "Bed", "record": "b", "conditions": [], "timeout": bad})
        self.assertEqual(conv().call_args("WaitUntil", {"table": "Bed", "record": "b", "conditions": [],
                                                        "timeout": 2})["timeout"], 2.0)


class TransactInputTests(TestCase):
    def test_commands_by_argument_names(self):
        """A command's args are the method's introspected argument names, converted as for the method
        itself; columns/conditions may be left out; batch options pass through."""
        cmds = conv().commands([
            ("Create", {"table": "Plant", "values": {"name": "fern"}, "id": "@f"}),
            ("Add", {"table": "Bed", "record": "b1", "column": "plants", "values": ["@f"]}),
            ("List", {"table": "Plant"}),
            ("Destroy", {"table": "Bed", "records": ["b2"], "if_exists": True}),
            ("AddPort", {"bridge": "br0", "port": "p0", "may_exist": True}),
        ])
        self.assertEqual(cmds[0], ("Create", {"table": "Plant", "values": {"name": "fern"}, "id": "@f"}))
        self.assertEqual(cmds[1][1]["values"], frozenset([SymbolicRef("f")]))
        self.assertEqual(cmds[2], ("List", {"table": "Plant", "columns": []}))
        self.assertEqual(cmds[3][1], {"table": "Bed", "records": ["b2"], "if_exists": True})
        self.assertEqual(cmds[4], ("AddPort", {"bridge": "br0", "port": "p0", "may_exist": True}))

    def test_bad_commands_name_the_command(self):
        """A bad command is InvalidArgs whose message starts with the command's number and what it is."""
        good = ("List", {"table": "Plant"})
        cases = [
            (("Set", {"table": "Bed", "record": "b1", "values": {"rows": 99}}), "command 2 (Set Bed b1): Bed.rows"),
            (("Frobnicate", {}), "command 2 (Frobnicate): unknown verb"),
            (("Transact", {}), "unknown verb"),
            (("Get", {"table": "Bed", "record": "b1", "colour": []}), "no argument \"colour\""),
            (("Get", {"table": "Bed"}), "argument \"record\" is missing"),
            (("Get", {"table": "Bed", "record": 5}), "argument record: expected s"),
            (("Create", {"table": "Plant", "values": {}, "id": "f"}), "id: expected \"@name\""),
            (("CreateBridge", {"name": "br0", "if_exists": True}), "no argument \"if_exists\""),
            (("Set", {"table": "Bed", "record": "b", "values": {"name": "x"}, "if_exists": 1}),
             "argument if_exists: expected b"),
        ]
        for command, expected in cases:
            e = self.assertRaises(InvalidArgs, conv().commands, [good, command])
            self.assertIn(expected, str(e), command)
            self.assertTrue(str(e).startswith("command 2 ("), str(e))

    def test_errors_keep_their_class(self):
        """A command's error keeps the class (and so the D-Bus name) of its cause."""
        e = self.assertRaises(NotFound, conv().commands,
                              [("Set", {"table": "Bed", "record": "b", "values": {"plants": ["/nowhere"]}})])
        self.assertTrue(str(e).startswith("command 1 (Set Bed b): "))
        self.assertEqual(dbus_error_name(e), "org.openvswitch.ovsdb.Error.NotFound")

    def test_empty_batch_and_options(self):
        """An empty batch and unknown or mistyped options are InvalidArgs; good options are kept."""
        self.assertRaises(InvalidArgs, conv().commands, [])
        e = self.assertRaises(InvalidArgs, conv().commands, [("ListBridges", {})] * (api.MAX_TRANSACT_COMMANDS + 1))
        self.assertIn("at most 10000", str(e))
        self.assertEqual(DatabaseArgs.options({"dry_run": True, "comment": "x", "timeout": 3}),
                         {"dry_run": True, "comment": "x", "timeout": 3.0})
        self.assertRaises(InvalidArgs, DatabaseArgs.options, {"dry-run": True})
        self.assertRaises(InvalidArgs, DatabaseArgs.options, {"dry_run": "yes"})
        self.assertRaises(InvalidArgs, DatabaseArgs.options, {"timeout": 0})

    def test_label(self):
        """Commands are named by verb and what they work on."""
        self.assertEqual(command_label("Set", {"table": "Port", "record": "p1", "values": {}}), "Set Port p1")
        self.assertEqual(command_label("AddPort", {"bridge": "br0", "port": "p0"}), "AddPort br0 p0")


class OutputTests(TestCase):
    def test_rows(self):
        """Rows come out typed by column, references as object paths, with _uuid and _path."""
        row = conv().row("Bed", {"_uuid": U2, "name": "b", "rows": 2, "soil": None, "plants": frozenset([U1]),
                                 "notes:colour": "red", "slots:1": U1})
        self.assertEqual(row, {
            "_uuid": ("s", U2), "_path": ("o", path_of("Bed", U2)), "name": ("s", "b"), "rows": ("x", 2),
            "soil": ("as", []), "plants": ("ao", [path_of("Plant", U1)]), "notes:colour": ("s", "red"),
            "slots:1": ("o", path_of("Plant", U1))})

    def test_transact_results(self):
        """Each command's result: uuid and path of what it created, rows of what it read, changed,
        and the verb's own output."""
        commands = [("Create", {"table": "Plant", "values": {}}), ("List", {"table": "Plant", "columns": []}),
                    ("BridgeExists", {"name": "br0"}), ("Set", {"table": "Bed", "record": "b"}),
                    ("ListBridges", {}), ("CreateBridge", {"name": "br0"})]
        results = conv().results(commands, [
            {"table": "Plant", "uuid": U1, "changed": True},
            {"table": "Plant", "rows": [{"_uuid": U1, "name": "fern"}], "changed": False},
            {"value": True, "changed": False}, {"changed": False, "dry_run": True},
            {"value": ["br0", "br1"], "changed": False}, {"table": "Bridge", "uuid": U2, "changed": True}])
        self.assertEqual(results[0], {"uuid": ("s", U1), "path": ("o", path_of("Plant", U1)),
                                      "changed": ("b", True)})
        self.assertEqual(results[1], {"rows": ("aa{sv}", [{"_uuid": ("s", U1), "_path": ("o", path_of("Plant", U1)),
                                                           "name": ("s", "fern")}]),
                                      "changed": ("b", False)})
        self.assertEqual(results[2], {"exists": ("b", True), "changed": ("b", False)})
        self.assertEqual(results[3], {"changed": ("b", False), "dry_run": ("b", True)})
        self.assertEqual(results[4], {"bridges": ("as", ["br0", "br1"]), "changed": ("b", False)})
        # A table the schema lacks (Bridge here) has no paths: the uuid alone.
        self.assertEqual(results[5], {"uuid": ("s", U2), "changed": ("b", True)})
