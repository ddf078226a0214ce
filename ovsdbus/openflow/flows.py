"""OpenFlow text as ovs-ofctl writes it, parsed; flow lists compared; ovs-ofctl's errors named.

Pure functions over text.  ``ovs-ofctl dump-flows`` prints one flow a line::

     cookie=0x5, duration=0.005s, table=0, n_packets=0, n_bytes=0, idle_timeout=30, priority=100,ip actions=drop

(statistics and timeouts as ``key=value, ``, then flags such as ``send_flow_rem`` and the match,
separated by a space, then ``actions=``; the match leaves out ``priority`` when it is the
default 32768 and is empty for a flow that matches everything; with ``--no-stats``, ``cookie``
and ``table`` are left out when they are 0).  ``ovs-ofctl parse-flows``
prints the flow_mod each input line encodes, with the same match and action formatting::

    OFPT_FLOW_MOD (OF1.4) (xid=0x1): ADD table:3 priority=5,tcp cookie:0x9 idle:30 send_flow_rem actions=drop

so a flow a caller wrote and the flow ovs-vswitchd holds compare equal by their parsed fields,
however the caller spelled them.
"""

import re
from typing import NamedTuple

from ovsdbus.ovsdb.errors import InvalidArgs, NotFound
from ovsdbus.vswitch.errors import CommandFailed, SwitchUnavailable

#: The default flow priority (OpenFlow's OFP_DEFAULT_PRIORITY), which ovs-ofctl leaves out.
DEFAULT_PRIORITY = 32768

#: Every bit of a cookie.
ALL_BITS = (1 << 64) - 1

#: ovs-vswitchd's internal, read-only table (``TBL_INTERNAL``): a dump selecting by cookie shows its
#: flows, but nobody may change them, so they are never part of a flow set ovsdbus compares.
INTERNAL_TABLE = 254

#: ``key=value`` fields of dump-flows that are not part of the match.
_DUMP_FIELDS = frozenset(("cookie", "duration", "table", "n_packets", "n_bytes", "idle_timeout", "hard_timeout",
                          "idle_age", "hard_age", "importance", "reset_counts", "out_port", "out_group"))

#: ``key:value`` fields of a printed flow_mod that are not part of the match.
_MOD_FIELDS = frozenset(("table", "cookie", "idle", "hard", "importance", "out_port", "out_group", "buffer",
                         "pri"))

#: Flow flags, written as bare words in both formats (and accepted as such in flow text).
FLAGS = frozenset(("send_flow_rem", "check_overlap", "reset_counts", "no_packet_counts", "no_byte_counts"))

_ACTIONS = re.compile(r"(?:^|[ ,])actions=")
_LINE_ERROR = re.compile(r"^ovs-ofctl: -:(\d+): (.*)$")
_SWITCH_ERROR = re.compile(r"^Error (\S+) for: .*?\): (\S+ .*)$")


class Flow(NamedTuple):
    """A flow as ovs-vswitchd holds it (or as a flow_mod would make it).

    ``match`` is ovs-ofctl's normalised match text without the priority; counters are None
    where the text had none (a flow_mod, or a dump with ``--no-stats``).
    """

    table: int
    priority: int
    match: str
    actions: str
    cookie: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    importance: int = 0
    flags: tuple = ()
    n_packets: int = None
    n_bytes: int = None
    duration: float = None

    @property
    def key(self):
        """What makes two flows the same entry of a flow table: table, priority and match."""
        return (self.table, self.priority, self.match)

    @property
    def setting(self):
        """What a flow_mod sets besides its key (two flows with the same key and setting are equal)."""
        return (self.actions, self.cookie, self.idle_timeout, self.hard_timeout, self.importance, self.flags)

    def text(self, cookie_mask=None):
        """The flow in ovs-ofctl's flow syntax (``cookie_mask``: write ``cookie=C/MASK``, as
        ``delete_strict`` wants, and leave out what a deletion does not take)."""
        parts = []
        if cookie_mask is None:
            parts.append("cookie=%#x" % self.cookie)
        else:
            parts.append("cookie=%#x/%#x" % (self.cookie, cookie_mask))
        parts.append("table=%d" % self.table)
        parts.append("priority=%d" % self.priority)
        if cookie_mask is None:
            if self.idle_timeout:
                parts.append("idle_timeout=%d" % self.idle_timeout)
            if self.hard_timeout:
                parts.append("hard_timeout=%d" % self.hard_timeout)
            if self.importance:
                parts.append("importance=%d" % self.importance)
            parts.extend(self.flags)
        if self.match:
            parts.append(self.match)
        if cookie_mask is None:
            parts.append("actions=" + self.actions)
        return ",".join(parts)


def _int(text):
    """An integer as ovs-ofctl prints it (``0x5``, ``5``; of a ``value/mask`` pair the value)."""
    return int(text.partition("/")[0], 0)


def _split_priority(match_words):
    """``(priority, match)`` from the words of a printed match (``priority=N`` comes first when shown)."""
    match = ",".join(w for w in match_words if w)
    priority = DEFAULT_PRIORITY
    head, sep, rest = match.partition(",")
    if head.startswith("priority="):
        priority = int(head[len("priority="):])
        match = rest if sep else ""
    return priority, match


def parse_dump_line(line):
    """One line of ``ovs-ofctl dump-flows`` as a :class:`Flow`; None for a line that is no flow."""
    line = line.strip()
    found = _ACTIONS.search(line)
    if found is None:   # the header ("OFPST_FLOW reply ...") or nothing
        return None
    actions = line[found.end():].strip()
    left = line[:found.start()].strip().rstrip(",")
    fields, flags, match_words = {}, [], []
    for chunk in left.split(", "):
        for word in chunk.split(" "):
            word = word.strip().rstrip(",")
            if not word:
                continue
            key, eq, value = word.partition("=")
            if eq and key in _DUMP_FIELDS:
                fields[key] = value
            elif word in FLAGS:
                flags.append(word)
            else:
                match_words.append(word)
    priority, match = _split_priority(match_words)
    duration = fields.get("duration")
    return Flow(
        table=int(fields.get("table", 0)), priority=priority, match=match, actions=actions,
        cookie=_int(fields.get("cookie", "0")), idle_timeout=int(fields.get("idle_timeout", 0)),
        hard_timeout=int(fields.get("hard_timeout", 0)), importance=int(fields.get("importance", 0)),
        flags=tuple(sorted(flags)),
        n_packets=int(fields["n_packets"]) if "n_packets" in fields else None,
        n_bytes=int(fields["n_bytes"]) if "n_bytes" in fields else None,
        duration=float(duration.rstrip("s")) if duration else None)


def parse_dump_flows(text):
    """Every flow of ``ovs-ofctl dump-flows`` output, in the order printed."""
    return [f for f in (parse_dump_line(line) for line in text.splitlines()) if f is not None]


def parse_flow_mod_line(line):
    """One ``OFPT_FLOW_MOD ...: ADD ...`` line of ``ovs-ofctl parse-flows`` as a :class:`Flow`; None otherwise."""
    head, sep, body = line.partition("): ")
    if not sep or "FLOW_MOD" not in head:
        return None
    return parse_flow_mod(body)


def parse_flow_mod(text):
    """A flow_mod as ovs-ofctl prints it after its header (``ADD table:3 priority=5,tcp ... actions=drop``)
    as a :class:`Flow`; None if it is none."""
    command, _, rest = text.strip().partition(" ")
    found = _ACTIONS.search(rest)
    if found is None:
        return None
    actions = rest[found.end():].strip()
    fields, flags, match_words = {}, [], []
    for word in rest[:found.start()].split():
        key, colon, value = word.partition(":")
        if colon and key in _MOD_FIELDS:
            fields[key] = value
        elif word in FLAGS:
            flags.append(word)
        else:
            match_words.append(word)
    priority, match = _split_priority(match_words)
    if "pri" in fields:
        priority = int(fields["pri"])
    return Flow(table=int(fields.get("table", 0)), priority=priority, match=match, actions=actions,
                cookie=_int(fields.get("cookie", "0")), idle_timeout=int(fields.get("idle", 0)),
                hard_timeout=int(fields.get("hard", 0)), importance=int(fields.get("importance", 0)),
                flags=tuple(sorted(flags)))


def parse_flow_mods(text):
    """Every flow_mod of ``ovs-ofctl parse-flows`` output, in input order."""
    return [f for f in (parse_flow_mod_line(line) for line in text.splitlines()) if f is not None]


class Group(NamedTuple):
    """A group as ``ovs-ofctl dump-groups`` prints it: id, type and the whole text (buckets included)."""

    group_id: int
    type: str
    text: str


def parse_dump_groups(text):
    """Every group of ``ovs-ofctl dump-groups`` output."""
    groups = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("group_id="):
            continue
        fields = dict(part.partition("=")[::2] for part in line.split(",bucket=")[0].split(","))
        groups.append(Group(_int(fields.get("group_id", "0")), fields.get("type", ""), line))
    return groups


def check_lines(lines, what="flows"):
    """Refuse what ovs-ofctl would read wrongly from a file: a line break inside one entry (it
    would become two), a NUL, an empty entry or one that starts with ``#`` (it would be skipped)."""
    if not isinstance(lines, (list, tuple)):
        raise InvalidArgs("%s must be a list of strings" % what)
    for index, line in enumerate(lines):
        if not isinstance(line, str):
            raise InvalidArgs("%s[%d] is not a string" % (what, index))
        if any(c in line for c in "\n\r\0"):
            raise InvalidArgs("%s[%d] holds a line break or NUL; give one entry per string" % (what, index))
        if not line.strip() and what != "matches":
            raise InvalidArgs("%s[%d] is empty" % (what, index))
        if line.lstrip().startswith("#"):
            raise InvalidArgs("%s[%d] starts with '#' (ovs-ofctl would ignore it as a comment)" % (what, index))


class Change(NamedTuple):
    """What to send to make a flow table hold ``desired`` instead of ``current``: flow_mod lines
    (deletions first) and the counts for the caller."""

    lines: tuple
    added: int
    modified: int
    deleted: int
    unchanged: int


def difference(current, desired, desired_texts):
    """The :class:`Change` that turns ``current`` (dumped flows) into ``desired`` (parsed
    flow_mods, ``desired_texts`` the flow texts they were parsed from): ``delete_strict`` for
    each current flow whose key is not desired, ``add`` for each desired flow that is missing or
    differs (an add replaces the flow of the same key), nothing for the flows already there."""
    have = {f.key: f for f in current}
    wanted = {}
    for index, flow in enumerate(desired):
        if flow.key in wanted:
            raise InvalidArgs("flows[%d] and flows[%d] have the same table, priority and match; only one can be "
                              "installed" % (wanted[flow.key][0], index))
        wanted[flow.key] = (index, flow)
    lines = []
    deleted = 0
    for key, flow in have.items():
        if key not in wanted:
            lines.append("delete_strict " + flow.text(cookie_mask=ALL_BITS))
            deleted += 1
    added = modified = unchanged = 0
    for key, (index, flow) in wanted.items():
        old = have.get(key)
        if old is not None and old.setting == flow.setting:
            unchanged += 1
            continue
        lines.append("add " + desired_texts[index])
        if old is None:
            added += 1
        else:
            modified += 1
    return Change(tuple(lines), added, modified, deleted, unchanged)


_COOKIE_FIELD = re.compile(r"(?:^|[,\s])cookie=")


def has_cookie(flow_text):
    """Whether a flow text sets its cookie itself."""
    return _COOKIE_FIELD.search(flow_text) is not None


def with_cookie(flow_text, cookie):
    """``flow_text`` with ``cookie=C`` in front unless it names a cookie itself."""
    return flow_text if has_cookie(flow_text) else "cookie=%#x,%s" % (cookie, flow_text.lstrip())


def line_errors(stderr):
    """``[(line number, 1-based; message)]`` of the input lines ovs-ofctl could not parse."""
    found = []
    for line in stderr.splitlines():
        m = _LINE_ERROR.match(line.strip())
        if m:
            found.append((int(m.group(1)), m.group(2)))
    return found


def switch_error(stderr):
    """``(OpenFlow error name, the refused message as printed)`` when ovs-vswitchd refused a
    message, else None."""
    for line in stderr.splitlines():
        m = _SWITCH_ERROR.match(line.strip())
        if m:
            return m.group(1), m.group(2)
    return None


_UNAVAILABLE = ("connecting to", "failed to connect", "Connection refused", "No such file or directory",
                "Broken pipe", "Connection reset", "End of file", "timed out")


def error_for(stderr, lines=(), what="flows", target=""):
    """The error a failed ovs-ofctl run means: an input line it could not parse is
    :class:`InvalidArgs` naming ``what[index]`` (0-based) with its text; a socket that is not
    there or does not answer is :class:`SwitchUnavailable`; anything else :class:`CommandFailed`
    with ovs-ofctl's message."""
    text = stderr.strip()
    parsed = line_errors(stderr)
    if parsed:
        number, message = parsed[0]
        index = number - 1
        shown = lines[index] if 0 <= index < len(lines) else "?"
        return InvalidArgs("%s[%d] (%r): %s" % (what, index, shown, message))
    refused = switch_error(stderr)
    if refused is not None:
        return InvalidArgs("ovs-vswitchd refused %s (%s): %s" % (refused[1], what, refused[0]))
    if "Alarm clock" in text:   # ovs-ofctl's own --timeout: it ends itself with SIGALRM
        return SwitchUnavailable("ovs-vswitchd did not answer on %s within the timeout" % target)
    if "is not a bridge or a socket" in text:
        return NotFound("no bridge %s in ovs-vswitchd" % target)
    if "version negotiation failed" in text:
        return InvalidArgs("the bridge does not speak the OpenFlow version asked for: %s" % _last_line(text))
    if any(marker in text for marker in _UNAVAILABLE):
        return SwitchUnavailable("ovs-vswitchd does not answer on %s: %s" % (target, _last_line(text)))
    return CommandFailed("ovs-ofctl failed: %s" % (text or "no message"))


def _last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].replace("ovs-ofctl: ", "") if lines else ""
