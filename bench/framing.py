"""Receiving the initial monitor reply of a large switch: framing and decoding, next to python-ovs.

ovsdb-server answers ovsdbus's monitor request with one JSON text holding every row (some 3 MB
at 10 000 ports, 16 MB at 50 000 here).  It arrives in pieces: 64 kB reads over TCP or a unix socket,
16 kB TLS records.  For a reply built like ovsdb-server's, this measures (best of a few runs):

- ``JSONValueSplitter.feed`` alone (finding where the text ends), in 64 kB and in 16 kB reads;
- ``JSONStreamProtocol.dataReceived`` (framing and ``ujson.loads``), in 64 kB reads;
- ``ujson.loads`` of the whole text at once: the decoding the framing comes on top of;
- python-ovs (Debian's python3-openvswitch, its C parser when built): ``ovs.json.Parser.feed`` of
  4 kB pieces decoded from UTF-8, as ``ovs.jsonrpc.Connection.recv`` reads them.

Usage: ``python bench/framing.py [--ports 10000,50000] [--runs 5] [--json FILE]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import ujson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ovsdbus.ovsdb.framing import JSONStreamProtocol, JSONValueSplitter  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"

#: python-ovs's side, run by Debian's python3: read the text from the file named in argv[1] and feed
#: it as ovs.jsonrpc.Connection.recv does (4096-byte reads, decoded, fed to one Parser); print the
#: best time in seconds and which parser it was.
PYTHON_OVS = r"""
import codecs, sys, time
import ovs.json
data = open(sys.argv[1], "rb").read()
runs = int(sys.argv[2])
best = None
for _ in range(runs):
    start = time.perf_counter()
    decoder = codecs.getincrementaldecoder("utf-8")()
    parser = ovs.json.Parser()
    for i in range(0, len(data), 4096):
        parser.feed(decoder.decode(data[i:i + 4096]))
    value = parser.finish()
    elapsed = time.perf_counter() - start
    assert isinstance(value, dict), value
    best = elapsed if best is None else min(best, elapsed)
print(best, ovs.json.PARSER)
"""


def monitor_reply(ports):
    """The reply to a monitor request of all columns of Interface, Port and Bridge, at ``ports`` ports
    on one bridge, shaped and sized like ovsdb-server's (uuids, maps, sets, empty columns)."""
    def name_uuid(kind, i):
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, "%s%d" % (kind, i)))

    interfaces, port_rows = {}, {}
    for i in range(ports):
        mac = "02:00:%02x:%02x:%02x:%02x" % (i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255)
        interfaces[name_uuid("i", i)] = {"initial": {
            "name": "p%d" % i, "ofport": i + 1, "external_ids": ["map", [["attached-mac", mac]]]}}
        port_rows[name_uuid("p", i)] = {"initial": {
            "name": "p%d" % i, "interfaces": ["uuid", name_uuid("i", i)]}}
    bridge = {name_uuid("b", 0): {"initial": {
        "name": "scale", "ports": ["set", [["uuid", u] for u in port_rows]], "external_ids": ["map", []]}}}
    result = {"Interface": interfaces, "Port": port_rows, "Bridge": bridge}
    return ujson.dumps({"id": 1, "error": None, "result": result}).encode("utf-8")


def reads(data, size):
    """``data`` cut into reads of ``size`` bytes."""
    return [data[i:i + size] for i in range(0, len(data), size)]


def best_of(runs, work):
    """The shortest of ``runs`` timings of ``work()``, in milliseconds."""
    best = None
    for _ in range(runs):
        start = time.perf_counter()
        work()
        elapsed = (time.perf_counter() - start) * 1000
        best = elapsed if best is None else min(best, elapsed)
    return best


class _Receiver(JSONStreamProtocol):
    """Keeps what it receives."""

    def __init__(self):
        self.values = []

    def value_received(self, value):
        self.values.append(value)


def split(pieces):
    """Feed ``pieces`` to a new splitter; the texts it finds."""
    splitter = JSONValueSplitter()
    texts = []
    for piece in pieces:
        texts += splitter.feed(piece)
    assert len(texts) == 1, len(texts)
    return texts


def receive(pieces):
    """Feed ``pieces`` to a new JSONStreamProtocol; the values it receives."""
    receiver = _Receiver()
    receiver.makeConnection(None)
    for piece in pieces:
        receiver.dataReceived(piece)
    assert len(receiver.values) == 1, len(receiver.values)
    return receiver.values


def python_ovs(data, runs):
    """python-ovs's best time (ms) and parser kind for ``data``, or None when it is not installed."""
    if not os.path.exists(SYSTEM_PYTHON):
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(data)
        f.flush()
        done = subprocess.run([SYSTEM_PYTHON, "-c", PYTHON_OVS, f.name, str(runs)], capture_output=True, text=True)
    if done.returncode != 0:
        print("python-ovs not measured: %s" % done.stderr.strip().splitlines()[-1:], file=sys.stderr)
        return None
    seconds, parser = done.stdout.split()
    return float(seconds) * 1000, parser


def measure(ports, runs):
    """Every figure for one port count, as a dict."""
    data = monitor_reply(ports)
    tcp, tls = reads(data, 65536), reads(data, 16384)
    figures = {
        "ports": ports,
        "reply_bytes": len(data),
        "split_64k_ms": best_of(runs, lambda: split(tcp)),
        "split_16k_ms": best_of(runs, lambda: split(tls)),
        "receive_64k_ms": best_of(runs, lambda: receive(tcp)),
        "loads_ms": best_of(runs, lambda: ujson.loads(data)),
    }
    peer = python_ovs(data, runs)
    if peer is not None:
        figures["python_ovs_ms"], figures["python_ovs_parser"] = peer
    return figures


def report(figures):
    """Print one port count's figures with their ratios."""
    print("%d ports: monitor reply of %.1f MB" % (figures["ports"], figures["reply_bytes"] / 1e6))
    loads = figures["loads_ms"]
    for label, key in [("framing only, 64 kB reads", "split_64k_ms"), ("framing only, 16 kB reads", "split_16k_ms"),
                       ("ujson.loads of the whole text", "loads_ms"),
                       ("framing + decoding (dataReceived), 64 kB reads", "receive_64k_ms")]:
        print("  %-52s %8.1f ms  %5.2fx ujson.loads" % (label, figures[key], figures[key] / loads))
    if "python_ovs_ms" in figures:
        peer = figures["python_ovs_ms"]
        print("  %-52s %8.1f ms" % ("python-ovs Parser, 4 kB reads (%s)" % figures["python_ovs_parser"], peer))
        print("  ovsdbus receives it in %.2fx python-ovs's time" % (figures["receive_64k_ms"] / peer))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", default="10000,50000", help="comma-separated port counts")
    parser.add_argument("--runs", type=int, default=5, help="timings per figure (the best is kept)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results = []
    for ports in [int(p) for p in args.ports.split(",")]:
        figures = measure(ports, args.runs)
        report(figures)
        results.append(figures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
