"""OpenFlow flows through ovsdbus (org.openvswitch.ovsdb.Flows) next to ovs-ofctl.

In a sandbox (ovsdb-server, ovs-vswitchd with the dummy datapath, a private bus, ovsdbus), with a
txdbus client in this process:

1. ``AddFlows`` of 1, 100 and 10 000 flows in one call (one bundle), next to ``ovs-ofctl
   add-flow`` run once per flow and ``ovs-ofctl --bundle add-flows`` of the same flows from a file;
2. ``DumpFlows`` of 10 000 flows next to ``ovs-ofctl dump-flows``, and where the time goes: the
   ovs-ofctl run, the service parsing its text and encoding the reply, the txdbus client decoding
   it (each measured here, on the same text, with the service's own code), and the rest
   (dbus-daemon relaying the message, the reactors).

Each figure is the median of ``--repeat`` runs; the flow table is emptied between runs (not timed).
``ovs-ofctl add-flow`` per flow for 10 000 flows takes minutes: it is measured on ``--per-flow-max``
flows (default 1000) and scaled, which the output says.

Usage: ``python bench/flows.py [--repeat N] [--per-flow-max N]``.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from twisted.internet import defer, task  # noqa: E402
from txdbus import client as txdbus_client  # noqa: E402
from txdbus import message as txdbus_message  # noqa: E402

from ovsdbus.api import BUS_NAME, OBJECT_PATH  # noqa: E402
from ovsdbus.api.flows import FLOWS_INTERFACE  # noqa: E402
from ovsdbus.bus import wire as dbuswire  # noqa: E402
from ovsdbus.bus.flows import flow_value  # noqa: E402
from ovsdbus.openflow import flows as oftext  # noqa: E402
from ovsdbus.testing import sandbox  # noqa: E402

BRIDGE = "br0"
PATH = OBJECT_PATH + "/bridge/" + BRIDGE
COOKIE = 0x77


def flows(n):
    """``n`` distinct flows of cookie COOKIE (given by the option, as a caller would)."""
    return ["priority=%d,ip,nw_dst=10.%d.%d.%d,actions=drop" % (100 + i % 1000, i >> 16 & 255, i >> 8 & 255, i & 255)
            for i in range(n)]


class Bench:
    def __init__(self, stack, conn, repeat, per_flow_max):
        self.stack = stack
        self.conn = conn
        self.repeat = repeat
        self.per_flow_max = per_flow_max
        self.env = dict(os.environ, OVS_RUNDIR=str(stack.directory))
        self.target = "unix:%s/%s.mgmt" % (stack.directory, BRIDGE)

    def call(self, method, *args, timeout=600):
        signature = {"AddFlows": "asa{sv}", "DeleteFlows": "asa{sv}", "DumpFlows": "sa{sv}"}[method]
        return self.conn.callRemote(PATH, method, interface=FLOWS_INTERFACE, destination=BUS_NAME,
                                    signature=signature, body=list(args), timeout=timeout)

    def ofctl(self, *args, stdin=None):
        started = time.perf_counter()
        done = subprocess.run([sandbox.find_binary("ovs-ofctl"), "-O", "OpenFlow14", *args], input=stdin,
                              env=self.env, capture_output=True, text=True, check=True)
        return time.perf_counter() - started, done.stdout

    def clear(self):
        self.ofctl("del-flows", self.target, "cookie=%#x/-1" % COOKIE)

    @defer.inlineCallbacks
    def add_flows(self, n):
        samples = []
        for _ in range(self.repeat):
            self.clear()
            started = time.perf_counter()
            yield self.call("AddFlows", flows(n), {"cookie": COOKIE})
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    def ofctl_per_flow(self, n):
        measured = min(n, self.per_flow_max)
        samples = []
        for _ in range(self.repeat if measured <= 100 else 1):
            self.clear()
            total = 0.0
            for flow in flows(measured):
                total += self.ofctl("add-flow", self.target, "cookie=%#x,%s" % (COOKIE, flow))[0]
            samples.append(total * n / measured)
        return statistics.median(samples), measured != n

    def ofctl_bundle(self, n):
        samples = []
        with tempfile.NamedTemporaryFile("w", suffix=".flows") as f:
            f.write("".join("cookie=%#x,%s\n" % (COOKIE, flow) for flow in flows(n)))
            f.flush()
            for _ in range(self.repeat):
                self.clear()
                samples.append(self.ofctl("--bundle", "add-flows", self.target, f.name)[0])
        return statistics.median(samples)

    @defer.inlineCallbacks
    def dump(self, n):
        self.clear()
        yield self.call("AddFlows", flows(n), {"cookie": COOKIE})
        over_bus, by_ofctl, parsing, encoding, decoding = [], [], [], [], []
        for _ in range(self.repeat):
            started = time.perf_counter()
            result = yield self.call("DumpFlows", "", {})
            over_bus.append(time.perf_counter() - started)
            elapsed, text = self.ofctl("dump-flows", self.target)
            by_ofctl.append(elapsed)
            # The same steps the service and the client take, timed here on the same text.
            started = time.perf_counter()
            parsed = oftext.parse_dump_flows(text)
            parsing.append(time.perf_counter() - started)
            started = time.perf_counter()
            raw = dbuswire.method_return(2, 1, ":1.1", "aa{sv}", [[flow_value(f) for f in parsed]])
            encoding.append(time.perf_counter() - started)
            started = time.perf_counter()
            txdbus_message.parseMessage(raw, oobFDs=[])
            decoding.append(time.perf_counter() - started)
        assert len(result) >= n, len(result)
        return {"bus": statistics.median(over_bus), "ofctl": statistics.median(by_ofctl),
                "parse": statistics.median(parsing), "encode": statistics.median(encoding),
                "decode": statistics.median(decoding), "bytes": len(raw)}


def ms(seconds):
    return "%9.1f ms" % (seconds * 1000)


@defer.inlineCallbacks
def main(reactor, args):
    directory = tempfile.mkdtemp(prefix="ovsdbus-flows-")
    stack = sandbox.Sandbox(directory, vswitchd=True).start()
    try:
        stack.ovsdb.vsctl("add-br", BRIDGE)
        mgmt = Path(directory, BRIDGE + ".mgmt")
        while not mgmt.exists():
            yield task.deferLater(reactor, 0.05, lambda: None)
        conn = yield txdbus_client.connect(reactor, stack.dbus.address)
        while True:   # until the bridge's object shows the Flows interface
            try:
                yield conn.callRemote(PATH, "DumpFlows", interface=FLOWS_INTERFACE, destination=BUS_NAME,
                                      signature="sa{sv}", body=["", {}], timeout=10)
                break
            except Exception:
                yield task.deferLater(reactor, 0.1, lambda: None)
        bench = Bench(stack, conn, args.repeat, args.per_flow_max)
        print("AddFlows in one call (one bundle) vs ovs-ofctl; median of %d" % args.repeat)
        print("%7s %14s %22s %20s %8s %8s" % ("flows", "AddFlows", "ofctl add-flow each", "ofctl --bundle file",
                                             "vs each", "vs file"))
        for n in (1, 100, 10000):
            ours = yield bench.add_flows(n)
            each, scaled = bench.ofctl_per_flow(n)
            bundle = bench.ofctl_bundle(n)
            print("%7d %14s %20s%s %20s %7.2fx %7.2fx" % (n, ms(ours), ms(each), "*" if scaled else " ", ms(bundle),
                                                          ours / each, ours / bundle))
        print("  (* measured on %d flows and scaled; ratio < 1: ovsdbus is faster)" % args.per_flow_max)
        t = yield bench.dump(10000)
        print("DumpFlows of 10000 flows: %s; ovs-ofctl dump-flows %s (ratio %.2fx)"
              % (ms(t["bus"]), ms(t["ofctl"]), t["bus"] / t["ofctl"]))
        rest = t["bus"] - t["ofctl"] - t["parse"] - t["encode"] - t["decode"]
        print("  where the time goes: ovs-ofctl %s | service: parsing %s, a{sv} + D-Bus encoding %s (%d bytes) | "
              "txdbus client decoding %s | dbus-daemon and the rest %s"
              % (ms(t["ofctl"]), ms(t["parse"]), ms(t["encode"]), t["bytes"], ms(t["decode"]), ms(max(0.0, rest))))
        bench.clear()
    finally:
        stack.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-flow-max", type=int, default=1000)
    task.react(main, [parser.parse_args()])
