"""The benchmark's D-Bus side: a txdbus client in its own process.

``python bench/client.py BUS_ADDRESS SCENARIO ARGS...`` runs one scenario and prints one
JSON object with the latencies (seconds) it measured:

- ``calls BRIDGE N``: N x (AddPort, then DeletePort and a Ping untimed), N x BridgeExists,
  N x ListBridgePorts;
- ``signals BRIDGE N OVSDB_SOCKET``: N raw OVSDB inserts of a port on BRIDGE over its own OVSDB
  connection, each timed from sending the transaction to the PortAdded signal arriving;
- ``tree N``: N x GetManagedObjects;
- ``generic BRIDGE N``: N x Get of one port's tag and N x Find of a port by name, through
  org.openvswitch.ovsdb.Database (ports ``p0``.. of BRIDGE, taken in turn);
- ``batch BRIDGE REPEATS SIZE``: REPEATS x (one Transact of SIZE AddPort commands on BRIDGE), and
  REPEATS x (SIZE AddPort calls one after the other), each followed, untimed, by deleting and
  re-creating BRIDGE.
"""

import json
import sys
import time

from twisted.internet import defer, reactor
from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol
from txdbus import client

from ovsdbus.api import BUS_NAME, DATABASE_INTERFACE, OBJECT_PATH
from ovsdbus.ovsdb.client import OvsdbClientProtocol

DATABASE = DATABASE_INTERFACE

clock = time.perf_counter


@defer.inlineCallbacks
def timed(samples, call, *args, **kwargs):
    start = clock()
    result = yield call(*args, **kwargs)
    samples.append(clock() - start)
    return result


@defer.inlineCallbacks
def scenario_calls(bus, obj, bridge, n):
    n = int(n)
    add, exists, listing = [], [], []
    for i in range(n):
        port = "bq%d" % i
        yield timed(add, obj.callRemote, "AddPort", bridge, port)
        yield obj.callRemote("DeletePort", bridge, port)
        # Untimed: by the time the service answers a Ping it has sent the signals of the
        # DeletePort, so each AddPort meets an idle service, as a sporadic caller would.
        yield obj.callRemote("Ping", interface="org.freedesktop.DBus.Peer")
    for _ in range(n):
        yield timed(exists, obj.callRemote, "BridgeExists", bridge)
    ports = None
    for _ in range(n):
        ports = yield timed(listing, obj.callRemote, "ListBridgePorts", bridge)
    return {"AddPort": add, "BridgeExists": exists, "ListBridgePorts": listing, "ports": len(ports)}


@defer.inlineCallbacks
def scenario_signals(bus, obj, bridge, n, socket_path):
    n = int(n)
    ovsdb = OvsdbClientProtocol(reactor)
    yield connectProtocol(UNIXClientEndpoint(reactor, socket_path), ovsdb)
    bridge_rows = yield ovsdb.transact("Open_vSwitch", [
        {"op": "select", "table": "Bridge", "where": [["name", "==", bridge]], "columns": ["_uuid"]}])
    bridge_uuid = bridge_rows[0]["rows"][0]["_uuid"]
    waiting = {}

    def port_added(bridge_name, port):
        d = waiting.pop(port, None)
        if d is not None:
            d.callback(clock())

    yield obj.notifyOnSignal("PortAdded", port_added)
    latencies = []
    for i in range(n):
        port = "bs%d" % i
        arrived = waiting[port] = defer.Deferred()
        start = clock()
        yield ovsdb.transact("Open_vSwitch", [
            {"op": "insert", "table": "Interface", "row": {"name": port}, "uuid-name": "i"},
            {"op": "insert", "table": "Port", "row": {"name": port, "interfaces": ["named-uuid", "i"]},
             "uuid-name": "p"},
            {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", bridge_uuid]],
             "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}])
        end = yield arrived
        latencies.append(end - start)
    ovsdb.disconnect()
    return {"PortAdded": latencies}


@defer.inlineCallbacks
def scenario_tree(bus, obj, n):
    samples = []
    objects = None
    for _ in range(int(n)):
        objects = yield timed(samples, obj.callRemote, "GetManagedObjects",
                              interface="org.freedesktop.DBus.ObjectManager")
    return {"GetManagedObjects": samples, "objects": len(objects)}


@defer.inlineCallbacks
def scenario_generic(bus, obj, bridge, n):
    n = int(n)
    ports = yield obj.callRemote("ListBridgePorts", bridge)
    get, find = [], []
    for i in range(n):
        row = yield timed(get, obj.callRemote, "Get", "Port", ports[i % len(ports)], ["tag"], interface=DATABASE)
        assert "tag" in row, row
    for i in range(n):
        rows = yield timed(find, obj.callRemote, "Find", "Port", [("name", "=", ports[i % len(ports)])], ["name"],
                           interface=DATABASE)
        assert len(rows) == 1, rows
    return {"Get": get, "Find": find, "ports": len(ports)}


@defer.inlineCallbacks
def scenario_batch(bus, obj, bridge, repeats, size):
    repeats, size = int(repeats), int(size)
    batch, single = [], []

    @defer.inlineCallbacks
    def fresh_bridge():
        yield obj.callRemote("DeleteBridge", bridge)
        yield obj.callRemote("CreateBridge", bridge)
        yield obj.callRemote("Ping", interface="org.freedesktop.DBus.Peer")

    for _ in range(repeats):
        commands = [("AddPort", {"bridge": bridge, "port": "t%d" % i}) for i in range(size)]
        results = yield timed(batch, obj.callRemote, "Transact", commands, {}, interface=DATABASE)
        assert len(results) == size, results
        yield fresh_bridge()
    for _ in range(repeats):
        start = clock()
        for i in range(size):
            yield obj.callRemote("AddPort", bridge, "s%d" % i)
        single.append(clock() - start)
        yield fresh_bridge()
    return {"Transact": batch, "AddPorts": single}


SCENARIOS = {"calls": scenario_calls, "signals": scenario_signals, "tree": scenario_tree,
             "generic": scenario_generic, "batch": scenario_batch}


@defer.inlineCallbacks
def main(address, scenario, *args):
    try:
        bus = yield client.connect(reactor, address)
        obj = yield bus.getRemoteObject(BUS_NAME, OBJECT_PATH)
        result = yield SCENARIOS[scenario](bus, obj, *args)
        print(json.dumps(result))
        bus.disconnect()
    except Exception as e:
        print(json.dumps({"error": "%s: %s" % (e.__class__.__name__, e)}))
    finally:
        reactor.stop()


if __name__ == "__main__":
    reactor.callWhenRunning(main, *sys.argv[1:])
    reactor.run()
