"""The state file of persisted flows: ``flows.json`` in the state directory.

It holds, per bridge and cookie, the flows ovsdbus was asked to keep (``persist: true``), in
ovs-ofctl's flow syntax::

    {"version": 1, "bridges": {"br0": {"0x5": ["cookie=0x5,table=0,priority=100,ip,actions=drop"]}}}

It is written atomically (a temporary file in the same directory, fsync, rename over the old
one, fsync of the directory), so a crash leaves the old file or the new one, never a mix.  A
file that cannot be read is logged and moved aside as ``flows.json.corrupt-<time>``, never
silently replaced.
"""

import json
import os
import time

from twisted.logger import Logger

log = Logger()

FILE_NAME = "flows.json"
VERSION = 1


class FlowStore:
    """Persisted flows: ``{bridge: {cookie: [flow text]}}``, loaded from and saved to ``directory``.

    :param clock: an ``IReactorTime``, for the name a corrupt file is moved to.
    """

    def __init__(self, directory, clock):
        self.directory = directory
        self.path = os.path.join(directory, FILE_NAME)
        self.clock = clock
        self.bridges = {}
        #: Where an unreadable file was moved (None if it was readable or absent).
        self.moved_aside = None

    def load(self):
        """Read the file (absent: nothing persisted).  An unreadable one is logged, moved
        aside and treated as empty."""
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            self.bridges = {}
            return self
        except (OSError, UnicodeError) as e:
            self._move_aside("cannot read it: %s" % e)
            return self
        try:
            self.bridges = _validated(json.loads(text))
        except (ValueError, TypeError) as e:
            self._move_aside(str(e))
        return self

    def _move_aside(self, why):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock.seconds()))
        target = "%s.corrupt-%s" % (self.path, stamp)
        suffix = 1
        while os.path.exists(target):
            suffix += 1
            target = "%s.corrupt-%s.%d" % (self.path, stamp, suffix)
        try:
            os.rename(self.path, target)
            self.moved_aside = target
            log.error("state file {path} is unreadable ({why}); moved aside to {target}, starting with no "
                      "persisted flows", path=self.path, why=why, target=target)
        except OSError as e:
            log.error("state file {path} is unreadable ({why}) and cannot be moved aside ({error}); "
                      "persisted flows are not kept", path=self.path, why=why, error=e)
            self.directory = None   # never overwrite it
        self.bridges = {}

    def cookies(self, bridge):
        """``{cookie (int): [flow text]}`` persisted for ``bridge``."""
        return {int(c, 16): list(lines) for c, lines in self.bridges.get(bridge, {}).items()}

    def persisted(self, bridge, cookie):
        """Whether flows of ``cookie`` on ``bridge`` are persisted."""
        return "%#x" % cookie in self.bridges.get(bridge, {})

    def put(self, bridge, cookie, lines):
        """Record ``lines`` as the flows of ``cookie`` on ``bridge`` and save (none: forget them)."""
        entry = self.bridges.setdefault(bridge, {})
        if lines:
            entry["%#x" % cookie] = list(lines)
        else:
            entry.pop("%#x" % cookie, None)
        if not entry:
            self.bridges.pop(bridge, None)
        self.save()

    def forget(self, bridge, cookie):
        """Stop persisting ``cookie`` on ``bridge``."""
        self.put(bridge, cookie, ())

    def save(self):
        """Write the file atomically (temp file, fsync, rename, fsync the directory)."""
        if self.directory is None:
            return
        os.makedirs(self.directory, exist_ok=True)
        temporary = "%s.tmp-%d" % (self.path, os.getpid())
        data = json.dumps({"version": VERSION, "bridges": self.bridges}, indent=1, sort_keys=True)
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(data + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(temporary, self.path)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _validated(value):
    if not isinstance(value, dict) or value.get("version") != VERSION:
        raise ValueError("not a version %d flows file" % VERSION)
    bridges = value.get("bridges")
    if not isinstance(bridges, dict):
        raise ValueError("no 'bridges' object")
    for bridge, cookies in bridges.items():
        if not isinstance(cookies, dict):
            raise ValueError("bridge %r: not an object" % bridge)
        for cookie, lines in cookies.items():
            int(cookie, 16)
            if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
                raise ValueError("bridge %r cookie %s: not a list of flows" % (bridge, cookie))
    return bridges
