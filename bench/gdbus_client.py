"""The benchmark's calls through GDBus (GLib's C D-Bus library), for comparison with txdbus.

Run by bench/run.py with Debian's /usr/bin/python3 (python3-gi):
``gdbus_client.py BUS_ADDRESS BRIDGE N`` prints one JSON object of latencies (seconds) for
N x AddPort (DeletePort and Ping untimed), N x BridgeExists and N x ListBridgePorts, and for
one GetManagedObjects; ``gdbus_client.py BUS_ADDRESS BRIDGE N generic``: N x Get of the tag of
one of BRIDGE's ports and N x Find of a port by name (org.openvswitch.ovsdb.Database).
"""

import json
import sys
import time

from gi.repository import Gio, GLib

BUS_NAME = "org.openvswitch.ovsdb"
OBJECT_PATH = "/org/openvswitch/ovsdb"
INTERFACE = "org.openvswitch.ovsdb"
DATABASE = "org.openvswitch.ovsdb.Database"


def main(address, bridge, n, scenario="calls"):
    bus = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)

    def call(method, args=None, interface=INTERFACE, reply=None):
        return bus.call_sync(BUS_NAME, OBJECT_PATH, interface, method, args,
                             GLib.VariantType(reply) if reply else None, Gio.DBusCallFlags.NONE, 30000, None)

    def timed(samples, *args, **kwargs):
        start = time.perf_counter()
        result = call(*args, **kwargs)
        samples.append(time.perf_counter() - start)
        return result

    if scenario == "generic":
        ports = call("ListBridgePorts", GLib.Variant("(s)", (bridge,)), reply="(as)").unpack()[0] or [bridge]
        get, find = [], []
        for i in range(n):
            timed(get, "Get", GLib.Variant("(ssas)", ("Port", ports[i % len(ports)], ["tag"])), interface=DATABASE,
                  reply="(a{sv})")
        for i in range(n):
            condition = ("name", "=", GLib.Variant("s", ports[i % len(ports)]))
            timed(find, "Find", GLib.Variant("(sa(ssv)as)", ("Port", [condition], ["name"])), interface=DATABASE,
                  reply="(aa{sv})")
        print(json.dumps({"Get": get, "Find": find}))
        return

    add, exists, listing, tree = [], [], [], []
    for i in range(n):
        port = "bg%d" % i
        timed(add, "AddPort", GLib.Variant("(ss)", (bridge, port)))
        call("DeletePort", GLib.Variant("(ss)", (bridge, port)))
        call("Ping", interface="org.freedesktop.DBus.Peer")
    for _ in range(n):
        timed(exists, "BridgeExists", GLib.Variant("(s)", (bridge,)), reply="(b)")
    for _ in range(n):
        timed(listing, "ListBridgePorts", GLib.Variant("(s)", (bridge,)), reply="(as)")
    for _ in range(5):
        timed(tree, "GetManagedObjects", interface="org.freedesktop.DBus.ObjectManager", reply="(a{oa{sa{sv}}})")
    print(json.dumps({"AddPort": add, "BridgeExists": exists, "ListBridgePorts": listing, "GetManagedObjects": tree}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
