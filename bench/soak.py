"""Soak: ovsdbus under write churn, server restarts, server hangs and fuzzing, for a set time.

Starts a private ovsdb-server, dbus-daemon and ovsdbus (``ovsdbus.testing.sandbox``; the service with
``--timeout`` short enough that a hang shows as timeouts), then, concurrently, until the time
is up:

a. churn: ``--workers`` clients create bridges and ports with fresh names (CreateBridge,
   AddPort x2, BridgeExists, ListBridgePorts, DeletePort, DeleteBridge; a few bridges are kept
   for a while), checking that every read shows what that client's acknowledged writes did;
b. restarts: ovsdb-server is killed by its pid (SIGKILL and SIGTERM in turn) and started again
   on the same database file;
c. hangs: ovsdb-server is stopped with SIGSTOP for ``--hang`` seconds, then SIGCONT;
d. fuzzing: a client calls methods of the service, existing or not, with random arguments of
   the right and of wrong signatures.

Then it prints the outcome of every call per method (``ok`` or the D-Bus error name), latency
percentiles (p50, p99, max) per method, the service's RSS at the start, at most and at the end,
and checks the invariants:

- the service still runs, logged no traceback, and is Connected again;
- every call was answered (none left hanging), never with Error.Failed or
  org.txdbus.PythonException.*;
- every read a churn client made showed its own acknowledged writes (and not its acknowledged
  deletions);
- at the end, every bridge and port whose creation was acknowledged and whose deletion was not
  attempted is in the database (ovs-vsctl), every one whose deletion was acknowledged is not;
  and the service's ListBridges is the same as ovs-vsctl's list-br.

Exit status 0 when all invariants hold, 1 when one does not, 2 when the stack cannot start.

Usage: ``python bench/soak.py --seconds 60 [--seed N] [--workers 3] [--json FILE]``.
"""

import argparse
import collections
import json
import os
import random
import signal
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from twisted.internet import defer, reactor, task, threads  # noqa: E402
from txdbus import client as txdbus_client  # noqa: E402
from txdbus import error as txdbus_error  # noqa: E402

from ovsdbus.api import BUS_NAME, INTERFACE, OBJECT_PATH  # noqa: E402
from ovsdbus.testing.sandbox import Sandbox, SandboxError, missing_binaries, pid_alive, wait_until  # noqa: E402

PROPERTIES = "org.freedesktop.DBus.Properties"
FAILED = "org.openvswitch.ovsdb.Error.Failed"
NO_REPLY = "NoReply"

#: Errors after which a write may or may not have been done.
UNKNOWN_OUTCOME = {"org.openvswitch.ovsdb.Error.Timeout", "org.openvswitch.ovsdb.Error.Disconnected", NO_REPLY}

#: Churn names start with this; fuzzed names never do, so fuzzing cannot touch churn's rows.
CHURN_PREFIX = "ck"

#: Seconds a churn client pauses after a write with an unknown outcome (the service is reconnecting).
PAUSE_AFTER_DISCONNECTED = 0.1

#: Bridges a churn worker keeps at most before deleting the oldest it kept.
KEPT_PER_WORKER = 20

REQUIRED = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "dbus-daemon")


def percentile(samples, fraction):
    """The ``fraction`` percentile (nearest rank) of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def rss_kib(pid):
    """Resident set size of process ``pid`` in KiB (from /proc), or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def base36(n):
    """``n`` in base 36 (short fresh names)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        n, r = divmod(n, 36)
        text = digits[r] + text
        if not n:
            return text


class Record:
    """What happened: outcomes and latencies per method, invariant violations, chaos events."""

    def __init__(self):
        self.outcomes = collections.defaultdict(collections.Counter)
        self.latencies = collections.defaultdict(list)
        self.violations = []
        self.events = collections.Counter()
        self.rss = []

    def violation(self, text):
        """Note a broken invariant (the first 50 are kept in full)."""
        if len(self.violations) < 50:
            self.violations.append(text)
        else:
            self.events["violations not shown"] += 1


class Soak:
    """One soak run against a started :class:`~ovsdbus.testing.sandbox.Sandbox`."""

    def __init__(self, sandbox, options):
        self.sandbox = sandbox
        self.options = options
        self.random = random.Random(options.seed)
        self.record = Record()
        self.deadline = None
        self.call_timeout = options.timeout * 3 + 10
        self.stopped_pid = None
        # Churn bookkeeping: name -> "present" | "absent" | "unknown"; ports by bridge and back.
        self.bridges = {}
        self.ports = {}
        self.port_bridge = {}
        self.bridge_ports = collections.defaultdict(list)

    # -- calls -------------------------------------------------------------------

    @defer.inlineCallbacks
    def call(self, conn, method, signature, *args, interface=INTERFACE, path=OBJECT_PATH, label=None):
        """Call ``method``; return ``(outcome, result)``, outcome ``ok`` or the error's name."""
        label = label or method
        start = time.perf_counter()
        result = None
        try:
            result = yield conn.callRemote(path, method, interface=interface, destination=BUS_NAME,
                                           signature=signature or None, body=list(args) or None,
                                           timeout=self.call_timeout)
            outcome = "ok"
        except txdbus_error.RemoteError as e:
            outcome = e.errName
        except txdbus_error.TimeOut:
            outcome = NO_REPLY
        except (txdbus_error.MarshallingError, struct.error, TypeError, ValueError):
            # The client library cannot encode it, so nothing was sent.
            self.record.outcomes[label]["unsendable (client side)"] += 1
            return "unsendable", None
        self.record.latencies[label].append(time.perf_counter() - start)
        self.record.outcomes[label][outcome] += 1
        if outcome == NO_REPLY:
            self.record.violation("%s%r got no answer within %s s" % (method, tuple(args)[:3], self.call_timeout))
        elif outcome == FAILED or outcome.startswith("org.txdbus."):
            self.record.violation("%s%r answered %s" % (method, tuple(args)[:3], outcome))
        return outcome, result

    def running(self):
        return time.monotonic() < self.deadline

    # -- a: churn ----------------------------------------------------------------

    def _write_outcome(self, table, name, outcome, done):
        if outcome == "ok":
            table[name] = done
        elif outcome in UNKNOWN_OUTCOME:
            table[name] = "unknown"

    @defer.inlineCallbacks
    def churn(self, conn, worker):
        """Create, fill, read and delete bridges with fresh names until the time is up."""
        kept = collections.deque()
        n = 0
        while self.running():
            n += 1
            bridge = "%s%s%s" % (CHURN_PREFIX, base36(worker), base36(n))
            outcome, _ = yield self.call(conn, "CreateBridge", "s", bridge)
            self._write_outcome(self.bridges, bridge, outcome, "present")
            if outcome != "ok":
                if outcome in UNKNOWN_OUTCOME:
                    # Disconnected comes at once while the service reconnects: do not spin.
                    yield task.deferLater(reactor, PAUSE_AFTER_DISCONNECTED, lambda: None)
                continue
            ports = [bridge + "p0", bridge + "p1"]
            for port in ports:
                self.port_bridge[port] = bridge
                self.bridge_ports[bridge].append(port)
                outcome, _ = yield self.call(conn, "AddPort", "ss", bridge, port)
                self._write_outcome(self.ports, port, outcome, "present")
            yield self.check_reads(conn, bridge)
            outcome, _ = yield self.call(conn, "DeletePort", "ss", bridge, ports[0])
            self._write_outcome(self.ports, ports[0], outcome, "absent")
            yield self.check_reads(conn, bridge)
            if self.random.random() < 0.2:
                kept.append(bridge)
                if len(kept) <= KEPT_PER_WORKER:
                    continue
                bridge = kept.popleft()
            outcome, _ = yield self.call(conn, "DeleteBridge", "s", bridge)
            self._write_outcome(self.bridges, bridge, outcome, "absent")
            if outcome == "ok":
                for port in self.bridge_ports[bridge]:
                    if self.ports.get(port) == "present":
                        self.ports[port] = "absent"
            yield self.check_reads(conn, bridge)

    @defer.inlineCallbacks
    def check_reads(self, conn, bridge):
        """BridgeExists and ListBridgePorts of ``bridge`` agree with this client's acknowledged writes."""
        state = self.bridges.get(bridge)
        outcome, exists = yield self.call(conn, "BridgeExists", "s", bridge)
        if outcome == "ok" and state in ("present", "absent") and exists != (state == "present"):
            self.record.violation("BridgeExists(%s) is %r after its %s was acknowledged"
                                  % (bridge, exists, "creation" if state == "present" else "deletion"))
        if state != "present":
            return
        outcome, listed = yield self.call(conn, "ListBridgePorts", "s", bridge)
        if outcome != "ok":
            return
        for port in self.bridge_ports[bridge]:
            if self.ports.get(port) == "present" and port not in listed:
                self.record.violation("ListBridgePorts(%s) lacks %s, whose AddPort was acknowledged" % (bridge, port))
            if self.ports.get(port) == "absent" and port in listed:
                self.record.violation("ListBridgePorts(%s) has %s, whose DeletePort was acknowledged" % (bridge, port))

    # -- b, c: restarts and hangs ------------------------------------------------

    def _kill_and_start(self, signum):
        ovsdb = self.sandbox.ovsdb
        pid = ovsdb.pid
        os.kill(pid, signum)
        wait_until(lambda: not pid_alive(pid), 15, "ovsdb-server (pid %d) to exit" % pid)
        ovsdb.pid = None
        ovsdb.start()

    @defer.inlineCallbacks
    def chaos(self):
        """Restart and hang ovsdb-server in turn, every ``--interval`` seconds."""
        interval = self.options.interval
        kinds = ["kill", "hang", "term", "hang"]
        i = 0
        yield task.deferLater(reactor, min(interval / 2, 2.0), lambda: None)
        while time.monotonic() + self.options.hang < self.deadline:
            kind = kinds[i % len(kinds)]
            i += 1
            if kind == "hang":
                pid = self.sandbox.ovsdb.pid
                os.kill(pid, signal.SIGSTOP)
                self.stopped_pid = pid
                self.record.events["hangs"] += 1
                yield task.deferLater(reactor, self.options.hang, lambda: None)
                self.resume()
            else:
                self.record.events["restarts (SIG%s)" % kind.upper()] += 1
                try:
                    yield threads.deferToThread(self._kill_and_start,
                                                signal.SIGKILL if kind == "kill" else signal.SIGTERM)
                except SandboxError as e:
                    self.record.violation("ovsdb-server did not restart: %s" % e)
                    return
            yield task.deferLater(reactor, interval, lambda: None)

    def resume(self):
        """SIGCONT ovsdb-server if a hang stopped it."""
        pid, self.stopped_pid = self.stopped_pid, None
        if pid is not None:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    # -- d: fuzzing --------------------------------------------------------------

    def fuzz_text(self):
        r = self.random
        choice = r.random()
        if choice < 0.3:
            text = r.choice(["", "t\u00e0", "t\u2020", "a/b", "a:b", "br%d", ".", "..", "x" * 16, "\u00e9" * 8,
                             "a b", "tab\t", "nl\n", "\x01", "\x7f", "\u2028", "\U0001f600", "x" * 2000,
                             "\ufffd", "br-none"])
        elif choice < 0.6:
            text = "".join(chr(r.choice([r.randint(0x20, 0x7e), r.randint(0xa0, 0xd7ff), r.randint(0xe000, 0x10ffff)]))
                           for _ in range(r.randint(1, 20)))
        else:
            text = "fz" + base36(r.getrandbits(32))
        return "fz" + text if text.startswith(CHURN_PREFIX) else text

    def fuzz_value(self, sig):
        r = self.random
        if sig == "s":
            return self.fuzz_text()
        if sig in "iux":
            return r.randint(0, 2 ** 31 - 1)
        if sig == "b":
            return r.random() < 0.5
        if sig == "d":
            return r.uniform(-1e9, 1e9)
        if sig == "o":
            return "/" + "/".join("e%d" % r.randint(0, 9) for _ in range(r.randint(0, 3))) if r.random() < 0.7 else "/"
        if sig == "as":
            return [self.fuzz_text() for _ in range(r.randint(0, 3))]
        if sig == "a{ss}":
            return {self.fuzz_text(): self.fuzz_text() for _ in range(r.randint(0, 3))}
        if sig == "v":
            return self.fuzz_text()
        raise ValueError(sig)

    @defer.inlineCallbacks
    def fuzz(self, conn):
        """Random calls: API methods with their own or other signatures, Properties, unknown members."""
        r = self.random
        methods = {"CreateBridge": "s", "DeleteBridge": "s", "AddPort": "ss", "DeletePort": "ss",
                   "BridgeExists": "s", "ListBridges": "", "ListBridgePorts": "s"}
        signatures = ["", "s", "ss", "sss", "i", "b", "as", "a{ss}", "o", "v", "si", "d", "x", "u"]
        while self.running():
            kind = r.random()
            interface, path = INTERFACE, OBJECT_PATH
            if kind < 0.6:
                method = r.choice(sorted(methods))
                signature = methods[method] if r.random() < 0.6 else r.choice(signatures)
            elif kind < 0.8:
                interface = PROPERTIES
                method = r.choice(["Get", "GetAll", "Set"])
                signature = {"Get": "ss", "GetAll": "s", "Set": "ssv"}[method] if r.random() < 0.7 \
                    else r.choice(signatures)
            else:
                method = r.choice(["Frobnicate", "createbridge", "CreateBridge", "Ping", "Introspect"])
                interface = r.choice([INTERFACE, None, "org.example.Nothing", "org.freedesktop.DBus.Peer"])
                path = r.choice([OBJECT_PATH, "/", "/org/openvswitch/ovsdb/bridge/nothing"])
                signature = r.choice(signatures)
            args = [self.fuzz_value(t) for t in _split(signature)]
            if interface == PROPERTIES and signature[:1] == "s" and r.random() < 0.7:
                args[0] = INTERFACE
            outcome, _ = yield self.call(conn, method, signature, *args, interface=interface, path=path,
                                         label="fuzz")
            if outcome in UNKNOWN_OUTCOME:
                yield task.deferLater(reactor, PAUSE_AFTER_DISCONNECTED, lambda: None)
            # Undo what a fuzzed call happened to create, so the database stays small.
            if outcome == "ok" and method == "CreateBridge" and signature == "s" and interface == INTERFACE:
                yield self.call(conn, "DeleteBridge", "s", args[0], label="fuzz")
            elif outcome == "ok" and method == "AddPort" and signature == "ss" and interface == INTERFACE:
                yield self.call(conn, "DeletePort", "ss", args[0], args[1], label="fuzz")

    # -- the run -----------------------------------------------------------------

    @defer.inlineCallbacks
    def sample_rss(self):
        """The service's RSS once a second (to tell a leak from a warm-up)."""
        while self.running():
            value = rss_kib(self.sandbox.service.pid)
            if value is not None:
                self.record.rss.append(value)
            yield task.deferLater(reactor, 1.0, lambda: None)

    @defer.inlineCallbacks
    def run(self):
        """Run everything until ``--seconds`` have passed, then check the end state."""
        bus = self.sandbox.dbus.address
        service_pid = self.sandbox.service.pid
        self.record.rss.append(rss_kib(service_pid))
        connections = []
        for _ in range(self.options.workers + 1):
            connections.append((yield txdbus_client.connect(reactor, bus)))
        self.deadline = time.monotonic() + self.options.seconds
        started = time.monotonic()
        try:
            jobs = [self.churn(conn, i) for i, conn in enumerate(connections[:-1])]
            jobs += [self.fuzz(connections[-1]), self.chaos(), self.sample_rss()]
            results = yield defer.DeferredList(jobs, consumeErrors=True)
            for ok, value in results:
                if not ok:
                    self.record.violation("a soak job failed: %s" % value.getTraceback())
        finally:
            self.resume()
        self.record.events["seconds run"] = round(time.monotonic() - started, 1)
        yield self.check_end(connections[0])
        for conn in connections:
            conn.disconnect()

    @defer.inlineCallbacks
    def check_end(self, conn):
        """The invariants of the end state (see the module docstring)."""
        sandbox = self.sandbox
        if not sandbox.ovsdb.running:
            self.record.violation("ovsdb-server is not running at the end")
            return
        connected = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            outcome, connected = yield self.call(conn, "Get", "ss", INTERFACE, "Connected", interface=PROPERTIES,
                                                 label="end: Get Connected")
            if outcome == "ok" and connected is True:
                break
            yield task.deferLater(reactor, 0.2, lambda: None)
        if connected is not True:
            self.record.violation("the service is not Connected 30 s after the end (last: %r)" % (connected,))
        self.record.rss.append(rss_kib(sandbox.service.pid))
        if not sandbox.service.running:
            self.record.violation("the service exited (status %r)" % sandbox.service.process.returncode)
            return
        bridges = set((yield threads.deferToThread(sandbox.ovsdb.vsctl, "list-br")).split())
        ports_text = yield threads.deferToThread(sandbox.ovsdb.vsctl, "--bare", "--columns=name", "list", "Port")
        ports = set(ports_text.split())
        for name, state in sorted(self.bridges.items()):
            if state == "present" and name not in bridges:
                self.record.violation("bridge %s: created (acknowledged), never deleted, not in the database" % name)
            if state == "absent" and name in bridges:
                self.record.violation("bridge %s: deletion acknowledged, still in the database" % name)
        for name, state in sorted(self.ports.items()):
            bridge_state = self.bridges.get(self.port_bridge[name])
            if state == "present" and bridge_state == "present" and name not in ports:
                self.record.violation("port %s: added (acknowledged), never deleted, not in the database" % name)
            if (state == "absent" or bridge_state == "absent") and name in ports:
                self.record.violation("port %s: deletion acknowledged, still in the database" % name)
        outcome, listed = yield self.call(conn, "ListBridges", "", label="end: ListBridges")
        if outcome != "ok" or set(listed) != bridges:
            self.record.violation("the service's ListBridges (%s) differs from ovs-vsctl list-br: %s"
                                  % (outcome, sorted(set(listed or ()) ^ bridges)[:10]))
        found = _tracebacks(sandbox.service.log_file)
        if found:
            self.record.violation("the service logged a traceback:\n" + found)

    # -- report ------------------------------------------------------------------

    def summary(self):
        """The figures, as a JSON-able dict."""
        rec = self.record
        rss = [v for v in rec.rss if v is not None]
        latency = {}
        for label, samples in sorted(rec.latencies.items()):
            latency[label] = {"n": len(samples), "p50_ms": round(percentile(samples, 0.5) * 1000, 2),
                              "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
                              "max_ms": round(max(samples) * 1000, 2)}
        return {
            "seconds": self.options.seconds, "seed": self.options.seed, "workers": self.options.workers,
            "service_timeout": self.options.timeout, "hang_seconds": self.options.hang,
            "events": dict(rec.events),
            "outcomes": {label: dict(c) for label, c in sorted(rec.outcomes.items())},
            "latency": latency,
            "rss_kib": {"start": rss[0] if rss else None, "max": max(rss) if rss else None,
                        "quartiles": [rss[len(rss) * q // 4] for q in (1, 2, 3)] if rss else [],
                        "end": rss[-1] if rss else None},
            "bridges": collections.Counter(self.bridges.values()),
            "ports": collections.Counter(self.ports.values()),
            "violations": rec.violations,
        }


def _split(signature):
    """The complete types of the few signatures the fuzzer uses."""
    types, i = [], 0
    while i < len(signature):
        for t in ("a{ss}", "as"):
            if signature.startswith(t, i):
                types.append(t)
                i += len(t)
                break
        else:
            types.append(signature[i])
            i += 1
    return types


def _tracebacks(log_file):
    try:
        text = Path(log_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = text.splitlines()
    found = [i for i, line in enumerate(lines) if "Traceback (most recent call last)" in line
             or "Unhandled Error" in line or "Unhandled error in Deferred" in line]
    return "\n".join(lines[max(0, found[0] - 3):found[0] + 30]) if found else ""


def print_summary(s, out=sys.stdout):
    """Print the figures for people."""
    w = out.write
    w("soak: %s s (seed %s), %d churn clients + 1 fuzzer, service --timeout %s, hangs of %s s\n"
      % (s["seconds"], s["seed"], s["workers"], s["service_timeout"], s["hang_seconds"]))
    w("events: %s\n" % ", ".join("%s %s" % (k, v) for k, v in sorted(s["events"].items())))
    w("outcomes:\n")
    for label, counts in s["outcomes"].items():
        short = ", ".join("%s %d" % (name.rsplit(".", 1)[-1], n) for name, n in sorted(counts.items(),
                                                                                       key=lambda kv: -kv[1]))
        w("  %-22s %s\n" % (label, short))
    w("latency (ms):            %7s %9s %9s %9s\n" % ("n", "p50", "p99", "max"))
    for label, v in s["latency"].items():
        w("  %-22s %7d %9.2f %9.2f %9.2f\n" % (label, v["n"], v["p50_ms"], v["p99_ms"], v["max_ms"]))
    r = s["rss_kib"]
    w("service RSS (KiB): start %s, at 1/4 1/2 3/4 of the run %s, end %s, max %s\n"
      % (r["start"], " ".join(map(str, r["quartiles"])), r["end"], r["max"]))
    w("churn rows at the end: bridges %s, ports %s\n" % (dict(s["bridges"]), dict(s["ports"])))
    if s["violations"]:
        w("INVARIANTS BROKEN (%d):\n" % len(s["violations"]))
        for v in s["violations"]:
            w("  - %s\n" % v)
    else:
        w("invariants: all hold\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python bench/soak.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock)")
    parser.add_argument("--workers", type=int, default=3, help="concurrent churn clients (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="the service's --timeout, seconds (default: %(default)s)")
    parser.add_argument("--hang", type=float, default=3.0,
                        help="seconds ovsdb-server stays SIGSTOPped per hang (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=None,
                        help="seconds between restarts and hangs (default: a quarter of --seconds, 2 to 15)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the sandbox directory (logs) afterwards")
    options = parser.parse_args(argv)
    if options.seed is None:
        options.seed = int(time.time())
    if options.interval is None:
        options.interval = max(2.0, min(15.0, options.seconds / 4))
    missing = missing_binaries(*REQUIRED)
    if missing:
        print("soak: not installed: %s (./dev installs them)" % ", ".join(missing), file=sys.stderr)
        return 2
    sandbox = Sandbox(vswitchd=False, keep=options.keep,
                      service_args=["--timeout", str(options.timeout)])
    try:
        sandbox.start()
    except SandboxError as e:
        print("soak: cannot start the sandbox: %s" % e, file=sys.stderr)
        return 2
    soak = Soak(sandbox, options)
    failure = []
    try:
        def done(result):
            if reactor.running:
                reactor.stop()
            return result

        def crashed(f):
            failure.append(f.getTraceback())

        reactor.callWhenRunning(lambda: soak.run().addErrback(crashed).addBoth(done))
        reactor.run()
    finally:
        soak.resume()
        try:
            sandbox.stop()
        except SandboxError as e:
            failure.append("stopping the sandbox: %s" % e)
    if failure:
        soak.record.violation("the soak itself failed: %s" % "\n".join(failure))
    summary = soak.summary()
    print_summary(summary)
    if options.keep:
        print("sandbox kept in %s" % sandbox.directory)
    if options.json:
        with open(options.json, "w") as f:
            json.dump(summary, f, indent=2, default=dict)
    return 1 if summary["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
