"""Large switches: ovsdbus at 0, 1 000, 10 000 and 50 000 ports, next to ovs-vsctl and python-ovs, in one run.

One sandbox (ovsdb-server, a private dbus-daemon; no ovs-vswitchd) holds one bridge, ``scale``, filled
between the steps with one raw OVSDB transaction.  For each port count ovsdbus (``twistd -n ovsdbus``)
is started afresh and measured:

- start -> ``Connected`` true (interpreter start included, bytecode compiled beforehand as an
  installed package has it), seen by a GDBus subscriber;
- RSS after the sync, and after GetManagedObjects;
- medians of AddPort, BridgeExists, ListBridgePorts through a txdbus client in its own process
  (``bench/client.py calls``), next to ``ovs-vsctl --no-wait add-port / list-ports``;
- AddPort throughput with 300 calls in flight (the same client process);
- GetManagedObjects through GDBus (first call, then the median of a few), and its size;
- python-ovs's IDL (Debian's python3-openvswitch): connect and sync, and adding one port;
- the same AddPort transaction sent by a bare JSON-RPC client: ovsdb-server's own time for the
  write, which grows with the table whoever sends it (ovsdbus's part is AddPort minus that);
- resync after an ovsdb-server restart: from ovsdbus's first request to the restarted server
  (ovsdb-server's own debug log) to ``Connected`` true again.

Then, with a real ovs-vswitchd (dummy datapath) and 1 000 internal interfaces, ovsdbus's CPU over a
minute while ovs-vswitchd rewrites statistics and status, and the signals a subscriber receives.

Usage: ``./dev bench --scale`` (or ``python bench/scale.py [--ports 0,1000,10000,50000] [--json FILE]``).
The GDBus and python-ovs parts run under Debian's /usr/bin/python3 (python3-gi, python3-openvswitch).
"""

import argparse
import datetime
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import run_client_process, run_client_with  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
BUS_NAME = "org.openvswitch.ovsdb"
OBJECT_PATH = "/org/openvswitch/ovsdb"
BRIDGE = "scale"
#: An Ethernet broadcast frame (hex), flooded by the NORMAL action to every port of a bridge.
BROADCAST_FRAME = "ffffffffffff" + "020000000001" + "0800" + "00" * 46

TARGETS = [
    # (label, key, op, target)
    ("AddPort median at 10 000 / at 0 ports", "addport_ratio_10000", "<=", 1.15),
    ("  the same, less ovsdb-server's own transaction time", "own_ratio_10000", "<=", 1.15),
    ("AddPort/s, 300 in flight, 1 000 ports", "throughput_1000", ">=", 4000),
    ("AddPort/s, 300 in flight, 10 000 ports", "throughput_10000", ">=", 4000),
    ("ListBridgePorts at 10 000 ports, txdbus client (ms)", "list_10000", "<=", 3.0),
    ("ListBridgePorts at 10 000 ports, GDBus client (ms)", "list_gdbus_10000", "<=", 3.0),
    ("GetManagedObjects via GDBus at 10 000 ports (ms)", "objects_10000", "<=", 300.0),
    ("RSS after sync at 10 000 ports (MB)", "rss_sync_10000", "<=", 100.0),
    ("RSS after GetManagedObjects at 10 000 ports (MB)", "rss_objects_10000", "<=", 100.0),
    ("start -> Connected at 10 000 ports (s)", "start_10000", "<=", 1.0),
    ("resync after an ovsdb-server restart at 10 000 ports (s)", "resync_10000", "<=", 0.5),
    ("idle CPU with ovs-vswitchd and 1 000 interfaces (% of a core)", "idle_cpu", "<=", 2.0),
]


# -- helpers run under Debian's python3 (GDBus, python-ovs) -------------------------------------------

def gio_main(mode, address, *args):
    """``watch [all]``: print ``ready``, then ``connected T``/``disconnected T`` (wall clock) whenever
    the service's ``Connected`` turns; on EOF of stdin print the signals seen (by member) and exit.
    Without ``all`` only the root's PropertiesChanged are subscribed to (a subscriber to everything
    is itself slow to hear ``Connected`` behind the thousands of signals of a start).
    ``objects N``: N x GetManagedObjects, print their seconds and the size of the reply.
    ``list BRIDGE N``: N x ListBridgePorts, print their seconds."""
    from gi.repository import Gio, GLib

    bus = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    if mode == "objects":
        samples, size, count = [], 0, 0
        for _ in range(int(args[0])):
            start = time.perf_counter()
            try:
                reply = bus.call_sync(BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.ObjectManager",
                                      "GetManagedObjects", None, GLib.VariantType("(a{oa{sa{sv}}})"),
                                      Gio.DBusCallFlags.NONE, 120000, None)
            except GLib.Error as e:
                print(json.dumps({"error": e.message}))
                return
            samples.append(time.perf_counter() - start)
            size, count = reply.get_size(), reply.get_child_value(0).n_children()
        print(json.dumps({"samples": samples, "bytes": size, "objects": count}))
        return
    if mode == "list":
        samples = []
        for _ in range(int(args[1])):
            start = time.perf_counter()
            bus.call_sync(BUS_NAME, OBJECT_PATH, BUS_NAME, "ListBridgePorts", GLib.Variant("(s)", (args[0],)),
                          GLib.VariantType("(as)"), Gio.DBusCallFlags.NONE, 30000, None)
            samples.append(time.perf_counter() - start)
        print(json.dumps({"samples": samples}))
        return
    loop = GLib.MainLoop()
    counts = {}
    state = {"connected": None}

    def say(text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def connected(value):
        if value != state["connected"]:
            state["connected"] = value
            say("%s %.6f" % ("connected" if value else "disconnected", time.time()))

    def on_signal(connection, sender, path, interface, member, params):
        counts[member] = counts.get(member, 0) + 1
        if path == OBJECT_PATH and member == "PropertiesChanged":
            changed = params.unpack()[1]
            if "Connected" in changed:
                connected(changed["Connected"])

    def got_connected(connection, result):
        try:
            connected(connection.call_finish(result).unpack()[0])
        except GLib.Error:
            pass

    def appeared(connection, name, owner):
        connection.call(BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get",
                        GLib.Variant("(ss)", (BUS_NAME, "Connected")), GLib.VariantType("(v)"),
                        Gio.DBusCallFlags.NONE, 10000, None, got_connected)

    def vanished(connection, name):
        if state["connected"]:
            connected(False)
        state["connected"] = None

    def stdin_closed(*_):
        say(json.dumps(counts))
        loop.quit()
        return False

    if args and args[0] == "all":
        bus.signal_subscribe(None, None, None, None, None, Gio.DBusSignalFlags.NONE, on_signal)
    else:
        bus.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged", OBJECT_PATH, None,
                             Gio.DBusSignalFlags.NONE, on_signal)
    Gio.bus_watch_name_on_connection(bus, BUS_NAME, Gio.BusNameWatcherFlags.NONE, appeared, vanished)
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_IN | GLib.IO_HUP, stdin_closed)
    say("ready")
    loop.run()


def idl_main(remote, schema_path, bridge, n):
    """python-ovs's IDL: seconds to connect and sync, then N x (add a port, committed), untimed
    removal after each."""
    import uuid as uuidlib

    import ovs.db.idl
    import ovs.poller

    def run_until(condition):
        while not condition():
            idl.run()
            if condition():
                break
            poller = ovs.poller.Poller()
            idl.wait(poller)
            poller.block()

    start = time.perf_counter()
    helper = ovs.db.idl.SchemaHelper(schema_path)
    helper.register_all()
    idl = ovs.db.idl.Idl(remote, helper)
    run_until(lambda: idl.change_seqno != 0 and idl.has_ever_connected())
    sync = time.perf_counter() - start
    br = next(r for r in idl.tables["Bridge"].rows.values() if r.name == bridge)

    def commit(build):
        while True:
            txn = ovs.db.idl.Transaction(idl)
            build(txn)
            status = txn.commit_block()
            if status == txn.SUCCESS:
                return
            if status != txn.TRY_AGAIN:
                raise SystemExit("python-ovs transaction failed: %s %s" % (status, txn.get_error()))
            run_until(lambda: True)

    samples = []
    for i in range(int(n)):
        name = "idl%d-%s" % (i, uuidlib.uuid4().hex[:6])
        created = {}

        def add(txn, name=name, created=created):
            iface = txn.insert(idl.tables["Interface"])
            iface.name = name
            port = txn.insert(idl.tables["Port"])
            port.name = name
            port.interfaces = [iface]
            br.addvalue("ports", port)
            created["port"] = port

        t = time.perf_counter()
        commit(add)
        samples.append(time.perf_counter() - t)
        port = next(r for r in idl.tables["Port"].rows.values() if r.name == name)
        commit(lambda txn, port=port: br.delvalue("ports", port))
    print(json.dumps({"sync": sync, "add_port": samples}))


# -- the benchmark's own side (the venv) ---------------------------------------------------------------

class RawOvsdb:
    """A minimal blocking JSON-RPC client of ovsdb-server, to fill the database in one transaction."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.buffer = ""
        self.decoder = json.JSONDecoder()
        self.next_id = 0

    def call(self, method, params):
        self.next_id += 1
        self.sock.sendall(json.dumps({"method": method, "params": params, "id": self.next_id}).encode())
        while True:
            message = self._receive()
            if message.get("method") == "echo":
                self.sock.sendall(json.dumps({"result": message["params"], "error": None,
                                              "id": message["id"]}).encode())
            elif message.get("id") == self.next_id:
                if message.get("error") is not None:
                    raise SystemExit("OVSDB %s failed: %s" % (method, message["error"]))
                return message["result"]

    def _receive(self):
        while True:
            text = self.buffer.lstrip()
            if text:
                try:
                    message, end = self.decoder.raw_decode(text)
                    self.buffer = text[end:]
                    return message
                except ValueError:
                    pass
            data = self.sock.recv(1 << 20)
            if not data:
                raise SystemExit("ovsdb-server closed the connection")
            self.buffer += data.decode()

    def close(self):
        self.sock.close()


def fill(sandbox, first, last):
    """Add ports ``p<first>`` .. ``p<last - 1>`` (each with its Interface) to BRIDGE in one transaction."""
    if last <= first:
        return 0.0
    ops = []
    for i in range(first, last):
        name = "p%d" % i
        ops.append({"op": "insert", "table": "Interface", "row": {"name": name}, "uuid-name": "i%d" % i})
        ops.append({"op": "insert", "table": "Port", "row": {"name": name, "interfaces": ["named-uuid", "i%d" % i]},
                    "uuid-name": "n%d" % i})
    ops.append({"op": "mutate", "table": "Bridge", "where": [["name", "==", BRIDGE]],
                "mutations": [["ports", "insert", ["set", [["named-uuid", "n%d" % i] for i in range(first, last)]]]]})
    client = RawOvsdb(sandbox.ovsdb.socket_path)
    start = time.perf_counter()
    result = client.call("transact", ["Open_vSwitch", *ops])
    elapsed = time.perf_counter() - start
    client.close()
    errors = [r for r in result if isinstance(r, dict) and "error" in r]
    if errors:
        raise SystemExit("filling the database failed: %s" % errors[0])
    return elapsed


def raw_add_port(sandbox, n):
    """Seconds of each of ``n`` AddPort transactions sent by a bare JSON-RPC client (the same three
    operations ovsdbus sends, without its name checks), each port then deleted again: what
    ovsdb-server itself takes for a write at this size, the floor under every client's AddPort."""
    client = RawOvsdb(sandbox.ovsdb.socket_path)
    samples = []
    try:
        for i in range(n):
            name = "raw%d" % i
            ops = [{"op": "insert", "table": "Interface", "row": {"name": name}, "uuid-name": "i"},
                   {"op": "insert", "table": "Port", "row": {"name": name, "interfaces": ["named-uuid", "i"]},
                    "uuid-name": "p"},
                   {"op": "mutate", "table": "Bridge", "where": [["name", "==", BRIDGE]],
                    "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}]
            start = time.perf_counter()
            result = client.call("transact", ["Open_vSwitch", *ops])
            samples.append(time.perf_counter() - start)
            port = result[1]["uuid"]
            client.call("transact", ["Open_vSwitch", {"op": "mutate", "table": "Bridge",
                                                      "where": [["name", "==", BRIDGE]],
                                                      "mutations": [["ports", "delete", ["set", [port]]]]}])
    finally:
        client.close()
    return samples


def rss_mb(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_seconds(pid):
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Watcher:
    """The GDBus subscriber of :func:`gio_main` ``watch``, as a child process."""

    def __init__(self, address, everything=False):
        self.process = subprocess.Popen([SYSTEM_PYTHON, str(HERE / "scale.py"), "--gio", "watch", address]
                                        + (["all"] if everything else []),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        if self._line(60).strip() != "ready":
            raise SystemExit("the GDBus subscriber did not start")

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def _line(self, timeout):
        try:
            return self.lines.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def next_event(self, kind, timeout):
        """Wall-clock time of the next ``kind`` (connected, disconnected) event."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._line(deadline - time.monotonic())
            if line is None:
                raise SystemExit("no %s event within %s s" % (kind, timeout))
            words = line.split()
            if not words:
                raise SystemExit("the GDBus subscriber exited")
            if words[0] == kind:
                return float(words[1])

    def finish(self):
        """The signals seen, ``{member: count}``; the subscriber exits."""
        self.process.stdin.close()
        while True:
            line = self._line(60)
            if not line:
                break
            if line.startswith("{"):
                self.process.wait(30)
                return json.loads(line)
        self.process.wait(30)
        return {}


def system_python_json(*args, timeout=900):
    out = subprocess.run([SYSTEM_PYTHON, str(HERE / "scale.py"), *args], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise SystemExit("%s failed:\n%s" % (args[0], out.stderr[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def throughput_scenario():
    """``throughput BRIDGE N IN_FLIGHT`` for bench/client.py: N AddPort with IN_FLIGHT in flight,
    timed, then the same ports deleted (untimed)."""
    from twisted.internet import defer, task

    @defer.inlineCallbacks
    def scenario(bus, obj, bridge, n, in_flight):
        n, in_flight = int(n), int(in_flight)

        def all_of(method, names):
            names = iter(names)

            def worker():
                for name in names:
                    yield obj.callRemote(method, bridge, name)
            return defer.gatherResults([task.cooperate(worker()).whenDone() for _ in range(in_flight)],
                                       consumeErrors=True)

        names = ["tp%d" % i for i in range(n)]
        start = time.perf_counter()
        yield all_of("AddPort", names)
        elapsed = time.perf_counter() - start
        yield all_of("DeletePort", names)
        return {"seconds": elapsed, "calls": n, "per_second": n / elapsed}
    return scenario


def client_main(argv):
    """Run bench/client.py with the throughput scenario added."""
    run_client_with("throughput", throughput_scenario(), argv)


def run_scale_client(bus, *args):
    return run_client_process("scale.py", "--client", bus, *args)


def ms(seconds):
    return seconds * 1000.0


def first_request_time(log_file, offset):
    """Wall-clock time of the first request ovsdb-server logged after byte ``offset`` of its log."""
    with open(log_file, "rb") as f:
        f.seek(offset)
        for line in f:
            if b"received request" in line:
                stamp = line.split(b"|", 1)[0].decode()
                return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
    return None


def measure(sandbox, ports, args, run):
    """Everything measured at one port count; ``run`` is bench/run.py (its ovs-vsctl helpers)."""
    from ovsdbus.testing.sandbox import ServiceProcess

    bus = sandbox.dbus.address
    result = {"ports": ports}
    counter = None
    watcher = Watcher(bus)
    service = ServiceProcess(sandbox.ovsdb.remote, bus, directory=sandbox.directory / ("service-%d" % ports))
    started = time.time()
    service.start(wait=False)
    try:
        result["start_s"] = watcher.next_event("connected", 120) - started
        result["rss_sync_mb"] = rss_mb(service.pid)
        counter = Watcher(bus, everything=True)
        # GetManagedObjects first: the RSS after it is not that of the writes below.
        objects = system_python_json("--gio", "objects", bus, str(args.objects), timeout=1800)
        if "error" in objects:
            result["objects_error"] = objects["error"]
        else:
            result["objects_first_ms"] = ms(objects["samples"][0])
            result["objects_ms"] = ms(statistics.median(objects["samples"][1:] or objects["samples"]))
            result["objects_mb"] = objects["bytes"] / 1e6
            result["objects"] = objects["objects"]
        result["rss_objects_mb"] = rss_mb(service.pid)
        calls = args.calls if ports <= 10000 else max(10, args.calls // 5)
        ours = run.run_client(bus, "calls", BRIDGE, calls)
        for method in ("AddPort", "BridgeExists", "ListBridgePorts"):
            result[method + "_ms"] = ms(statistics.median(ours[method]))
        result["raw_add_port_ms"] = ms(statistics.median(raw_add_port(sandbox, calls)))
        if ports:
            tp = run_scale_client(bus, "throughput", BRIDGE, args.throughput_calls, args.in_flight)
            result["throughput_per_s"] = tp["per_second"]
        listed = system_python_json("--gio", "list", bus, BRIDGE, str(calls))
        result["ListBridgePorts_gdbus_ms"] = ms(statistics.median(listed["samples"]))
        vsctl_calls = args.vsctl_calls if ports <= 10000 else max(3, args.vsctl_calls // 5)
        result["vsctl_add_port_ms"] = ms(run.vsctl_add_port(sandbox, BRIDGE, vsctl_calls))
        result["vsctl_list_ports_ms"] = ms(run.time_vsctl(sandbox, vsctl_calls, lambda i: ["list-ports", BRIDGE]))
        idl = system_python_json("--idl", sandbox.ovsdb.remote, str(args.schema), BRIDGE, str(args.idl_calls))
        result["idl_sync_s"] = idl["sync"]
        result["idl_add_port_ms"] = ms(statistics.median(idl["add_port"]))
        # Resync: restart ovsdb-server (its database file stays), log its requests from the start.
        ovsdb = sandbox.ovsdb
        ovsdb.stop()
        watcher.next_event("disconnected", 60)
        offset = os.path.getsize(ovsdb.log_file)
        ovsdb.start()
        subprocess.run(["ovs-appctl", "-t", str(ovsdb.ctl_path), "vlog/set", "jsonrpc:file:dbg"], check=True,
                       capture_output=True)
        back = watcher.next_event("connected", 120)
        subprocess.run(["ovs-appctl", "-t", str(ovsdb.ctl_path), "vlog/set", "jsonrpc:file:info"], check=True,
                       capture_output=True)
        first = first_request_time(ovsdb.log_file, offset)
        result["resync_s"] = back - first if first is not None else float("nan")
        # After the restart: a write and its signals still work.
        after = run.run_client(bus, "calls", BRIDGE, 3)
        result["after_restart_addport_ms"] = ms(statistics.median(after["AddPort"]))
        result["cpu_s"] = cpu_seconds(service.pid)
        result["signals"] = counter.finish()
        counter = None
    finally:
        service.stop(remove=False)
        watcher.finish()
        if counter is not None:
            counter.finish()
    return result


def measure_idle(args):
    """ovsdbus's CPU over ``args.idle_seconds`` with ovs-vswitchd and 1 000 internal interfaces."""
    from ovsdbus.testing.sandbox import Sandbox

    with Sandbox(vswitchd=True, service=False) as sandbox:
        sandbox.ovsdb.vsctl("add-br", "idle")
        vsctl = []
        for i in range(args.idle_interfaces):
            vsctl += ["--", "add-port", "idle", "q%d" % i, "--", "set", "Interface", "q%d" % i, "type=internal"]
        sandbox.ovsdb.vsctl(*vsctl, timeout=600)
        # Wait until ovs-vswitchd has made them all (ofport assigned).
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            out = sandbox.ovsdb.vsctl("--bare", "--columns=ofport", "find", "Interface", "ofport=[]")
            if not out.strip():
                break
            time.sleep(1)
        from ovsdbus.testing.sandbox import ServiceProcess
        bus = sandbox.dbus.address
        watcher = Watcher(bus)
        service = ServiceProcess(sandbox.ovsdb.remote, bus, directory=sandbox.directory / "service-idle")
        service.start(wait=False)
        try:
            watcher.next_event("connected", 120)
            time.sleep(5)   # let the start-up work settle before measuring (not a synchronisation)
            watcher.finish()
            watcher = Watcher(bus, everything=True)
            cpu = cpu_seconds(service.pid)
            vswitchd_cpu = cpu_seconds(sandbox.vswitchd.pid)
            start = time.monotonic()
            # Once a second a broadcast frame arrives on one port; the NORMAL action floods it
            # to all the others, so every interface's counters change and ovs-vswitchd rewrites
            # the statistics of all of them (every 5 s, its default stats-update-interval).
            while time.monotonic() - start < args.idle_seconds:
                sandbox.vswitchd.appctl("netdev-dummy/receive", "q0", BROADCAST_FRAME)
                time.sleep(1)
            elapsed = time.monotonic() - start
            cpu = cpu_seconds(service.pid) - cpu
            vswitchd_cpu = cpu_seconds(sandbox.vswitchd.pid) - vswitchd_cpu
            signals = watcher.finish()
            watcher = None
        finally:
            service.stop(remove=False)
            if watcher is not None:
                watcher.finish()
    per_minute = {k: v * 60.0 / elapsed for k, v in signals.items()}
    return {"interfaces": args.idle_interfaces, "seconds": elapsed, "cpu_percent": 100.0 * cpu / elapsed,
            "vswitchd_cpu_percent": 100.0 * vswitchd_cpu / elapsed, "signals_per_minute": per_minute}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="0,1000,10000,50000", help="comma-separated port counts, ascending")
    parser.add_argument("--calls", type=int, default=100, help="txdbus calls per method and port count")
    parser.add_argument("--vsctl-calls", type=int, default=20, help="ovs-vsctl runs per command and port count")
    parser.add_argument("--idl-calls", type=int, default=20, help="python-ovs ports added per port count")
    parser.add_argument("--throughput-calls", type=int, default=3000, help="AddPort calls of the throughput test")
    parser.add_argument("--in-flight", type=int, default=300, help="AddPort calls in flight")
    parser.add_argument("--objects", type=int, default=4, help="GetManagedObjects calls through GDBus")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="length of the idle CPU measurement "
                        "(0: skip it)")
    parser.add_argument("--idle-interfaces", type=int, default=1000)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    counts = sorted(int(p) for p in args.ports.split(","))

    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import run

    from ovsdbus.testing.sandbox import Sandbox
    from ovsdbus.vswitch import VSWITCH_SCHEMA_PATH
    args.schema = VSWITCH_SCHEMA_PATH

    # The service is started from this checkout: give it the bytecode an installed package has
    # (dh_python3 compiles it at installation), or every start would compile ovsdbus's sources
    # again (0.25 s here, where PYTHONDONTWRITEBYTECODE may be set).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "ovsdbus"),
                    str(HERE.parent / "twisted")], check=True)
    results = {"counts": []}
    with Sandbox(vswitchd=False, service=False) as sandbox:
        sandbox.ovsdb.vsctl("add-br", BRIDGE)
        have = 0
        for ports in counts:
            fill_s = fill(sandbox, have, ports)
            have = ports
            print("%d ports (filled in %.1f s) ..." % (ports, fill_s), file=sys.stderr)
            results["counts"].append(measure(sandbox, ports, args, run))
    if args.idle_seconds > 0:
        print("idle, with ovs-vswitchd ...", file=sys.stderr)
        results["idle"] = measure_idle(args)
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


ROWS = [
    ("start -> Connected (s)", "start_s", "%.2f"),
    ("RSS after sync (MB)", "rss_sync_mb", "%.1f"),
    ("RSS after GetManagedObjects (MB)", "rss_objects_mb", "%.1f"),
    ("AddPort median (ms)", "AddPort_ms", "%.3f"),
    ("  ovs-vsctl add-port (ms)", "vsctl_add_port_ms", "%.2f"),
    ("  python-ovs IDL add a port (ms)", "idl_add_port_ms", "%.3f"),
    ("  bare OVSDB transaction, same ops (ms)", "raw_add_port_ms", "%.3f"),
    ("AddPort/s, 300 in flight", "throughput_per_s", "%.0f"),
    ("BridgeExists median (ms)", "BridgeExists_ms", "%.3f"),
    ("ListBridgePorts median (ms)", "ListBridgePorts_ms", "%.3f"),
    ("  through GDBus (ms)", "ListBridgePorts_gdbus_ms", "%.3f"),
    ("  ovs-vsctl list-ports (ms)", "vsctl_list_ports_ms", "%.2f"),
    ("GetManagedObjects GDBus, first (ms)", "objects_first_ms", "%.0f"),
    ("GetManagedObjects GDBus, median (ms)", "objects_ms", "%.0f"),
    ("  reply size (MB)", "objects_mb", "%.1f"),
    ("  python-ovs IDL connect+sync (s)", "idl_sync_s", "%.3f"),
    ("resync after ovsdb-server restart (s)", "resync_s", "%.3f"),
]


def print_report(results):
    counts = results["counts"]
    print("ovsdbus on a bridge of N ports (no ovs-vswitchd); txdbus client in its own process; ratios below")
    print("%-40s" % "" + "".join("%14s" % ("%d ports" % c["ports"]) for c in counts))
    for label, key, fmt in ROWS:
        print("%-40s" % label + "".join("%14s" % (fmt % c[key] if key in c else "-") for c in counts))
    print("%-40s" % "MB per 1 000 ports (RSS after sync)" + "".join(
        "%14s" % ("%.2f" % ((c["rss_sync_mb"] - counts[0]["rss_sync_mb"]) * 1000.0 / c["ports"])
                  if c["ports"] and counts[0]["ports"] == 0 else "-") for c in counts))
    print("%-40s" % "ovs-vsctl add-port / AddPort" + "".join(
        "%13.1fx" % (c["vsctl_add_port_ms"] / c["AddPort_ms"]) for c in counts))
    print("%-40s" % "python-ovs add a port / AddPort" + "".join(
        "%13.2fx" % (c["idl_add_port_ms"] / c["AddPort_ms"]) for c in counts))
    print("%-40s" % "AddPort minus bare OVSDB (ms)" + "".join(
        "%14.3f" % (c["AddPort_ms"] - c["raw_add_port_ms"]) for c in counts))
    print("%-40s" % "ovs-vsctl list-ports / ListBridgePorts" + "".join(
        "%13.1fx" % (c["vsctl_list_ports_ms"] / c["ListBridgePorts_ms"]) for c in counts))
    print("%-40s" % "python-ovs connect+sync / start" + "".join(
        "%13.2fx" % (c["idl_sync_s"] / c["start_s"]) for c in counts))
    by_ports = {c["ports"]: c for c in counts}
    values = {}
    if 0 in by_ports and 10000 in by_ports:
        values["addport_ratio_10000"] = by_ports[10000]["AddPort_ms"] / by_ports[0]["AddPort_ms"]
        values["own_ratio_10000"] = ((by_ports[10000]["AddPort_ms"] - by_ports[10000]["raw_add_port_ms"])
                                     / (by_ports[0]["AddPort_ms"] - by_ports[0]["raw_add_port_ms"]))
    for n in (1000, 10000):
        if n in by_ports:
            values["throughput_%d" % n] = by_ports[n].get("throughput_per_s", 0)
    if 10000 in by_ports:
        c = by_ports[10000]
        values.update(list_10000=c["ListBridgePorts_ms"], list_gdbus_10000=c["ListBridgePorts_gdbus_ms"],
                      objects_10000=c.get("objects_first_ms", float("nan")),
                      rss_sync_10000=c["rss_sync_mb"], rss_objects_10000=c["rss_objects_mb"],
                      start_10000=c["start_s"], resync_10000=c["resync_s"])
    for c in counts:
        if "objects_error" in c:
            print("GetManagedObjects at %d ports failed: %s" % (c["ports"], c["objects_error"]))
    for c in counts:
        print("signals a subscriber saw at %d ports: %s" % (c["ports"], c.get("signals")))
    idle = results.get("idle")
    if idle:
        values["idle_cpu"] = idle["cpu_percent"]
        print("idle %.0f s with ovs-vswitchd and %d interfaces: ovsdbus %.2f%% of a core (ovs-vswitchd %.1f%%); "
              "signals per minute: %s" % (idle["seconds"], idle["interfaces"], idle["cpu_percent"],
                                          idle["vswitchd_cpu_percent"],
                                          {k: round(v, 1) for k, v in idle["signals_per_minute"].items()}))
    print("\ntargets:")
    for label, key, op, target in TARGETS:
        if key not in values:
            continue
        value = values[key]
        ok = value <= target if op == "<=" else value >= target
        print("  %-62s %10.3f %s %-6g %s" % (label, value, op, target, "met" if ok else "MISSED"))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--gio":
        gio_main(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--idl":
        idl_main(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(sys.argv[2:])
    else:
        main()
