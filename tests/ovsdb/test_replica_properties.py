"""Property-based tests of ovsdbus.ovsdb.replica against the fake OVSDB server's database model.

Hypothesis generates sequences of transactions (bridges, ports, weak references, maps,
optional values; some of them fail, some trigger garbage collection), disconnections and
reconnections.  They run on a :class:`~ovsdbus.testing.FakeOvsdb`; a monitor of each
format (``monitor``, ``monitor_cond``, ``monitor_cond_since``) on the fake's wire protocol
feeds the updates it sends to a :class:`~ovsdbus.ovsdb.replica.Replica`, which must always equal
the server's rows and report exactly the rows that changed.  A second property breaks the
rules in each way the replica checks, from any reachable state, and expects a refusal that
changes nothing.
"""

import copy

import ujson
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

from ovsdbus.ovsdb.client import MONITOR_METHODS, monitor_requests
from ovsdbus.ovsdb.errors import ProtocolError
from ovsdbus.ovsdb.framing import JSONValueSplitter
from ovsdbus.ovsdb.replica import DELETE, INSERT, MODIFY, Replica
from ovsdbus.ovsdb.schema import ZERO_UUID, DatabaseSchema
from ovsdbus.testing import FakeOvsdb, FakeOvsdbFactory

SCHEMA_JSON = {
    "name": "Mini",
    "version": "1.0.0",
    "tables": {
        "Root": {"isRoot": True, "maxRows": 1, "columns": {
            "bridges": {"type": {"key": {"type": "uuid", "refTable": "Bridge"}, "min": 0, "max": "unlimited"}},
            "next_cfg": {"type": "integer"},
        }},
        "Bridge": {"indexes": [["name"]], "columns": {
            "name": {"type": "string", "mutable": False},
            "ports": {"type": {"key": {"type": "uuid", "refTable": "Port"}, "min": 0, "max": "unlimited"}},
            "fail_mode": {"type": {"key": {"type": "string", "enum": ["set", ["standalone", "secure"]]},
                                   "min": 0, "max": 1}},
            "external_ids": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
        }},
        "Port": {"indexes": [["name"]], "columns": {
            "name": {"type": "string"},
            "tag": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095},
                             "min": 0, "max": 1}},
            "trunks": {"type": {"key": {"type": "integer", "minInteger": 0, "maxInteger": 4095},
                                "min": 0, "max": 4096}},
        }},
        "Mirror": {"isRoot": True, "columns": {
            "name": {"type": "string"},
            "output_port": {"type": {"key": {"type": "uuid", "refTable": "Port", "refType": "weak"},
                                     "min": 0, "max": 1}},
            "select_ports": {"type": {"key": {"type": "uuid", "refTable": "Port", "refType": "weak"},
                                      "min": 0, "max": "unlimited"}},
        }},
    },
}
SCHEMA = DatabaseSchema.from_json(SCHEMA_JSON)

#: Everything but Mirror.name: a column the server has and the replica does not mirror.
COLUMNS = {
    "Root": ["bridges", "next_cfg"],
    "Bridge": ["name", "ports", "fail_mode", "external_ids"],
    "Port": ["name", "tag", "trunks"],
    "Mirror": ["output_port", "select_ports"],
}

NOWHERE = "eeeeeeee-0000-4000-8000-00000000000e"
#: Monitor methods with their update format; "+history" is a server that keeps a transaction
#: history (as a clustered one does), so that monitor_cond_since resumes with the changes since
#: the last transaction seen instead of a full snapshot.
VERSIONS = {"monitor": 1, "monitor_cond": 2, "monitor_cond_since": 2, "monitor_cond_since+history": 2}


def server_contents(db):
    """The server's rows as the replica should hold them (monitored columns only)."""
    return {table: {u: {c: row[c] for c in columns} for u, row in db.rows(table).items()}
            for table, columns in COLUMNS.items()}


class MonitorSession:
    """One client connection to the fake server with one monitor, played by hand.

    ``found`` tells whether ``initial`` holds the changes since ``last_txn_id`` (else it is a
    full snapshot); ``last_txn_id`` follows the update3 notifications read.
    """

    def __init__(self, factory, method, last_txn_id=None):
        self.method = method
        self.notification = dict(MONITOR_METHODS)[method]
        self.protocol = factory.buildProtocol(None)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)
        self._splitter = JSONValueSplitter()
        params = ["Mini", "m", monitor_requests(COLUMNS, conditional=method != "monitor")]
        if method == "monitor_cond_since":
            params.append(last_txn_id or ZERO_UUID)
        self.protocol.dataReceived(ujson.dumps({"method": method, "params": params, "id": 1}).encode())
        reply, = self._messages()
        assert reply["error"] is None, reply
        self.found, self.last_txn_id, self.initial = False, None, reply["result"]
        if method == "monitor_cond_since":
            self.found, self.last_txn_id, self.initial = reply["result"]

    def _messages(self):
        data = self.transport.value()
        self.transport.clear()
        return [ujson.loads(text) for text in self._splitter.feed(data)]

    def updates(self):
        """The table updates of each notification the server sent since the last call."""
        result = []
        for message in self._messages():
            assert message["method"] == self.notification, message
            if self.notification == "update3":
                self.last_txn_id = message["params"][1]
            result.append(message["params"][-1])
        return result

    def close(self):
        self.protocol.connectionLost(Failure(ConnectionDone()))


# -- actions: what a user of the database does, resolved against its state when run ----------

names = st.sampled_from(["a", "b", "c", "d", "e"])
index = st.integers(min_value=0, max_value=7)
vlan = st.integers(min_value=0, max_value=4095)
ACTIONS = st.one_of(
    st.tuples(st.just("add_bridge"), names, st.lists(names, max_size=3, unique=True)),
    st.tuples(st.just("del_bridge"), index),
    st.tuples(st.just("add_port"), index, names),
    st.tuples(st.just("del_port"), index),
    st.tuples(st.just("move_port"), index, index),
    st.tuples(st.just("replace_port"), index, names),
    st.tuples(st.just("rename_port"), index, names),
    st.tuples(st.just("set_tag"), index, st.none() | vlan),
    st.tuples(st.just("set_trunks"), index, st.lists(vlan, max_size=4, unique=True)),
    st.tuples(st.just("set_external_id"), index, names, st.none() | names),
    st.tuples(st.just("set_fail_mode"), index, st.sampled_from([None, "standalone", "secure"])),
    st.tuples(st.just("add_mirror"), index, st.lists(index, max_size=3)),
    st.tuples(st.just("del_mirror"), index),
    st.tuples(st.just("bump_cfg")),
    st.tuples(st.just("disconnect")),
    st.tuples(st.just("reconnect")),
)


def _pick(db, table, i):
    uuids = sorted(db.rows(table))
    return uuids[i % len(uuids)] if uuids else None


def _by_uuid(u):
    return [["_uuid", "==", ["uuid", u]]]


def operations(db, action):
    """The transaction for ``action`` on ``db`` as it is now, or None when it makes no sense."""
    kind, args = action[0], action[1:]
    if kind == "add_bridge":
        name, ports = args
        ops = [{"op": "insert", "table": "Port", "row": {"name": p}, "uuid-name": "p_" + p} for p in ports]
        ops.append({"op": "insert", "table": "Bridge", "uuid-name": "br",
                    "row": {"name": name, "ports": ["set", [["named-uuid", "p_" + p] for p in ports]]}})
        ops.append({"op": "mutate", "table": "Root", "where": [],
                    "mutations": [["bridges", "insert", ["named-uuid", "br"]]]})
        return ops
    if kind == "bump_cfg":
        return [{"op": "mutate", "table": "Root", "where": [], "mutations": [["next_cfg", "+=", 1]]}]
    if kind == "add_mirror":
        i, port_indexes = args
        port = _pick(db, "Port", i)
        selected = {_pick(db, "Port", j) for j in port_indexes} - {None}
        row = {"name": "m", "select_ports": ["set", [["uuid", u] for u in sorted(selected)]]}
        if port is not None:
            row["output_port"] = ["uuid", port]
        return [{"op": "insert", "table": "Mirror", "row": row}]
    table = {"del_bridge": "Bridge", "set_external_id": "Bridge", "set_fail_mode": "Bridge",
             "del_mirror": "Mirror"}.get(kind, "Port")
    target = _pick(db, table, args[0])
    if target is None:
        return None
    if kind == "del_bridge":
        return [{"op": "mutate", "table": "Root", "where": [],
                 "mutations": [["bridges", "delete", ["uuid", target]]]}]
    if kind == "del_mirror":
        return [{"op": "delete", "table": "Mirror", "where": _by_uuid(target)}]
    if kind == "set_external_id":
        key, value = args[1:]
        mutations = [["external_ids", "delete", ["set", [key]]]]
        if value is not None:
            mutations.append(["external_ids", "insert", ["map", [[key, value]]]])
        return [{"op": "mutate", "table": "Bridge", "where": _by_uuid(target), "mutations": mutations}]
    if kind == "set_fail_mode":
        mode = args[1]
        return [{"op": "update", "table": "Bridge", "where": _by_uuid(target),
                 "row": {"fail_mode": ["set", [] if mode is None else [mode]]}}]
    if kind == "add_port":
        port = args[1]
        return [{"op": "insert", "table": "Port", "row": {"name": port}, "uuid-name": "p"},
                {"op": "mutate", "table": "Bridge", "where": _by_uuid(target),
                 "mutations": [["ports", "insert", ["named-uuid", "p"]]]}]
    # Port actions from here on.
    if kind in ("del_port", "move_port"):
        ops = [{"op": "mutate", "table": "Bridge", "where": [],
                "mutations": [["ports", "delete", ["uuid", target]]]}]
        bridge = _pick(db, "Bridge", args[1]) if kind == "move_port" else None
        if bridge is not None:
            ops.append({"op": "mutate", "table": "Bridge", "where": _by_uuid(bridge),
                        "mutations": [["ports", "insert", ["uuid", target]]]})
        return ops
    if kind == "replace_port":
        return [{"op": "insert", "table": "Port", "row": {"name": args[1]}, "uuid-name": "p"},
                {"op": "mutate", "table": "Bridge", "where": [["ports", "includes", ["uuid", target]]],
                 "mutations": [["ports", "delete", ["uuid", target]], ["ports", "insert", ["named-uuid", "p"]]]}]
    if kind == "rename_port":
        return [{"op": "update", "table": "Port", "where": _by_uuid(target), "row": {"name": args[1]}}]
    if kind == "set_tag":
        tag = args[1]
        return [{"op": "update", "table": "Port", "where": _by_uuid(target),
                 "row": {"tag": ["set", [] if tag is None else [tag]]}}]
    assert kind == "set_trunks", kind
    return [{"op": "update", "table": "Port", "where": _by_uuid(target), "row": {"trunks": ["set", args[1]]}}]


def snapshot(replica):
    """Everything observable about ``replica``."""
    return (copy.deepcopy(replica.tables), replica.generation,
            {(t, n): replica.find(t, name=n) for t in ("Bridge", "Port") for n in ("a", "b", "c", "d", "e")})


class World:
    """A fake server, a monitor session on it and a replica fed from that session."""

    def __init__(self, testcase, method):
        self.testcase = testcase
        self.version = VERSIONS[method]
        self.method, _, history = method.partition("+")
        self.last_txn_id = None
        self.db = FakeOvsdb(SCHEMA_JSON, keep_history=bool(history))
        self.db.transact([{"op": "insert", "table": "Root", "row": {}}])
        self.factory = FakeOvsdbFactory(self.db, clock=task.Clock())
        self.replica = Replica(SCHEMA, COLUMNS)
        self.session = None
        self.reconnect()

    def check_changes(self, before, changes):
        """``changes`` are exactly the rows that differ between ``before`` and the server now,
        each once, with the right kind, old and new row; and the replica equals the server."""
        after = server_contents(self.db)
        expected = {(t, u): (before[t].get(u), after[t].get(u))
                    for t in COLUMNS for u in set(before[t]) | set(after[t])
                    if before[t].get(u) != after[t].get(u)}
        reported = {}
        for change in changes:
            key = (change.table, change.uuid)
            self.testcase.assertNotIn(key, reported, "a row reported twice")
            reported[key] = (change.old, change.new)
            kind = INSERT if change.old is None else DELETE if change.new is None else MODIFY
            self.testcase.assertEqual(change.kind, kind)
        self.testcase.assertEqual(reported, expected)
        self.testcase.assertEqual(self.replica.tables, after)

    def reconnect(self):
        if self.session is not None:
            self.last_txn_id = self.session.last_txn_id
            self.session.close()
        before = copy.deepcopy(self.replica.tables)
        self.session = MonitorSession(self.factory, self.method, self.last_txn_id)
        if self.session.found:
            changes = self.replica.apply_update(self.session.initial, self.version)
        else:
            changes = self.replica.resync(self.session.initial, self.version)
        self.check_changes(before, changes)
        self.found = self.session.found

    def disconnect(self):
        if self.session is not None:
            self.last_txn_id = self.session.last_txn_id
            self.session.close()
            self.session = None

    def run(self, action):
        if action[0] == "reconnect":
            self.reconnect()
            return
        if action[0] == "disconnect":
            self.disconnect()
            return
        ops = operations(self.db, action)
        if ops is None:
            return
        before = copy.deepcopy(self.replica.tables)
        self.db.transact(ops)
        if self.session is not None:
            changes = []
            for updates in self.session.updates():
                changes.extend(self.replica.apply_update(updates, self.version))
            self.check_changes(before, changes)

    def empty(self):
        """Delete every mirror one by one, then every bridge (their ports go with them): every
        row is deleted in the end, each once nothing refers to it any more."""
        while self.db.rows("Mirror"):
            self.run(("del_mirror", 0))
        while self.db.rows("Bridge"):
            self.run(("del_bridge", 0))

    def close(self):
        self.disconnect()


class ReplicaFollowsServerTests(TestCase):
    """Whatever happens on the server, the replica is its exact copy."""

    @settings(max_examples=100, deadline=None)
    @given(method=st.sampled_from(sorted(VERSIONS)), actions=st.lists(ACTIONS, max_size=25))
    def test_replica_equals_server(self, method, actions):
        """After every transaction (reported as exactly the rows it changed, each once) and every
        reconnection (reported as exactly the differences from the copy held), the replica holds
        what the server holds: garbage-collected rows and removed weak references included.
        Emptying the database at the end, connected, deletes every row the actions left."""
        world = World(self, method)
        try:
            for action in actions:
                world.run(action)
            world.reconnect()
            world.empty()
            self.assertEqual(world.replica.rows("Port"), {})
            if method.endswith("+history"):   # resumed from the history, not from a snapshot
                world.disconnect()
                world.run(("add_bridge", "z", ["z"]))
                world.reconnect()
                self.assertTrue(world.found)
        finally:
            world.close()


#: Ways to break the rules, each built from the replica's current contents.
VIOLATIONS = ("delete_unknown", "modify_unknown", "insert_existing", "delete_referenced", "dangling_reference",
              "unknown_table", "unknown_column", "bad_row_key", "stale_old")


def violation(replica, kind, version, i):
    """An update of format ``version`` that breaks the rules in way ``kind`` (None if it cannot
    be built from the current contents)."""
    tables = replica.tables

    def pick(table):
        uuids = sorted(tables[table])
        return uuids[i % len(uuids)] if uuids else None

    def row_update(v2_kind, body, old=None):
        if version == 2:
            return {v2_kind: None if v2_kind == "delete" else body}
        update = {}
        if v2_kind in ("delete", "modify"):
            update["old"] = old if old is not None else {}
        if v2_kind != "delete":
            update["new"] = body
        return update

    if kind == "delete_unknown":
        return {"Port": {NOWHERE: row_update("delete", None)}}
    if kind == "modify_unknown":
        return {"Port": {NOWHERE: row_update("modify", {"tag": 1})}}
    if kind == "insert_existing":
        port = pick("Port")
        return None if port is None else {"Port": {port: row_update("insert", {"name": "x"})}}
    if kind == "delete_referenced":
        referenced = sorted(u for row in tables["Bridge"].values() for u in row["ports"])
        if referenced:
            port = referenced[i % len(referenced)]
            return {"Port": {port: row_update("delete", None)}}
        bridge = pick("Bridge")
        return None if bridge is None else {"Bridge": {bridge: row_update("delete", None)}}
    if kind == "dangling_reference":
        return {"Bridge": {NOWHERE: row_update("insert", {"name": "zz", "ports": ["uuid", NOWHERE]})}}
    if kind == "unknown_table":
        return {"Nosuch": {NOWHERE: row_update("insert", {})}}
    if kind == "unknown_column":
        return {"Port": {NOWHERE: row_update("insert", {"name": "zz", "nosuch": 1})}}
    if kind == "bad_row_key":
        return {"Port": {"zz": row_update("insert", {"name": "zz"})}}
    assert kind == "stale_old", kind
    port = pick("Port")
    if version != 1 or port is None:
        return None
    tag = tables["Port"][port]["tag"]
    stale = ["set", []] if tag is not None else 7
    return {"Port": {port: {"old": {"tag": stale}, "new": {"name": tables["Port"][port]["name"], "tag": 9}}}}


class ViolationsRefusedTests(TestCase):
    """From any state, an update that breaks the rules is refused and changes nothing."""

    @settings(max_examples=100, deadline=None)
    @given(method=st.sampled_from(sorted(VERSIONS)), actions=st.lists(ACTIONS, max_size=15),
           kind=st.sampled_from(VIOLATIONS), i=st.integers(min_value=0, max_value=7))
    def test_violation_refused(self, method, actions, kind, i):
        """The replica raises ProtocolError and stays as it was; after a resync it equals the server."""
        world = World(self, method)
        try:
            for action in actions:
                if action[0] != "disconnect":
                    world.run(action)
            update = violation(world.replica, kind, world.version, i)
            assume(update is not None)
            before = snapshot(world.replica)
            self.assertRaises(ProtocolError, world.replica.apply_update, update, world.version)
            self.assertEqual(snapshot(world.replica), before)
            world.reconnect()
        finally:
            world.close()
