"""ovsdbus.openflow.store: the persisted flows file, written atomically, never silently replaced."""

import json
import os
import shutil
import tempfile
import unittest

from twisted.internet.task import Clock

from ovsdbus.openflow.store import FILE_NAME, FlowStore


class StoreTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="flowstore-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.clock = Clock()
        self.clock.advance(1_800_000_000)

    def path(self, *names):
        return os.path.join(self.directory, *names)

    def test_absent_file_is_nothing_persisted(self):
        """Without a file, nothing is persisted and nothing is written by loading."""
        store = FlowStore(self.directory, self.clock).load()
        self.assertEqual(store.bridges, {})
        self.assertEqual(os.listdir(self.directory), [])

    def test_put_saves_and_a_new_store_reads_it(self):
        """Recorded flows are in the file at once (no temporary left), per bridge and cookie, and a
        store started later reads them back; recording none forgets the cookie and the bridge."""
        store = FlowStore(self.path("state"), self.clock).load()
        store.put("br0", 0x5, ["cookie=0x5,priority=1,actions=drop"])
        self.assertEqual(os.listdir(self.path("state")), [FILE_NAME])
        again = FlowStore(self.path("state"), self.clock).load()
        self.assertEqual(again.cookies("br0"), {5: ["cookie=0x5,priority=1,actions=drop"]})
        self.assertTrue(again.persisted("br0", 5))
        again.forget("br0", 5)
        self.assertEqual(FlowStore(self.path("state"), self.clock).load().bridges, {})

    def test_corrupt_file_is_moved_aside_not_replaced(self):
        """An unreadable file is moved to flows.json.corrupt-<UTC time> with its content intact, the
        store starts empty, and the next save writes a fresh flows.json beside it."""
        for content in ("{not json", json.dumps({"version": 99}), json.dumps({"version": 1, "bridges": {"b": 3}}),
                        json.dumps({"version": 1, "bridges": {"b": {"zz": ["x"]}}})):
            with self.subTest(content=content):
                shutil.rmtree(self.directory)
                os.makedirs(self.directory)
                with open(self.path(FILE_NAME), "w") as f:
                    f.write(content)
                store = FlowStore(self.directory, self.clock).load()
                self.assertEqual(store.bridges, {})
                self.assertEqual(store.moved_aside, self.path(FILE_NAME + ".corrupt-20270115T080000Z"))
                with open(store.moved_aside) as f:
                    self.assertEqual(f.read(), content)
                store.put("br0", 1, ["cookie=0x1,actions=drop"])
                self.assertEqual(sorted(os.listdir(self.directory)),
                                 [FILE_NAME, FILE_NAME + ".corrupt-20270115T080000Z"])
