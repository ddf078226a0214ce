"""Tests for the work the service saves when it shows thousands of objects, and that what it
sends is still exactly right.

- An object's InterfacesAdded body is, byte for byte, its GetManagedObjects entry: it is encoded
  once, when the object appears, and GetManagedObjects copies it (the first GetManagedObjects
  after a burst of new objects encodes nothing).
- ``a{sv}`` entries of frequent simple values (numbers, empty strings, arrays and maps) are
  copied from a cache: whatever order, offset and mix of values, the bytes parse back (with
  txdbus's own parser) to the values given, and are the same as encoding without the cache.
- A property whose value is computed when read (object paths of a bridge's thousands of ports)
  is computed by the encoder, not beforehand.
- The cyclic garbage collector does not run while one update is followed (it would walk the
  growing heap again and again: more than half of the start-up time at 10 000 ports).
"""

import gc
import struct

from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase
from txdbus.message import parseMessage

from ovsdbus.api import OBJECT_PATH
from ovsdbus.api.legacy import LEGACY, MEMBERSHIP_SIGNALS
from ovsdbus.bus import service as service_module
from ovsdbus.bus import wire as dbuswire
from ovsdbus.bus.service import BusService, object_tree
from ovsdbus.ovsdb.replica import Replica
from ovsdbus.vswitch.operations import QUIET_COLUMNS
from tests.projection.test_view import ROOT, bridge_rows, load_schema, merge, uuids


def parse_body(signature, body):
    """``body`` (bytes of a message body of ``signature``) as txdbus parses it."""
    raw = dbuswire.signal(1, "/x", "org.x", "M", signature, raw_body=body)
    return parseMessage(raw, []).body


class _Connection:
    """What BusService reads of an OvsdbConnection: the replica, and observers it never calls."""

    synced = True
    member = ""
    leader = False

    def __init__(self, replica):
        self.replica = replica

    def add_observer(self, observer):
        pass

    add_state_observer = add_member_observer = add_observer


class _Transport:
    def __init__(self):
        self.written = []

    def write(self, data):
        self.written.append(bytes(data))


class _Clock:
    """callLater that is never run: the tests send what is queued with _flush_before_reply."""

    class _Call:
        def active(self):
            return True

        def cancel(self):
            pass

    def callLater(self, delay, f, *args):
        return self._Call()


class ManagedObjectsReuseTests(TestCase):
    """GetManagedObjects reuses the bytes of InterfacesAdded."""

    def setUp(self):
        self.replica = Replica(load_schema(), {t: None for t in ("Open_vSwitch", "Bridge", "Port", "Interface")})
        self.service = BusService(_Clock(), "session", _Connection(self.replica), None, lambda text: None,
                                  objects=object_tree(QUIET_COLUMNS, LEGACY, MEMBERSHIP_SIGNALS))
        self.transport = _Transport()
        handler = service_module.ObjectHandler.__new__(service_module.ObjectHandler)
        handler.conn = type("BusConnection", (), {"transport": self.transport})()
        handler.exports = {}
        self.service.handler = handler
        self.service.announcing = True   # as once the bus name is owned: changes are announced

    def apply(self, update):
        self.service._replica_changed(self.replica.apply_update(update, 2))
        self.service._flush_before_reply()

    def interfaces_added(self):
        """``{path: body bytes}`` of every InterfacesAdded written so far."""
        found = {}
        for raw in self.transport.written:
            message = parseMessage(raw, [])
            if message.member == "InterfacesAdded":
                fields_length = struct.unpack_from("<I", raw, 12)[0]
                found[message.body[0]] = raw[16 + fields_length + (-fields_length % 8):]
        return found

    def test_first_get_managed_objects_after_new_objects_encodes_nothing(self):
        """After a bridge of 50 ports appears, the next GetManagedObjects encodes no object: each
        entry is the bytes its InterfacesAdded carried, and the answer parses to every object."""
        ports = ["p%d" % i for i in range(50)]
        rows = bridge_rows("br0", ports)
        for table in rows.values():
            for u, row in table.items():
                table[u] = {"initial": row["insert"]}
        self.apply(merge({"Open_vSwitch": {ROOT: {"initial": {"bridges": uuids(*rows["Bridge"])}}}}, rows))
        added = self.interfaces_added()
        self.assertEqual(len(added), 1 + 1 + 51 + 51)   # root row, bridge, ports, interfaces

        encoded = []
        original = dbuswire.encode_entry
        self.patch(dbuswire, "encode_entry", lambda *a: encoded.append(a[1]) or original(*a))
        body = self.service.managed_objects_body()
        self.assertEqual(encoded, [])
        self.assertEqual(bytes(body), bytes(dbuswire.array_of_entries([added[p] for p in self.service._encoded])))
        [objects] = parse_body("a{oa{sa{sv}}}", body)
        self.assertEqual(sorted(objects), sorted(added))
        port = objects[OBJECT_PATH + "/port/p7"]
        self.assertEqual(port["org.openvswitch.ovsdb.Port"]["Bridge"], OBJECT_PATH + "/bridge/br0")
        self.assertEqual(port["org.openvswitch.ovsdb.Table.Port"]["tag"], [])

    def test_a_tree_too_large_for_one_message_is_refused_by_name(self):
        """A tree whose GetManagedObjects answer would not fit one D-Bus message is refused with
        org.freedesktop.DBus.Error.LimitsExceeded, saying why, instead of an internal error."""
        self.apply(self.initial_bridge(["p%d" % i for i in range(20)]))
        size = len(self.service.managed_objects_body())
        self.patch(dbuswire, "MAX_MESSAGE_SIZE", size // 2 + 4096)
        e = self.assertRaises(service_module.DBusErrorReply, self.service.managed_objects_body)
        self.assertEqual(e.name, "org.freedesktop.DBus.Error.LimitsExceeded")
        self.assertIn("%d objects" % (1 + 1 + 21 + 21), str(e))
        self.assertEqual(service_module.to_dbus_error(Failure(e))[0], e.name)

    def initial_bridge(self, ports):
        rows = bridge_rows("br0", ports)
        for table in rows.values():
            for u, row in table.items():
                table[u] = {"initial": row["insert"]}
        return merge({"Open_vSwitch": {ROOT: {"initial": {"bridges": uuids(*rows["Bridge"])}}}}, rows)

    def test_no_garbage_collection_while_an_update_is_followed(self):
        """Following the update that brings a bridge of 300 ports runs no garbage collection,
        and the collector is enabled again afterwards, also when following fails."""
        collections, inside = [], []

        def note(phase, info):
            if phase == "start" and inside:
                collections.append(info["generation"])

        # From the start of the view's update to the end of sending the first signals.
        update, flush = self.service.view.update, self.service._flush

        def updating(replica, changes):
            inside.append(True)
            return update(replica, changes)

        def flushed(*args):
            flush(*args)
            inside.clear()
        self.patch(self.service.view, "update", updating)
        self.patch(self.service, "_flush", flushed)
        changes = self.replica.apply_update(self.initial_bridge(["p%d" % i for i in range(300)]), 2)
        gc.callbacks.append(note)
        self.addCleanup(gc.callbacks.remove, note)
        self.assertTrue(gc.isenabled())
        self.service._replica_changed(changes)
        self.assertEqual(collections, [])
        # InterfacesAdded of 604 objects, BridgeAdded, 301 PortAdded and InterfaceAdded: the first
        # ones sent, the others queued.
        self.assertEqual(len(self.service._outbox), 604 + 1 + 2 * 301 - BusService.SIGNALS_PER_TURN)
        self.assertTrue(gc.isenabled())

        self.patch(self.service.view, "update", lambda replica, changes: 1 / 0)
        self.assertRaises(ZeroDivisionError, self.service._replica_changed, [])
        self.assertTrue(gc.isenabled())

    def test_collector_left_disabled_if_it_was(self):
        """A collector that its owner disabled stays disabled after an update."""
        gc.disable()
        self.addCleanup(gc.enable)
        self.apply(self.initial_bridge(["p1"]))
        self.assertFalse(gc.isenabled())

    def test_an_object_that_changed_is_encoded_again(self):
        """Once an object changes, GetManagedObjects shows its new values (its kept bytes are
        dropped), and those of the others are still reused."""
        rows = bridge_rows("br0", ["p1", "p2"])
        for table in rows.values():
            for u, row in table.items():
                table[u] = {"initial": row["insert"]}
        self.apply(merge({"Open_vSwitch": {ROOT: {"initial": {"bridges": uuids(*rows["Bridge"])}}}}, rows))
        port_uuid = next(u for u, r in self.replica.rows("Port").items() if r["name"] == "p1")
        self.apply({"Port": {port_uuid: {"modify": {"tag": 42}}}})
        encoded = []
        original = dbuswire.encode_entry
        self.patch(dbuswire, "encode_entry", lambda *a: encoded.append(a[1]) or original(*a))
        [objects] = parse_body("a{oa{sa{sv}}}", self.service.managed_objects_body())
        self.assertEqual(encoded, [OBJECT_PATH + "/port/p1"])
        self.assertEqual(objects[OBJECT_PATH + "/port/p1"]["org.openvswitch.ovsdb.Port"]["Tag"], 42)
        self.assertEqual(objects[OBJECT_PATH + "/port/p1"]["org.openvswitch.ovsdb.Table.Port"]["tag"], [42])


class _Lazy:
    """A value computed when read, as the projection's lazily computed properties are."""

    def __init__(self, value):
        self.value = value
        self.reads = 0

    def resolve(self):
        self.reads += 1
        return self.value


class PropertyCacheTests(TestCase):
    """``a{sv}`` entries copied from the cache are the entries a plain encoding gives."""

    def setUp(self):
        dbuswire._property_entries.clear()
        self.addCleanup(dbuswire._property_entries.clear)

    VALUES = [
        ("zero", ("x", 0)), ("minus", ("x", -1)), ("big", ("x", 2 ** 40)), ("flag", ("b", True)),
        ("one", ("x", 1)), ("on", ("b", False)), ("empty", ("s", "")), ("text", ("s", "abc")),
        ("none", ("as", [])), ("map", ("a{ss}", {})), ("ints", ("ax", [])), ("full", ("ax", [1, 2])),
        ("path", ("o", "/a/b")), ("paths", ("ao", [])), ("byte", ("y", 7)), ("real", ("d", -0.0)),
        ("nested", ("a{sv}", {"inner": ("x", 0), "e": ("as", [])})), ("u", ("u", 3)), ("counts", ("a{sx}", {})),
    ]

    def test_every_order_and_offset(self):
        """The same properties in several orders, after 0 to 7 bytes, encoded again and again (the
        later times from the cache): parsed back they are the values given, and the bytes never
        change from one time to the next."""
        expected = {k: v for k, (_, v) in self.VALUES}
        expected["nested"] = {"inner": 0, "e": []}
        for rotation in range(0, len(self.VALUES), 3):
            props = dict(self.VALUES[rotation:] + self.VALUES[:rotation])
            for offset in range(8):
                signature = "y" * offset + "a{sv}"
                first = bytes(dbuswire.encode_body(signature, [1] * offset + [props]))
                again = bytes(dbuswire.encode_body(signature, [1] * offset + [props]))
                self.assertEqual(again, first)
                parsed = parse_body(signature, first)[offset]
                self.assertEqual(parsed, expected)
                self.assertEqual(list(parsed), list(props))

    def test_same_name_and_value_with_another_signature(self):
        """A number or an empty value cached under one signature is not reused for another: 0 as
        ``x`` and as ``i``, True as ``b`` and 1 as ``x``, [] as ``as`` and as ``ax``."""
        for props in ({"v": ("x", 0)}, {"v": ("i", 0)}, {"v": ("b", True)}, {"v": ("x", 1)},
                      {"v": ("as", [])}, {"v": ("ax", [])}, {"v": ("u", 0)}):
            for _ in range(2):
                body = dbuswire.encode_body("a{sv}", [props])
                raw = dbuswire.signal(1, "/x", "org.x", "M", "a{sv}", raw_body=body)
                message = parseMessage(raw, [])
                self.assertEqual(message.body, [{"v": props["v"][1]}])
                self.assertIn(props["v"][0].encode(), bytes(body))

    def test_negative_zero_is_kept(self):
        """A real is never taken from the cache: -0.0 after 0.0 is still -0.0."""
        dbuswire.encode_body("a{sv}", [{"r": ("d", 0.0)}])
        [value] = parse_body("a{sv}", dbuswire.encode_body("a{sv}", [{"r": ("d", -0.0)}]))
        self.assertEqual(str(value["r"]), "-0.0")

    def test_bad_values_are_refused_every_time(self):
        """A string D-Bus cannot carry or a number out of range is refused each time, cached
        names and signatures notwithstanding."""
        dbuswire.encode_body("a{sv}", [{"k": ("s", "fine"), "n": ("y", 1)}])
        for _ in range(2):
            self.assertRaises(dbuswire.InvalidString, dbuswire.encode_body, "a{sv}", [{"k": ("s", "a\0b")}])
            self.assertRaises(ValueError, dbuswire.encode_body, "a{sv}", [{"n": ("y", 300)}])
            self.assertRaises(dbuswire.SignatureError, dbuswire.encode_body, "a{sv}", [{"k": ("a{", [])}])

    def test_values_computed_when_read_are_computed_by_the_encoder(self):
        """A value with ``resolve()`` is encoded as what it resolves to, once per encoding, empty
        values included."""
        paths, empty = _Lazy(["/a", "/b"]), _Lazy([])
        props = {"Ports": ("ao", paths), "Other": ("ao", empty), "n": ("x", 3)}
        for reads in (1, 2):
            [parsed] = parse_body("a{sv}", dbuswire.encode_body("a{sv}", [props]))
            self.assertEqual(parsed, {"Ports": ["/a", "/b"], "Other": [], "n": 3})
            self.assertEqual((paths.reads, empty.reads), (reads, reads))
