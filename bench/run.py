"""ovsdbus against ovs-vsctl, side by side, on one sandbox in one run.

Starts a private ovsdb-server, dbus-daemon and ovsdbus (``ovsdbus.testing.sandbox``), then measures:

1. median latency of AddPort, BridgeExists and ListBridgePorts through D-Bus (a txdbus client in
   its own process) on a bridge with 0 and with 1000 ports, next to ``ovs-vsctl --no-wait
   add-port / br-exists / list-ports`` on the same server, with their ratios;
2. how many requests ovsdb-server received while ovsdbus answered the BridgeExists and
   ListBridgePorts calls (from ovsdb-server's own jsonrpc debug log);
3. latency from a raw OVSDB insert of a port to the PortAdded signal in a subscriber process,
   median and p99;
4. GetManagedObjects with the 1000-port bridge in the database;
5. with that bridge in the database: Get (one port's tag) and Find (a port by name) through
   org.openvswitch.ovsdb.Database next to ``ovs-vsctl get`` / ``ovs-vsctl find``; and adding 100
   ports to a bridge as one Transact of 100 AddPort commands, next to one ovs-vsctl invocation
   chaining 100 ``add-port`` with ``--``, and next to 100 AddPort calls.

Usage: ``./dev bench`` (or ``python bench/run.py [--calls N] [--signals N] [--json FILE]``).
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

from harness import run_client_process  # noqa: E402

from ovsdbus.testing.sandbox import Sandbox  # noqa: E402

TARGETS = {
    "AddPort median at 0 ports (ms)": 0.5,
    "AddPort speedup over ovs-vsctl at 0 ports": 8.0,
    "ListBridgePorts median at 1000 ports (ms)": 1.0,
    "PortAdded signal median (ms)": 1.0,
    "PortAdded signal p99 (ms)": 5.0,
    "Get speedup over ovs-vsctl get at 1000 ports": 20.0,
    "Transact of 100 AddPort speedup over one chained ovs-vsctl": 5.0,
}


def ms(seconds):
    return seconds * 1000.0


def median(samples):
    return statistics.median(samples)


def p99(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def run_client(bus, *args):
    return run_client_process("client.py", bus, *args)


def time_vsctl(sandbox, n, args_of):
    """Median seconds of ``ovs-vsctl --no-wait`` over ``n`` runs; ``args_of(i)`` gives its arguments."""
    db = "--db=" + sandbox.ovsdb.remote
    samples = []
    for i in range(n):
        argv = ["ovs-vsctl", db, "--no-wait", *args_of(i)]
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return median(samples)


def vsctl_add_port(sandbox, bridge, n):
    samples = []
    db = "--db=" + sandbox.ovsdb.remote
    for i in range(n):
        port = "vq%d" % i
        start = time.perf_counter()
        subprocess.run(["ovs-vsctl", db, "--no-wait", "add-port", bridge, port], check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
        subprocess.run(["ovs-vsctl", db, "--no-wait", "del-port", bridge, port], check=True, capture_output=True)
    return median(samples)


def measure_generic(sandbox, bus, bridge, n, ports):
    """Get and Find through ovsdbus next to ovs-vsctl get/find, on ports p0.. of ``bridge``."""
    ours = run_client(bus, "generic", bridge, n)
    theirs = {
        "Get": time_vsctl(sandbox, n, lambda i: ["get", "Port", "p%d" % (i % ports), "tag"]),
        "Find": time_vsctl(sandbox, n, lambda i: ["--bare", "--columns=name", "find", "Port",
                                                  "name=p%d" % (i % ports)]),
    }
    gdbus = run_gdbus_client(bus, bridge, n, "generic")
    rows = []
    for method, vsctl in (("Get", "get Port P tag"), ("Find", "find Port name=P")):
        m = median(ours[method])
        row = {"method": method, "ovsdbus_ms": ms(m), "vsctl_command": vsctl,
               "vsctl_ms": ms(theirs[method]), "speedup": theirs[method] / m}
        if gdbus is not None:
            row["gdbus_ms"] = ms(median(gdbus[method]))
            row["gdbus_speedup"] = theirs[method] / median(gdbus[method])
        rows.append(row)
    return rows


def measure_batch(sandbox, bus, bridge, repeats, size):
    """SIZE ports added in one Transact, in SIZE AddPort calls, and by one chained ovs-vsctl."""
    ours = run_client(bus, "batch", bridge, repeats, size)
    db = "--db=" + sandbox.ovsdb.remote
    chained = []
    for _ in range(repeats):
        argv = ["ovs-vsctl", db, "--no-wait", "add-port", bridge, "c0"]
        for i in range(1, size):
            argv += ["--", "add-port", bridge, "c%d" % i]
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        chained.append(time.perf_counter() - start)
        sandbox.ovsdb.vsctl("del-br", bridge, "--", "add-br", bridge)
    vsctl = median(chained)
    return {"size": size, "repeats": repeats, "transact_ms": ms(median(ours["Transact"])),
            "addport_calls_ms": ms(median(ours["AddPorts"])), "vsctl_chained_ms": ms(vsctl),
            "speedup_over_vsctl": vsctl / median(ours["Transact"]),
            "speedup_over_calls": median(ours["AddPorts"]) / median(ours["Transact"])}


def ovsdb_requests(sandbox):
    """Requests ovsdb-server has logged so far (its jsonrpc module at debug level)."""
    log = Path(sandbox.ovsdb.log_file).read_text(errors="replace")
    return log.count("received request")


SYSTEM_PYTHON = "/usr/bin/python3"


def run_gdbus_client(bus, bridge, n, *scenario):
    """The same calls through GDBus (C), with Debian's python3-gi; None if that is not installed."""
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "from gi.repository import Gio"], capture_output=True)
    if probe.returncode != 0:
        return None
    out = subprocess.run([SYSTEM_PYTHON, str(HERE / "gdbus_client.py"), bus, bridge, str(n), *scenario],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit("GDBus benchmark client failed:\n%s" % out.stderr)
    return json.loads(out.stdout)


def measure_calls(sandbox, bus, bridge, n):
    before = ovsdb_requests(sandbox)
    ours = run_client(bus, "calls", bridge, n)
    # AddPort/DeletePort talk to OVSDB (2 per iteration); reads must not.
    requests_for_reads = ovsdb_requests(sandbox) - before - 2 * n
    theirs = {
        "AddPort": vsctl_add_port(sandbox, bridge, n),
        "BridgeExists": time_vsctl(sandbox, n, lambda i: ["br-exists", bridge]),
        "ListBridgePorts": time_vsctl(sandbox, n, lambda i: ["list-ports", bridge]),
    }
    rows = []
    for method, vsctl in (("AddPort", "add-port"), ("BridgeExists", "br-exists"),
                          ("ListBridgePorts", "list-ports")):
        m = median(ours[method])
        rows.append({"method": method, "ovsdbus_ms": ms(m), "vsctl_command": vsctl,
                     "vsctl_ms": ms(theirs[method]), "speedup": theirs[method] / m})
    gdbus = run_gdbus_client(bus, bridge, n)
    if gdbus is not None:
        for row in rows:
            row["gdbus_ms"] = ms(median(gdbus[row["method"]]))
            row["gdbus_speedup"] = theirs[row["method"]] / median(gdbus[row["method"]])
        rows.append({"method": "GetManagedObjects", "gdbus_ms": ms(median(gdbus["GetManagedObjects"]))})
    return rows, ours["ports"], requests_for_reads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per method and port count")
    parser.add_argument("--signals", type=int, default=500, help="inserts timed to their PortAdded signal")
    parser.add_argument("--ports", type=int, default=1000, help="ports on the bridge of the large case")
    parser.add_argument("--batches", type=int, default=10, help="runs of the 100-port batch comparison")
    parser.add_argument("--batch-size", type=int, default=100, help="ports added by one batch")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)

    results = {}
    with Sandbox(vswitchd=False) as sandbox:
        bus = sandbox.dbus.address
        ctl = str(Path(sandbox.ovsdb.socket_path).with_name("ovsdb.ctl"))
        subprocess.run(["ovs-appctl", "-t", ctl, "vlog/set", "jsonrpc:file:dbg"], check=True, capture_output=True)
        # First a database with one bridge and no ports (what "at 0 ports" means for ovs-vsctl
        # too: it reads the whole database at every run), then one with a 1000-port bridge.
        sandbox.ovsdb.vsctl("add-br", "bench0")
        rows, ports, reads = measure_calls(sandbox, bus, "bench0", args.calls)
        results["0 ports"] = {"rows": rows, "ports_listed": ports, "ovsdb_requests_for_reads": reads}

        sandbox.ovsdb.vsctl("add-br", "signals0")
        signals = run_client(bus, "signals", "signals0", args.signals, sandbox.ovsdb.socket_path)["PortAdded"]
        results["PortAdded signal"] = {"median_ms": ms(median(signals)), "p99_ms": ms(p99(signals)),
                                       "samples": len(signals)}
        sandbox.ovsdb.vsctl("del-br", "signals0")

        sandbox.ovsdb.vsctl("add-br", "bench1000")
        batch = []
        for i in range(args.ports):
            batch += ["--", "add-port", "bench1000", "p%d" % i]
        sandbox.ovsdb.vsctl(*batch)
        label = "%d ports" % args.ports
        rows, ports, reads = measure_calls(sandbox, bus, "bench1000", args.calls)
        results[label] = {"rows": rows, "ports_listed": ports, "ovsdb_requests_for_reads": reads}
        tree = run_client(bus, "tree", 20)
        results["GetManagedObjects"] = {"median_ms": ms(median(tree["GetManagedObjects"])),
                                        "objects": tree["objects"]}
        results["generic"] = {"rows": measure_generic(sandbox, bus, "bench1000", args.calls, args.ports)}
        sandbox.ovsdb.vsctl("add-br", "batch0")
        results["batch"] = measure_batch(sandbox, bus, "batch0", args.batches, args.batch_size)

    print_report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def print_report(results, args):
    print("ovsdbus vs ovs-vsctl --no-wait (median latency, %d calls each; speedup = ovs-vsctl / ovsdbus)"
          % args.calls)
    print("ovsdbus is called through a txdbus client (pure Python, in its own process) and, for comparison,")
    print("through GDBus (GLib's C library, from Debian's python3-gi).")
    print("%-12s %-18s %12s %12s %10s %10s %10s" % ("ports", "method", "txdbus ms", "ovs-vsctl ms", "speedup",
                                                   "GDBus ms", "speedup"))
    for label in [k for k in results if k.endswith("ports")]:
        for row in results[label]["rows"]:
            gdbus = ("%10.3f %9.1fx" % (row["gdbus_ms"], row["gdbus_speedup"])) if "gdbus_speedup" in row else ""
            if "ovsdbus_ms" not in row:
                print("%-12s %-18s %12s %12s %10s %10.3f" % (label, row["method"], "-", "-", "-", row["gdbus_ms"]))
                continue
            print("%-12s %-18s %12.3f %12.3f %9.1fx %s" % (label, row["method"], row["ovsdbus_ms"], row["vsctl_ms"],
                                                            row["speedup"], gdbus))
        print("%-12s OVSDB requests while answering %d BridgeExists + %d ListBridgePorts: %d"
              % (label, args.calls, args.calls, results[label]["ovsdb_requests_for_reads"]))
    s = results["PortAdded signal"]
    print("OVSDB insert -> PortAdded signal in a subscriber: median %.3f ms, p99 %.3f ms (%d changes)"
          % (s["median_ms"], s["p99_ms"], s["samples"]))
    t = results["GetManagedObjects"]
    print("GetManagedObjects with %d objects: median %.3f ms" % (t["objects"], t["median_ms"]))
    print("\norg.openvswitch.ovsdb.Database with %d ports in the database (median, %d calls each):"
          % (args.ports, args.calls))
    for row in results["generic"]["rows"]:
        gdbus = ("   GDBus %8.3f ms, %6.1fx" % (row["gdbus_ms"], row["gdbus_speedup"])) if "gdbus_ms" in row else ""
        print("  %-6s txdbus %8.3f ms   ovs-vsctl %-18s %8.3f ms   speedup %6.1fx%s"
              % (row["method"], row["ovsdbus_ms"], row["vsctl_command"], row["vsctl_ms"], row["speedup"], gdbus))
    b = results["batch"]
    print("%d ports added to a bridge (median of %d runs, %d ports in the database):"
          % (b["size"], b["repeats"], args.ports))
    print("  one Transact of %d AddPort:        %10.3f ms" % (b["size"], b["transact_ms"]))
    print("  one ovs-vsctl chaining %d add-port: %10.3f ms   (Transact %.1fx faster)"
          % (b["size"], b["vsctl_chained_ms"], b["speedup_over_vsctl"]))
    print("  %d AddPort calls:                  %10.3f ms   (Transact %.1fx faster)"
          % (b["size"], b["addport_calls_ms"], b["speedup_over_calls"]))
    zero = results["0 ports"]["rows"]
    big = results["%d ports" % args.ports]["rows"]
    checks = [
        ("AddPort median at 0 ports (ms)", zero[0]["ovsdbus_ms"], "<="),
        ("AddPort speedup over ovs-vsctl at 0 ports", zero[0]["speedup"], ">="),
        ("ListBridgePorts median at 1000 ports (ms)", big[2]["ovsdbus_ms"], "<="),
        ("PortAdded signal median (ms)", s["median_ms"], "<="),
        ("PortAdded signal p99 (ms)", s["p99_ms"], "<="),
        ("Get speedup over ovs-vsctl get at 1000 ports", results["generic"]["rows"][0]["speedup"], ">="),
        ("Transact of 100 AddPort speedup over one chained ovs-vsctl", b["speedup_over_vsctl"], ">="),
    ]
    print("\ntargets:")
    for name, value, op in checks:
        target = TARGETS[name]
        ok = value <= target if op == "<=" else value >= target
        print("  %-60s %8.3f %s %-6g %s" % (name, value, op, target, "met" if ok else "MISSED"))


if __name__ == "__main__":
    main()
