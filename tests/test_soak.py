"""A short run of the soak (bench/soak.py) on the real stack: restarts, hangs, churn and fuzzing.

The full soak runs for minutes before a release (``python bench/soak.py --seconds 600``); this
runs it for 10 seconds, long enough for one ovsdb-server restart and one hang, and checks that
the soak really did its work and that every invariant held.
"""

import json
import os
import shutil
import sys
import tempfile

from twisted.internet import defer
from twisted.trial.unittest import TestCase

from tests import realstack

SOAK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "soak.py")


class SoakTests(TestCase):
    """The service survives the soak's chaos with every invariant intact."""

    timeout = 180

    @defer.inlineCallbacks
    def test_short_soak(self):
        """Ten seconds of write churn with fresh names, an ovsdb-server restart (SIGKILL) and a hang
        (SIGSTOP past the service's timeout), and fuzzed calls: the soak exits 0 — the service still
        runs and is Connected, logged no traceback, answered every call with a documented error or a
        result, every read showed the caller's acknowledged writes, and the database holds exactly
        the acknowledged creations and none of the acknowledged deletions."""
        realstack.require_programs(*realstack.STACK_PROGRAMS)
        directory = tempfile.mkdtemp(prefix="ovsdbus-soak-")
        self.addCleanup(shutil.rmtree, directory, True)
        figures = os.path.join(directory, "soak.json")
        code, out, err = yield realstack.run([sys.executable, SOAK, "--seconds", "10", "--seed", "7047",
                                              "--json", figures], env=realstack.checkout_env(), timeout=150)
        self.assertEqual(code, 0, "soak failed:\n%s\n%s" % (out, err))
        with open(figures) as f:
            summary = json.load(f)
        self.assertEqual(summary["violations"], [])
        events = summary["events"]
        self.assertGreaterEqual(events.get("restarts (SIGKILL)", 0), 1, events)
        self.assertGreaterEqual(events.get("hangs", 0), 1, events)
        outcomes = summary["outcomes"]
        for method in ("CreateBridge", "AddPort", "DeletePort", "DeleteBridge", "BridgeExists", "ListBridgePorts"):
            self.assertGreater(outcomes[method].get("ok", 0), 0, method)
        self.assertGreater(outcomes["fuzz"].get("org.freedesktop.DBus.Error.InvalidArgs", 0), 0)
        names = {name for counts in outcomes.values() for name in counts}
        self.assertNotIn("org.openvswitch.ovsdb.Error.Failed", names)
        self.assertEqual([n for n in names if n.startswith("org.txdbus.")], [])
        self.assertIsNotNone(summary["rss_kib"]["start"])
        self.assertIsNotNone(summary["rss_kib"]["end"])
