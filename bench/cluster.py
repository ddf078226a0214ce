"""Write latency on a three-member Raft cluster next to a standalone server, and failover time.

In one run: a sandbox with one ovsdb-server and one with a three-member cluster (no ovs-vswitchd),
ovsdbus on each; then

1. CreateBridge and AddPort through D-Bus (a txdbus client in this process), median and p90, on
   both, next to ``ovs-vsctl --no-wait add-br`` / ``add-port`` with ``--db=`` the server's remote
   and ``--db=`` the three members' remotes;
2. failover: writes in a loop while the cluster's leader is killed (SIGKILL, by pid) ``--kills``
   times; for each, the time from the kill to the first acknowledged write sent after it (the
   killed member is started again and rejoins before the next kill).

Usage: ``python bench/cluster.py [--calls N] [--vsctl N] [--kills N]``.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from twisted.internet import defer, task  # noqa: E402
from txdbus import client as txdbus_client  # noqa: E402
from txdbus.error import RemoteError  # noqa: E402

from ovsdbus.api import BUS_NAME, INTERFACE, OBJECT_PATH  # noqa: E402
from ovsdbus.testing import sandbox  # noqa: E402


def call(conn, method, *args):
    return conn.callRemote(OBJECT_PATH, method, interface=INTERFACE, destination=BUS_NAME,
                           signature="s" * len(args) or None, body=list(args) or None, timeout=10)


def summary(samples):
    ordered = sorted(samples)
    return "median %6.2f ms  p90 %6.2f ms" % (statistics.median(ordered) * 1000,
                                              ordered[int(0.9 * (len(ordered) - 1))] * 1000)


@defer.inlineCallbacks
def timed(conn, n, method, args_of):
    samples = []
    for i in range(n):
        started = time.perf_counter()
        yield call(conn, method, *args_of(i))
        samples.append(time.perf_counter() - started)
    return samples


def vsctl_times(remote, env, n, args_of):
    samples = []
    for i in range(n):
        started = time.perf_counter()
        subprocess.run([sandbox.find_binary("ovs-vsctl"), "--db=" + remote, "--no-wait", "--timeout=20",
                        *args_of(i)], env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return samples


@defer.inlineCallbacks
def latency(reactor, stack, label, calls, vsctl_calls):
    conn = yield txdbus_client.connect(reactor, stack.dbus.address)
    try:
        for _ in range(100):
            if (yield conn.callRemote(OBJECT_PATH, "Get", interface="org.freedesktop.DBus.Properties",
                                      destination=BUS_NAME, signature="ss", body=[INTERFACE, "Connected"])):
                break
            yield task.deferLater(reactor, 0.1, lambda: None)
        create = yield timed(conn, calls, "CreateBridge", lambda i: ["lat%d" % i])
        add = yield timed(conn, calls, "AddPort", lambda i: ["lat0", "p%d" % i])
    finally:
        conn.disconnect()
    env = stack.ovsdb._ovs_env()
    vs_create = vsctl_times(stack.ovsdb.remote, env, vsctl_calls, lambda i: ["add-br", "vs%d" % i])
    vs_add = vsctl_times(stack.ovsdb.remote, env, vsctl_calls, lambda i: ["add-port", "vs0", "q%d" % i])
    print("%-10s CreateBridge  %s   ovs-vsctl add-br    %s" % (label, summary(create), summary(vs_create)))
    print("%-10s AddPort       %s   ovs-vsctl add-port  %s" % (label, summary(add), summary(vs_add)))


@defer.inlineCallbacks
def failover(reactor, stack, kills):
    conn = yield txdbus_client.connect(reactor, stack.dbus.address)
    done, state, times = [], {"stop": False, "n": 0}, []

    @defer.inlineCallbacks
    def writer():
        while not state["stop"]:
            state["n"] += 1
            started = time.monotonic()
            try:
                yield call(conn, "CreateBridge", "fo%d" % state["n"])
            except RemoteError:
                yield task.deferLater(reactor, 0.02, lambda: None)
            else:
                done.append((started, time.monotonic()))

    @defer.inlineCallbacks
    def until(predicate, timeout=30):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise RuntimeError("timed out")
            yield task.deferLater(reactor, 0.02, lambda: None)

    writing = writer()
    try:
        for _ in range(kills):
            yield until(lambda: len(done) > 3)
            leader = sandbox.wait_until(stack.ovsdb.leader, 30, "a leader")
            killed_at = time.monotonic()
            leader.kill()
            yield until(lambda t=killed_at: [end for start, end in done if start > t])
            times.append([end for start, end in done if start > killed_at][0] - killed_at)
            leader.start()
            sandbox.wait_until(stack.ovsdb.formed, 30, "the member to rejoin")
            del done[:]
    finally:
        state["stop"] = True
        yield writing
        conn.disconnect()
    print("failover (leader killed -> first acknowledged write): %s s; median %.2f s"
          % (", ".join("%.2f" % t for t in times), statistics.median(times)))


@defer.inlineCallbacks
def main(reactor, args):
    for label, cluster in (("standalone", False), ("cluster", True)):
        stack = sandbox.Sandbox(vswitchd=False, cluster=cluster).start()
        try:
            yield latency(reactor, stack, label, args.calls, args.vsctl)
            if cluster:
                yield failover(reactor, stack, args.kills)
        finally:
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="D-Bus calls per method")
    parser.add_argument("--vsctl", type=int, default=50, help="ovs-vsctl runs per command")
    parser.add_argument("--kills", type=int, default=5, help="leader kills for the failover time")
    options = parser.parse_args()
    task.react(main, [options])
