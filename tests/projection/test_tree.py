"""Tests for ovsdbus.projection.tree: every row of every table an object, as pure data.

A :class:`~ovsdbus.ovsdb.replica.Replica` of a small schema written for these tests (no
Open_vSwitch table in it: the generic tree must not need one) is fed ``update2``
notifications, and the :class:`~ovsdbus.projection.tree.ObjectTree` must say which objects
appear, disappear and change, with which interface, paths and typed properties.  The
installed Open_vSwitch schema then checks that the generic objects and the Bridge, Port and
Interface objects of :mod:`ovsdbus.projection.view` are the same objects, and the counters
policy.
"""

import copy
import uuid

from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import TestCase

from ovsdbus.api import OBJECT_PATH
from ovsdbus.api.legacy import BRIDGE_INTERFACE, INTERFACE_INTERFACE, LEGACY, MEMBERSHIP_SIGNALS, PORT_INTERFACE, SPECS
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.ovsdb.schema import DatabaseSchema
from ovsdbus.projection import tree as tree_module
from ovsdbus.projection import types
from ovsdbus.projection.tree import (
    EMITS_CONST,
    EMITS_FALSE,
    EMITS_INVALIDATES,
    EMITS_TRUE,
    TABLE_INTERFACE_PREFIX,
    Change,
    Objects,
    ObjectTree,
    table_elements,
)
from ovsdbus.projection.view import TreeView, escape_path_element
from ovsdbus.vswitch.operations import QUIET_COLUMNS
from tests.projection.test_view import bridge_rows, load_schema, merge, ovs_map, uuids

FARM_JSON = {
    "name": "Farm",
    "version": "1.0.0",
    "tables": {
        "Barn": {
            "isRoot": True,
            "indexes": [["name"]],
            "columns": {
                "name": {"type": "string"},
                "animals": {"type": {"key": {"type": "uuid", "refTable": "Animal"}, "min": 0, "max": "unlimited"}},
                "tags": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
                "size": {"type": {"key": {"type": "integer", "minInteger": 1, "maxInteger": 10}}},
                "built": {"type": "integer", "mutable": False},
            },
        },
        # Differs from Barn only in case: each keeps its own name as its path element.
        "barn": {"isRoot": True, "columns": {"x": {"type": "integer"}}},
        "Animal": {
            "isRoot": False,
            "columns": {
                # A name without a unique index: paths by uuid.
                "name": {"type": "string"},
                "weight": {"type": {"key": "real", "min": 0, "max": 1}},
                "home": {"type": {"key": {"type": "uuid", "refTable": "Barn", "refType": "weak"},
                                  "min": 0, "max": 1}},
                "friends": {"type": {"key": {"type": "uuid", "refTable": "Animal", "refType": "weak"},
                                     "min": 0, "max": 2}},
                "counters": {"type": {"key": "string", "value": "integer", "min": 0, "max": "unlimited"}},
            },
        },
    },
}

QUIET = {"Animal": ["counters"]}

_NS = uuid.UUID("5e1f0000-0000-4000-8000-0000000f0a11")


def U(table, name):
    """A stable uuid per (table, name)."""
    return str(uuid.uuid5(_NS, "%s/%s" % (table, ascii(name))))


def ins(**columns):
    return {"insert": columns}


def mod(**columns):
    return {"modify": columns}


DELETE = {"delete": None}


def plain(props):
    """Properties with lazily computed values computed, as a reader gets them."""
    return {k: (s, v.resolve() if hasattr(v, "resolve") else v) for k, (s, v) in props.items()}


def barn_path(name):
    return "%s/Barn/%s" % (OBJECT_PATH, escape_path_element(name))


def animal_path(name):
    return "%s/animal/%s" % (OBJECT_PATH, U("Animal", name).replace("-", "_"))


class _FarmCase(TestCase):
    def setUp(self):
        self.schema = DatabaseSchema.from_json(copy.deepcopy(FARM_JSON))
        self.replica = Replica(self.schema, {t: None for t in self.schema.tables})
        self.tree = ObjectTree(QUIET)
        self.objects = Objects([(self.tree, None)])

    def apply(self, updates):
        """Apply an update2 notification; the merged tree's delta."""
        changes = self.replica.apply_update(updates, 2)
        return self.objects.update(self.replica, changes)

    def farm(self):
        """Barn b1 (size 3) with animals cow and hen (hen weighs 2.5, cow's friend is hen)."""
        return self.apply({
            "Barn": {U("Barn", "b1"): ins(name="b1", size=3, built=1999,
                                          animals=uuids(U("Animal", "cow"), U("Animal", "hen")))},
            "Animal": {U("Animal", "cow"): ins(name="cow", home=["uuid", U("Barn", "b1")],
                                               friends=uuids(U("Animal", "hen"))),
                       U("Animal", "hen"): ins(name="hen", weight=2.5, home=["uuid", U("Barn", "b1")])},
        })

    def props(self, path):
        (interface, props), = self.objects.interfaces_at(path).items()
        return {k: v for k, (_, v) in plain(props).items()}


class ShapeTests(_FarmCase):
    def test_interfaces_and_signatures_come_from_the_schema(self):
        """Each table has its interface org.openvswitch.ovsdb.Table.<Table> with one property per
        column, typed from the schema (references as o, optional values as arrays), plus _uuid."""
        self.farm()
        spec = self.objects.spec(TABLE_INTERFACE_PREFIX + "Animal")
        self.assertEqual({p.name: p.signature for p in spec.properties},
                         {"_uuid": "s", "name": "s", "weight": "ad", "home": "ao", "friends": "ao",
                          "counters": "a{sx}"})
        spec = self.objects.spec(TABLE_INTERFACE_PREFIX + "Barn")
        self.assertEqual({p.name: p.signature for p in spec.properties},
                         {"_uuid": "s", "name": "s", "animals": "ao", "tags": "a{ss}", "size": "x", "built": "x"})

    def test_when_each_property_is_announced(self):
        """EmitsChangedSignal: unbounded sets of references invalidate, quiet counters never
        emit, _uuid and immutable columns are const, everything else carries its value."""
        self.farm()
        emits = {p.name: p.emits_changed for t in ("Barn", "Animal")
                 for p in self.objects.spec(TABLE_INTERFACE_PREFIX + t).properties}
        self.assertEqual(emits, {"_uuid": EMITS_CONST, "name": EMITS_TRUE, "animals": EMITS_INVALIDATES,
                                 "tags": EMITS_TRUE, "size": EMITS_TRUE, "built": EMITS_CONST,
                                 "weight": EMITS_TRUE, "home": EMITS_TRUE, "friends": EMITS_TRUE,
                                 "counters": EMITS_FALSE})

    def test_path_elements(self):
        """A table's path element is its name in lowercase, unless another table has the same
        lowercase name: then both keep their own names."""
        self.assertEqual(table_elements(["Barn", "barn", "Animal", "Open_vSwitch"]),
                         {"Barn": "Barn", "barn": "barn", "Animal": "animal", "Open_vSwitch": "open_vswitch"})


class ContentsTests(_FarmCase):
    def test_every_row_is_an_object(self):
        """Every row is an object: rows of a table with a unique name index at their escaped
        name, others at their uuid; references are object paths; maps and optional values
        are dicts and arrays."""
        delta = self.farm()
        self.assertEqual(sorted(p for p, _ in delta.added),
                         sorted([barn_path("b1"), animal_path("cow"), animal_path("hen")]))
        self.assertEqual(self.props(barn_path("b1")), {
            "_uuid": U("Barn", "b1"), "name": "b1", "animals": sorted([animal_path("cow"), animal_path("hen")]),
            "tags": {}, "size": 3, "built": 1999})
        self.assertEqual(self.props(animal_path("cow")), {
            "_uuid": U("Animal", "cow"), "name": "cow", "weight": [], "home": [barn_path("b1")],
            "friends": [animal_path("hen")], "counters": {}})
        self.assertEqual(self.props(animal_path("hen"))["weight"], [2.5])
        self.assertEqual(delta.removed, [])
        self.assertEqual(delta.changed, [])

    def test_properties_are_read_from_the_replica(self):
        """An object's properties are those of its row now: after a change they read the new
        value (one property, or all at once), and they say which properties there are."""
        self.farm()
        self.apply({"Barn": {U("Barn", "b1"): mod(size=7, tags=["map", [["k", "v"]]])}})
        (_, props), = self.objects.interfaces_at(barn_path("b1")).items()
        self.assertEqual(props["size"], ("x", 7))
        self.assertEqual(props["tags"], ("a{ss}", {"k": "v"}))
        self.assertEqual(props["_uuid"], ("s", U("Barn", "b1")))
        self.assertEqual(sorted(props), ["_uuid", "animals", "built", "name", "size", "tags"])
        self.assertEqual(len(props), 6)
        self.assertNotIn("nope", props)
        self.assertRaises(KeyError, lambda: props["nope"])
        self.assertEqual(dict(props.items())["size"], ("x", 7))

    def test_path_of_and_back(self):
        """path_of gives a row's path ('/' for none); uuid_of_path and key_at resolve a path."""
        self.farm()
        self.assertEqual(self.objects.path_of("Animal", U("Animal", "cow")), animal_path("cow"))
        self.assertEqual(self.objects.path_of("Barn", U("Barn", "b1")), barn_path("b1"))
        self.assertEqual(self.objects.path_of("Barn", U("Barn", "nope")), "/")
        self.assertEqual(self.objects.uuid_of_path(barn_path("b1")), U("Barn", "b1"))
        self.assertEqual(self.objects.key_at(animal_path("hen")), ("Animal", U("Animal", "hen")))
        self.assertIsNone(self.objects.uuid_of_path(barn_path("b2")))

    def test_deleted_rows_disappear(self):
        """Deleting rows removes their objects; a weak reference to them disappears from the
        referrer, whose change is announced."""
        self.farm()
        delta = self.apply({"Animal": {U("Animal", "hen"): DELETE,
                                       U("Animal", "cow"): mod(friends=uuids(U("Animal", "hen")))},
                            "Barn": {U("Barn", "b1"): mod(animals=uuids(U("Animal", "hen")))}})
        self.assertEqual(delta.removed, [(animal_path("hen"), [TABLE_INTERFACE_PREFIX + "Animal"])])
        self.assertEqual(delta.changed, [
            Change(animal_path("cow"), TABLE_INTERFACE_PREFIX + "Animal", {"friends": ("ao", [])}, []),
            Change(barn_path("b1"), TABLE_INTERFACE_PREFIX + "Barn", {}, ["animals"])])
        self.assertEqual(self.props(barn_path("b1"))["animals"], [animal_path("cow")])


class ChangeTests(_FarmCase):
    def test_changed_columns_only(self):
        """A modify announces exactly the columns it changed, with their new values, in one
        Change per object; an update that changes nothing shown announces nothing."""
        self.farm()
        delta = self.apply({"Barn": {U("Barn", "b1"): mod(size=4, tags=ovs_map({"k": "v"}))}})
        self.assertEqual(delta.changed, [Change(barn_path("b1"), TABLE_INTERFACE_PREFIX + "Barn",
                                                {"size": ("x", 4), "tags": ("a{ss}", {"k": "v"})}, [])])
        self.assertEqual((delta.added, delta.removed), ([], []))
        self.assertEqual(self.props(barn_path("b1"))["size"], 4)

    def test_unbounded_reference_sets_are_invalidated(self):
        """Adding a row to an unbounded set of references names the property as invalidated
        (no thousands of paths in the signal); reading it gives the new paths."""
        self.farm()
        delta = self.apply({"Animal": {U("Animal", "pig"): ins(name="pig")},
                            "Barn": {U("Barn", "b1"): mod(animals=uuids(U("Animal", "pig")))}})
        self.assertEqual(delta.added[0][0], animal_path("pig"))
        self.assertEqual(delta.changed, [Change(barn_path("b1"), TABLE_INTERFACE_PREFIX + "Barn", {}, ["animals"])])
        self.assertIn(animal_path("pig"), self.props(barn_path("b1"))["animals"])

    def test_quiet_counters_are_never_announced(self):
        """A change of a quiet column (counters rewritten every few seconds) sends no
        PropertiesChanged (a Change with nothing in it: only cached encodings go stale), yet
        reading the property gives the new value."""
        self.farm()
        for n in range(3):
            delta = self.apply({"Animal": {U("Animal", "hen"): mod(counters=ovs_map({"eggs": n + 1}))}})
            self.assertEqual(delta.changed, [Change(animal_path("hen"), TABLE_INTERFACE_PREFIX + "Animal", {}, [])])
            self.assertEqual(self.props(animal_path("hen"))["counters"], {"eggs": n + 1})
        delta = self.apply({"Animal": {U("Animal", "hen"): mod(counters=ovs_map({"eggs": 9}), weight=3.0)}})
        self.assertEqual(delta.changed, [Change(animal_path("hen"), TABLE_INTERFACE_PREFIX + "Animal",
                                                {"weight": ("ad", [3.0])}, [])])

    def test_rename_moves_the_object_and_its_references(self):
        """Renaming a row of a name-indexed table moves its object (removed at the old path,
        added at the new one) and changes every reference to it."""
        self.farm()
        delta = self.apply({"Barn": {U("Barn", "b1"): mod(name="b2")}})
        self.assertEqual(delta.removed, [(barn_path("b1"), [TABLE_INTERFACE_PREFIX + "Barn"])])
        self.assertEqual([p for p, _ in delta.added], [barn_path("b2")])
        self.assertEqual(sorted(delta.changed), sorted([
            Change(animal_path("cow"), TABLE_INTERFACE_PREFIX + "Animal", {"home": ("ao", [barn_path("b2")])}, []),
            Change(animal_path("hen"), TABLE_INTERFACE_PREFIX + "Animal", {"home": ("ao", [barn_path("b2")])}, [])]))
        self.assertEqual(self.objects.interfaces_at(barn_path("b1")), {})

    def test_name_dbus_cannot_carry(self):
        """A row of a name-indexed table whose name D-Bus cannot carry has no object and
        references to it are left out; one warning is logged; renamed to a good name it appears."""
        warnings = []

        def observer(event):
            if event.get("log_level") == LogLevel.warn and "not shown on D-Bus" in event.get("log_format", ""):
                warnings.append(event)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.farm()
        delta = self.apply({"Barn": {U("Barn", "bad"): ins(name="b\0d", size=1)},
                            "Animal": {U("Animal", "cow"): mod(home=["uuid", U("Barn", "bad")])}})
        self.assertEqual(delta.added, [])
        self.assertEqual(self.props(animal_path("cow"))["home"], [])
        self.apply({"Barn": {U("Barn", "bad"): mod(size=2)}})
        self.assertEqual(len(warnings), 1)
        delta = self.apply({"Barn": {U("Barn", "bad"): mod(name="good")}})
        self.assertEqual([p for p, _ in delta.added], [barn_path("good")])
        self.assertEqual(self.props(animal_path("cow"))["home"], [barn_path("good")])
        self.assertIn(Change(animal_path("cow"), TABLE_INTERFACE_PREFIX + "Animal",
                             {"home": ("ao", [barn_path("good")])}, []), delta.changed)

    def test_same_schema_again_changes_nothing(self):
        """After a reconnection the replica has the same schema read again: no object is
        removed or added."""
        self.farm()
        self.replica.use_schema(DatabaseSchema.from_json(copy.deepcopy(FARM_JSON)))
        delta = self.apply({"Barn": {U("Barn", "b1"): mod(size=5)}})
        self.assertEqual((delta.removed, delta.added), ([], []))
        self.assertEqual(len(delta.changed), 1)

    def test_new_schema_shows_every_object_again(self):
        """A schema with another column (an upgraded server) shows every object again with it."""
        self.farm()
        changed = copy.deepcopy(FARM_JSON)
        changed["tables"]["Barn"]["columns"]["colour"] = {"type": {"key": "string", "min": 0, "max": 1}}
        self.replica = Replica(DatabaseSchema.from_json(changed), {t: None for t in changed["tables"]})
        self.replica.apply_update({"Barn": {U("Barn", "b1"): {"initial": {"name": "b1", "size": 3}}}}, 2)
        delta = self.objects.update(self.replica, [])
        self.assertEqual(len(delta.removed), 3)
        self.assertEqual([p for p, _ in delta.added], [barn_path("b1")])
        self.assertEqual(self.props(barn_path("b1"))["colour"], [])

    def test_work_is_proportional_to_what_changed(self):
        """Adding one row to a set of 3000 references converts a handful of values, not 3000:
        the set is read lazily."""
        self.farm()
        many = {U("Animal", "a%d" % i): ins(name="a%d" % i) for i in range(3000)}
        self.apply({"Animal": many, "Barn": {U("Barn", "b1"): mod(animals=uuids(*many))}})
        calls = []
        real = types.to_dbus

        def counting(*args):
            calls.append(args[0])
            return real(*args)
        self.patch(tree_module.types, "to_dbus", counting)
        self.apply({"Animal": {U("Animal", "new"): ins(name="new")},
                    "Barn": {U("Barn", "b1"): mod(animals=uuids(U("Animal", "new")))}})
        self.assertLess(len(calls), 10)


class OpenVswitchTests(TestCase):
    """The generic tree on the installed Open_vSwitch schema, merged with the legacy view."""

    def setUp(self):
        schema = load_schema()
        self.replica = Replica(schema, {t: None for t in schema.tables})
        self.objects = Objects([(ObjectTree(QUIET_COLUMNS), None),
                                (TreeView(LEGACY, MEMBERSHIP_SIGNALS, warn=False), SPECS)])

    def apply(self, updates):
        return self.objects.update(self.replica, self.replica.apply_update(updates, 2))

    def test_bridge_port_interface_objects_carry_both_interfaces(self):
        """A bridge's, port's and interface's object is one object with the older interface and
        the generated one; other tables' rows (Open_vSwitch) are objects by uuid."""
        root = str(uuid.uuid4())
        rows = bridge_rows("br0", ["p1"])
        delta = self.apply(merge({"Open_vSwitch": {root: ins(bridges=uuids(*rows["Bridge"]))}}, rows))
        added = dict(delta.added)
        path = OBJECT_PATH + "/bridge/br0"
        self.assertEqual(sorted(added[path]), [BRIDGE_INTERFACE, TABLE_INTERFACE_PREFIX + "Bridge"])
        self.assertEqual(sorted(added[OBJECT_PATH + "/port/p1"]), [PORT_INTERFACE, TABLE_INTERFACE_PREFIX + "Port"])
        self.assertEqual(sorted(added[OBJECT_PATH + "/interface/p1"]),
                         [INTERFACE_INTERFACE, TABLE_INTERFACE_PREFIX + "Interface"])
        self.assertIn(OBJECT_PATH + "/open_vswitch/" + root.replace("-", "_"), added)
        self.assertEqual(len(added), 6)
        generic = plain(added[OBJECT_PATH + "/port/p1"][TABLE_INTERFACE_PREFIX + "Port"])
        self.assertEqual(generic["interfaces"], ("ao", [OBJECT_PATH + "/interface/p1"]))
        self.assertEqual(generic["tag"], ("ax", []))

        delta = self.apply({"Bridge": {list(rows["Bridge"])[0]: DELETE},
                            "Open_vSwitch": {root: mod(bridges=uuids(*rows["Bridge"]))},
                            "Port": {u: DELETE for u in rows["Port"]},
                            "Interface": {u: DELETE for u in rows["Interface"]}})
        removed = dict(delta.removed)
        self.assertEqual(sorted(removed[path]), [BRIDGE_INTERFACE, TABLE_INTERFACE_PREFIX + "Bridge"])
        self.assertEqual(self.objects.interfaces_at(path), {})

    def test_interface_statistics_are_never_announced(self):
        """ovs-vswitchd rewriting Interface statistics announces nothing on either interface
        of the object (both say EmitsChangedSignal=false), while reading gives the new counters;
        a link state change in the same update is announced on both."""
        rows = bridge_rows("br0")
        self.apply(rows)
        iface = list(rows["Interface"])[0]
        delta = self.apply({"Interface": {iface: mod(statistics=ovs_map({"rx_bytes": 10}))}})
        self.assertEqual(sorted(delta.changed), sorted([
            Change(OBJECT_PATH + "/interface/br0", INTERFACE_INTERFACE, {}, []),
            Change(OBJECT_PATH + "/interface/br0", TABLE_INTERFACE_PREFIX + "Interface", {}, [])]))
        shown = self.objects.interfaces_at(OBJECT_PATH + "/interface/br0")
        self.assertEqual(plain(shown[INTERFACE_INTERFACE])["Statistics"], ("a{sx}", {"rx_bytes": 10}))
        self.assertEqual(plain(shown[TABLE_INTERFACE_PREFIX + "Interface"])["statistics"],
                         ("a{sx}", {"rx_bytes": 10}))
        delta = self.apply({"Interface": {iface: mod(statistics=ovs_map({"rx_bytes": 20}), link_state="up")}})
        self.assertEqual(sorted(delta.changed), sorted([
            Change(OBJECT_PATH + "/interface/br0", INTERFACE_INTERFACE, {"LinkState": ("s", "up")}, []),
            Change(OBJECT_PATH + "/interface/br0", TABLE_INTERFACE_PREFIX + "Interface",
                   {"link_state": ("as", ["up"])}, [])]))
        emits = {p.name: p.emits_changed for p in self.objects.spec(INTERFACE_INTERFACE).properties}
        self.assertEqual(emits["Statistics"], EMITS_FALSE)
