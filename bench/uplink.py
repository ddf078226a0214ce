"""One "server uplink" configured in one call: ovsdbus next to ovs-vsctl, with and without waiting for ovs-vswitchd.

The configuration: bridge ``upl0`` (``datapath_type=netdev``), an LACP bond ``bond0`` of two
interfaces (balance-tcp, lacp active, lacp-time fast), three access ports on VLANs 10, 20 and 30,
and a VXLAN tunnel (``remote_ip=192.0.2.1``, ``key=100``).  On one sandbox with a real
ovs-vswitchd (dummy datapath: the interfaces are in-memory dummies), each way of making it is
timed over ``--runs`` runs (median), the bridge being deleted between runs (untimed, waiting for
ovs-vswitchd):

- ovsdbus: one ``org.openvswitch.ovsdb.Database.Transact`` of CreateBridge, SetBridgeOptions,
  AddBond, 3 x (AddPort + SetPortVlan), AddTunnel, through a txdbus client in its own process;
  options ``{}`` (returns at commit) and ``{"wait": "applied"}``;
- one ``ovs-vsctl`` invocation chaining the same 8 commands with ``--``, with ``--no-wait`` and
  without (ovs-vsctl then waits for ovs-vswitchd);
- the 8 commands as 8 separate ``ovs-vsctl`` runs, with ``--no-wait`` and without.

Where the time goes when waiting: the client process also holds its own OVSDB monitor of
``Open_vSwitch.cur_cfg``/``next_cfg`` and the bridges' names, and timestamps, on the same clock as
the call, when the commit shows (the bridge appears) and when ``cur_cfg`` reaches ``next_cfg``
(ovs-vswitchd has reconfigured).  ovs-vsctl runs are spawned from that process too.

Usage: ``./dev bench --uplink`` (or ``python bench/uplink.py [--runs N] [--json FILE]``).
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

sys.path.insert(0, str(HERE))

from harness import run_client_process, run_client_with  # noqa: E402

from ovsdbus.testing.sandbox import Sandbox, find_binary  # noqa: E402

BRIDGE = "upl0"
VLANS = (10, 20, 30)

#: Speedup of one Transact over one chained ovs-vsctl, both returning at commit (issue #10).
TARGET_SPEEDUP = 5.0

#: The ways of making the uplink, in report order: (key, label).
MODES = (
    ("transact", "ovsdbus: one Transact"),
    ("vsctl_chained", "ovs-vsctl: one chained run"),
    ("vsctl_separate", "ovs-vsctl: %d separate runs"),
)


def vsctl_commands():
    """The uplink as ovs-vsctl commands, each a list of arguments."""
    commands = [
        ["add-br", BRIDGE],
        ["set", "Bridge", BRIDGE, "datapath_type=netdev"],
        ["add-bond", BRIDGE, "bond0", "eth0", "eth1", "bond_mode=balance-tcp", "lacp=active",
         "other_config:lacp-time=fast"],
    ]
    commands += [["add-port", BRIDGE, "vlan%d" % vlan, "tag=%d" % vlan, "vlan_mode=access"] for vlan in VLANS]
    commands += [["add-port", BRIDGE, "vx0"],
                 ["set", "Interface", "vx0", "type=vxlan", "options:remote_ip=192.0.2.1", "options:key=100"]]
    return commands


# -- the client process ------------------------------------------------------------------------

def typed(signature, value):
    """``value`` sent inside a variant as ``signature`` (txdbus would guess otherwise)."""
    return type("Typed", (type(value),), {"dbusSignature": signature})(value)


def transact_commands():
    """The uplink as ``Transact`` commands."""
    def opts(**values):
        return typed("a{sv}", values)
    commands = [
        ("CreateBridge", {"name": BRIDGE}),
        ("SetBridgeOptions", {"bridge": BRIDGE, "options": opts(datapath_type="netdev")}),
        ("AddBond", {"bridge": BRIDGE, "port": "bond0", "interfaces": ["eth0", "eth1"],
                     "options": opts(bond_mode="balance-tcp", lacp="active",
                                     other_config=typed("a{ss}", {"lacp-time": "fast"}))}),
    ]
    for vlan in VLANS:
        commands += [("AddPort", {"bridge": BRIDGE, "port": "vlan%d" % vlan}),
                     ("SetPortVlan", {"port": "vlan%d" % vlan, "mode": "access", "tag": typed("x", vlan),
                                      "trunks": typed("ax", [])})]
    commands.append(("AddTunnel", {"bridge": BRIDGE, "port": "vx0", "type": "vxlan", "remote_ip": "192.0.2.1",
                                   "options": opts(key="100")}))
    return commands


class Watcher:
    """An OVSDB monitor's callback that timestamps, for one run at a time, when the bridge appears
    (the commit; the first one for separate runs) and the last time ``cur_cfg`` caught up with
    ``next_cfg`` after that (ovs-vswitchd has applied everything asked for)."""

    def __init__(self, clock):
        self.clock = clock
        self.cfg = {}
        self.commit_at = self.applied_at = None

    def arm(self):
        """Forget the previous run's timestamps."""
        self.commit_at = self.applied_at = None

    @staticmethod
    def _row(change):
        """``(kind, columns)`` of one row's change in an update (format 1 or 2)."""
        for kind in ("initial", "insert", "modify", "new"):
            if isinstance(change.get(kind), dict):
                return kind, change[kind]
        return None, {}

    def on_update(self, monitor_id, updates, version, last_txn_id):
        now = self.clock()
        for change in updates.get("Bridge", {}).values():
            kind, row = self._row(change)
            inserted = kind in ("initial", "insert") or (kind == "new" and "old" not in change)
            if inserted and row.get("name") == BRIDGE and self.commit_at is None:
                self.commit_at = now
        for change in updates.get("Open_vSwitch", {}).values():
            _, row = self._row(change)
            self.cfg.update({k: v for k, v in row.items() if k in ("cur_cfg", "next_cfg")})
        if self.commit_at is not None and self.cfg.get("cur_cfg") == self.cfg.get("next_cfg"):
            if "Open_vSwitch" in updates:
                self.applied_at = now


def scenario_uplink():
    """``uplink RUNS OVSDB_SOCKET DB_REMOTE`` for bench/client.py: every mode, RUNS times each."""
    from twisted.internet import defer, reactor, task, threads
    from twisted.internet.endpoints import UNIXClientEndpoint, connectProtocol

    from ovsdbus.api import DATABASE_INTERFACE
    from ovsdbus.ovsdb.client import OvsdbClientProtocol

    clock = time.perf_counter
    vsctl = find_binary("ovs-vsctl")

    @defer.inlineCallbacks
    def scenario(bus, obj, runs, socket_path, db_remote):
        runs = int(runs)
        watcher = Watcher(clock)
        ovsdb = OvsdbClientProtocol(reactor)
        yield connectProtocol(UNIXClientEndpoint(reactor, socket_path), ovsdb)
        ovsdb.on_update = watcher.on_update
        started = yield ovsdb.monitor_best("Open_vSwitch", "uplink",
                                           {"Open_vSwitch": ["cur_cfg", "next_cfg"], "Bridge": ["name"]})
        watcher.on_update("uplink", started.initial, started.version, None)

        @defer.inlineCallbacks
        def run_vsctl(wait, *commands):
            argv = ["--db=" + db_remote, "--timeout=30"] + ([] if wait else ["--no-wait"])
            for command in commands:
                argv += ["--", *command]
            # subprocess.run (vfork + exec) in a thread: the reactor keeps receiving the monitor's
            # updates, and ovs-vsctl starts as fast as from a plain script (Twisted's spawnProcess
            # forks the whole interpreter and closes every descriptor: some ms slower).
            done = yield threads.deferToThread(subprocess.run, [vsctl, *argv], capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError("ovs-vsctl %s failed: %s" % (" ".join(argv), done.stderr))

        def transact(wait):
            return obj.callRemote("Transact", transact_commands(), {"wait": "applied"} if wait else {},
                                  interface=DATABASE_INTERFACE)

        def chained(wait):
            return run_vsctl(wait, *vsctl_commands())

        @defer.inlineCallbacks
        def separate(wait):
            for command in vsctl_commands():
                yield run_vsctl(wait, command)

        modes = [(key + ("_wait" if wait else ""), make, wait)
                 for key, make in (("transact", transact), ("vsctl_chained", chained), ("vsctl_separate", separate))
                 for wait in (False, True)]
        results = {mode: {"total": [], "commit": [], "applied": []} for mode, _, _ in modes}
        # Round robin: each run makes the uplink once in every mode, so that the load of the machine
        # changing over time weighs on all modes alike.
        for _ in range(runs):
            for mode, make, wait in modes:
                samples = results[mode]
                watcher.arm()
                start = clock()
                yield make(wait)
                end = clock()
                samples["total"].append(end - start)
                if watcher.commit_at is not None:
                    samples["commit"].append(watcher.commit_at - start)
                if wait:
                    # The monitor's copy of the cur_cfg update may be read just after the reply.
                    deadline = clock() + 5
                    while watcher.applied_at is None and clock() < deadline:
                        yield task.deferLater(reactor, 0.001, lambda: None)
                    if watcher.applied_at is None:
                        raise RuntimeError("%s returned, but cur_cfg never reached next_cfg" % mode)
                    samples["applied"].append(watcher.applied_at - start)
                # Untimed: remove the uplink and let ovs-vswitchd settle.
                yield run_vsctl(True, ["del-br", BRIDGE])
        ovsdb.disconnect()
        return results
    return scenario


def client_main(argv):
    """Run bench/client.py with the uplink scenario added."""
    run_client_with("uplink", scenario_uplink(), argv)


# -- the driver --------------------------------------------------------------------------------

def run_uplink_client(bus, *args):
    return run_client_process("uplink.py", "--client", bus, *args, timeout=1800)


def ms(samples):
    """Median of ``samples`` (seconds) in ms; None for no samples."""
    return statistics.median(samples) * 1000.0 if samples else None


def summarize(raw):
    """``{mode: {total_ms, commit_ms, applied_ms}}`` medians from the client's samples."""
    return {mode: {"total_ms": ms(s["total"]), "commit_ms": ms(s["commit"]), "applied_ms": ms(s["applied"]),
                   "runs": len(s["total"])}
            for mode, s in raw.items()}


def print_report(summary, runs):
    separate = len(vsctl_commands())
    labels = {key: label % separate if "%d" in label else label for key, label in MODES}
    print("The server uplink (bridge + LACP bond of 2 interfaces + 3 VLAN access ports + VXLAN tunnel),")
    print("median of %d runs each, real ovs-vswitchd (dummy datapath); speedup = ovs-vsctl / ovsdbus." % runs)
    print()
    print("Returning at commit (ovsdbus: Transact options {}; ovs-vsctl --no-wait):")
    print("  %-30s %12s %14s %9s" % ("", "returned", "commit seen", "speedup"))
    ours = summary["transact"]["total_ms"]
    for key, label in labels.items():
        s = summary[key]
        print("  %-30s %9.2f ms %11.2f ms %8.1fx" % (label, s["total_ms"], s["commit_ms"], s["total_ms"] / ours))
    print()
    print("Waiting for ovs-vswitchd (ovsdbus: wait=applied; ovs-vsctl without --no-wait), ms from the start:")
    print("  %-30s %12s %15s %12s %9s   %s" % ("", "commit seen", "cur_cfg reached", "returned", "speedup",
                                               "(ovs-vswitchd: commit -> cur_cfg; after cur_cfg)"))
    ours = summary["transact_wait"]["total_ms"]
    for key, label in labels.items():
        s = summary[key + "_wait"]
        if key == "vsctl_separate":   # 8 commits and 8 reconfigurations: only the total means something
            print("  %-30s %12s %15s %9.2f ms %8.1fx" % (label, "-", "-", s["total_ms"], s["total_ms"] / ours))
            continue
        commit, applied, total = s["commit_ms"], s["applied_ms"], s["total_ms"]
        print("  %-30s %9.2f ms %12.2f ms %9.2f ms %8.1fx   (%.2f ms = %.0f%%; %.2f ms)"
              % (label, commit, applied, total, total / ours, applied - commit, (applied - commit) / total * 100,
                 total - applied))
    speedup = summary["vsctl_chained"]["total_ms"] / summary["transact"]["total_ms"]
    print()
    print("target: one Transact >= %gx faster than one chained ovs-vsctl --no-wait: %.1fx %s"
          % (TARGET_SPEEDUP, speedup, "met" if speedup >= TARGET_SPEEDUP else "MISSED"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each mode (median)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--ports", type=int, default=0,
                        help="ports on another bridge already (a switch in use: ovs-vsctl reads the whole database)")
    args = parser.parse_args(argv)
    with Sandbox(vswitchd=True) as sandbox:
        if args.ports:
            fill = ["--", "add-br", "fill"]
            for i in range(args.ports):
                fill += ["--", "add-port", "fill", "f%d" % i]
            subprocess.run(["ovs-vsctl", "--db=" + sandbox.ovsdb.remote, "--timeout=120", "--no-wait"] + fill,
                           check=True, capture_output=True)
        # ovs-vswitchd has taken the initial configuration once a waiting ovs-vsctl returns.
        subprocess.run(["ovs-vsctl", "--db=" + sandbox.ovsdb.remote, "--timeout=120", "set", "Open_vSwitch", ".",
                        "external_ids:bench=uplink"], check=True, capture_output=True)
        raw = run_uplink_client(sandbox.dbus.address, "uplink", args.runs, sandbox.ovsdb.socket_path,
                                sandbox.ovsdb.remote)
        summary = summarize(raw)
    if args.ports:
        print("With %d ports on another bridge." % args.ports)
    print_report(summary, args.runs)
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": args.runs, "summary": summary, "samples": raw}, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(sys.argv[2:])
    else:
        main()
