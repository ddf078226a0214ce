"""The flow verbs (add, delete, replace, dump flows and groups) over ovs-ofctl, and the keeper
that puts persisted flows back when ovs-vswitchd has lost them.

Every change goes to ovs-vswitchd as ONE OpenFlow bundle by default (``bundle: true``): the
switch applies all of it or none.  Bundles need OpenFlow 1.4 or later, so a bridge whose
``protocols`` column allows neither OpenFlow14 nor OpenFlow15 refuses a bundled change with
NotSupported saying so (pass ``bundle: false`` for ovs-ofctl's flow-by-flow changes, or add
OpenFlow14 to the bridge's protocols); a change is never made non-atomic silently.

When ovs-vswitchd restarts it starts with empty flow tables.  What it writes to OVSDB when it
starts is the same configuration as before (ovsdb-server sends no update for a value written
unchanged), so no column is a reliable restart signal on its own: verified with the real
ovs-vswitchd, a restart changes only ``Interface.mac_in_use`` of internal ports on the dummy and
userspace datapaths, and ``Interface.ofport`` where a port was re-created; a re-created bridge
is a new Bridge row.  The keeper therefore checks the persisted flows (one ``dump-flows``, and
one bundle for whatever is missing) whenever those columns change, when a persisted bridge's row
appears, when ovsdbus (re)connects to OVSDB, and every ``check_interval`` seconds; the check is
cheap and idempotent, so a restart OVSDB does not show is caught by the next periodic check.
"""

import os

from twisted.internet import defer
from twisted.logger import Logger

from ovsdbus.openflow import flows as oftext
from ovsdbus.openflow.ofctl import Ofctl
from ovsdbus.ovsdb.errors import Disconnected, InvalidArgs, NotFound, NotSupported, OvsdbusError
from ovsdbus.vswitch.errors import CommandFailed

log = Logger()

#: OpenFlow versions a bridge's ``protocols`` column may name, oldest first.
VERSIONS = ("OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15")

#: What ovs-vswitchd allows when ``protocols`` is empty (OVS 2.x/3.x: every version it knows).
DEFAULT_VERSIONS = VERSIONS

#: Versions that carry OpenFlow bundles.
BUNDLE_VERSIONS = ("OpenFlow14", "OpenFlow15")

#: Options each verb takes, with their Python types.
OPTION_TYPES = {"bundle": bool, "protocols": str, "persist": bool, "strict": bool, "cookie": int,
                "cookie_mask": int}
_VERB_OPTIONS = {
    "add_flows": ("bundle", "protocols", "persist", "cookie"),
    "delete_flows": ("bundle", "protocols", "strict", "cookie", "cookie_mask"),
    "replace_flows": ("protocols", "persist", "cookie", "cookie_mask", "bundle"),
    "dump_flows": ("protocols", "cookie", "cookie_mask"),
    "add_groups": ("bundle", "protocols"),
    "delete_groups": ("bundle", "protocols"),
    "dump_groups": ("protocols",),
}

#: Most flows or groups one call may carry.
MAX_ENTRIES = 100000

#: Seconds between the periodic checks of persisted flows.
DEFAULT_CHECK_INTERVAL = 10.0

#: Seconds to wait after an OVSDB change that hints at a restart before checking (changes come in bursts).
CHECK_DELAY = 0.2


def check_options(verb, options):
    """``options`` (``{name: value}``) checked against what ``verb`` takes; InvalidArgs naming the bad one."""
    allowed = _VERB_OPTIONS[verb]
    checked = {}
    for name, value in (options or {}).items():
        if name not in allowed:
            raise InvalidArgs("unknown option %r (this method takes %s)" % (name, ", ".join(allowed)))
        kind = OPTION_TYPES[name]
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
                raise InvalidArgs("option %r must be an unsigned 64-bit integer" % name)
        elif not isinstance(value, kind):
            raise InvalidArgs("option %r must be a %s" % (name, "boolean" if kind is bool else "string"))
        checked[name] = value
    if "protocols" in checked:
        names = [p.strip() for p in checked["protocols"].split(",") if p.strip()]
        unknown = [p for p in names if p not in VERSIONS]
        if not names or unknown:
            raise InvalidArgs("option 'protocols' must name OpenFlow versions (%s), comma-separated; not %r"
                              % (", ".join(VERSIONS), checked["protocols"]))
        checked["protocols"] = names
    return checked


def choose_version(bridge, allowed, requested, bundle):
    """The ``-O`` value for ovs-ofctl: the versions ``requested`` (or, by default, OpenFlow14 or
    15 when the bridge ``allowed`` them, else its newest), refusing a bundle without 1.4+."""
    allowed = list(allowed) or list(DEFAULT_VERSIONS)
    if requested:
        if bundle and not set(requested) & set(BUNDLE_VERSIONS):
            raise NotSupported("not supported", "a bundle needs OpenFlow14 or OpenFlow15 in option 'protocols' "
                               "(asked for %s)" % ",".join(requested))
        return ",".join(requested)
    for version in BUNDLE_VERSIONS:
        if version in allowed:
            return version
    if bundle:
        raise NotSupported("not supported",
                           "bridge %s allows only %s; atomic changes (OpenFlow bundles) need OpenFlow14 or later: "
                           "add OpenFlow14 to the bridge's protocols column (e.g. ovs-vsctl set bridge %s "
                           "protocols=%s,OpenFlow14), or pass bundle: false for a change that is not atomic"
                           % (bridge, ",".join(allowed), bridge, ",".join(allowed)))
    return max(allowed, key=VERSIONS.index)


def _check_text(name, text):
    if not isinstance(text, str) or any(c in text for c in "\n\r\0"):
        raise InvalidArgs("%s must be one line of text" % name)
    if text.lstrip().startswith("-"):
        raise InvalidArgs("%s must not start with '-'" % name)


class FlowService:
    """Flows and groups of the bridges ovs-vswitchd runs, through :class:`~ovsdbus.openflow.ofctl.Ofctl`.

    :param connection: the :class:`~ovsdbus.ovsdb.connection.OvsdbConnection` (its replica
        says which bridges exist and their ``protocols``; its updates trigger the checks of
        persisted flows).
    :param rundir: OVS's run directory, where each bridge's ``<name>.mgmt`` socket is.
    :param store: a :class:`~ovsdbus.openflow.store.FlowStore`, or None (``persist`` is then NotSupported).
    :param check_interval: seconds between checks of persisted flows (0: only on OVSDB hints).
    """

    def __init__(self, reactor, connection, rundir, ofctl=None, store=None, check_interval=DEFAULT_CHECK_INTERVAL):
        self.reactor = reactor
        self.connection = connection
        self.rundir = rundir
        self.ofctl = ofctl or Ofctl(reactor)
        self.store = store
        self.check_interval = check_interval
        self._listeners = []
        self._locks = {}
        self._pending_check = None
        self._check_bridges = set()
        self._periodic = None
        self._loaded = False
        self._synced = False
        self._parsed = {}   # bridge -> ((version, persisted lines), their flow_mods)
        if store is not None:
            connection.add_observer(self._replica_changed)
            connection.add_state_observer(self._state_changed)

    # -- life ---------------------------------------------------------------------------

    def add_listener(self, listener):
        """Call ``listener(bridge, cookie)`` after each change made through this service."""
        self._listeners.append(listener)

    def start(self):
        """Load the state file, once (done when ovsdbus first syncs with OVSDB, so that it knows
        the bridges before it checks their flows)."""
        if self.store is not None and not self._loaded:
            self._loaded = True
            self.store.load()

    def stop(self):
        """Cancel the pending checks (done whenever the OVSDB connection is lost)."""
        self._synced = False
        for call in (self._pending_check, self._periodic):
            if call is not None and call.active():
                call.cancel()
        self._pending_check = self._periodic = None
        self._check_bridges = set()

    def _state_changed(self, synced):
        if not synced:
            self.stop()
            return
        self.start()
        self._synced = True
        if self.store.bridges:
            self._schedule_check(set(self.store.bridges))
        self._arm_periodic()

    def _arm_periodic(self):
        if (self._synced and self.check_interval and self.store is not None and self.store.bridges
                and (self._periodic is None or not self._periodic.active())):
            self._periodic = self.reactor.callLater(self.check_interval, self._periodic_check)

    # -- bridges --------------------------------------------------------------------------

    def _bridge_row(self, bridge):
        if not isinstance(bridge, str) or not bridge:
            raise InvalidArgs("bridge name must not be empty")
        replica = self.connection.replica
        if replica is None or not self.connection.synced:
            raise Disconnected("not connected to ovsdb-server (needed to know the bridge)")
        uuid = replica.find("Bridge", name=bridge)
        if uuid is None:
            raise NotFound("no bridge named %r" % bridge)
        return replica.row("Bridge", uuid)

    def target(self, bridge):
        """The ovs-ofctl target of ``bridge``: ``unix:<rundir>/<bridge>.mgmt``."""
        if "/" in bridge or bridge in (".", ".."):
            raise InvalidArgs("bridge %r has no management socket (its name is not a file name)" % bridge)
        return "unix:" + os.path.join(self.rundir, bridge + ".mgmt")

    def _version(self, bridge, options, bundle):
        row = self._bridge_row(bridge)
        allowed = [p for p in VERSIONS if p in set(row.get("protocols") or ())]
        return choose_version(bridge, allowed, options.get("protocols"), bundle)

    def _lock(self, bridge):
        lock = self._locks.get(bridge)
        if lock is None:
            lock = self._locks[bridge] = defer.DeferredLock()
        return lock

    def _serialised(self, bridge, f, *args):
        """Run ``f(*args)`` (a Deferred) once the bridge's earlier changes are done."""
        lock = self._lock(bridge)
        d = lock.run(f, *args)

        def forget(result):
            if not lock.locked and not lock.waiting:
                self._locks.pop(bridge, None)
            return result
        return d.addBoth(forget)

    def _changed(self, bridge, cookie):
        for listener in self._listeners:
            try:
                listener(bridge, cookie)
            except Exception:
                log.failure("FlowsChanged listener failed")

    # -- running ovs-ofctl ---------------------------------------------------------------------

    @defer.inlineCallbacks
    def _ofctl(self, bridge, version, command, args=(), lines=None, flags=(), what="flows"):
        argv = ["-O", version, *flags, "--", command, self.target(bridge), *args]
        stdin = ""
        if lines is not None:
            argv.append("-")
            stdin = "".join(line + "\n" for line in lines)
        result = yield self.ofctl.run(argv, stdin)
        if not result.ok:
            raise oftext.error_for(result.stderr, lines or (), what, bridge)
        return result

    @defer.inlineCallbacks
    def _parse_flows(self, bridge, version, lines, shown=None):
        """The flow_mods ``lines`` encode, parsed by ``ovs-ofctl parse-flows`` (no switch needed);
        an error names the entry of ``shown`` (default ``lines``: what the caller wrote)."""
        result = yield self.ofctl.run(["-O", version, "--", "parse-flows", "-"],
                                      "".join(line + "\n" for line in lines))
        if not result.ok:
            raise oftext.error_for(result.stderr, shown or lines, "flows", bridge)
        mods = oftext.parse_flow_mods(result.stdout)
        if len(mods) != len(lines):
            raise CommandFailed("ovs-ofctl parse-flows gave %d flow_mods for %d flows" % (len(mods), len(lines)))
        return mods

    @defer.inlineCallbacks
    def _parsed_record(self, bridge, version, lines):
        """:meth:`_parse_flows` of a bridge's persisted flows, kept until the record changes, so a
        periodic check costs one ``dump-flows``."""
        key = (version, tuple(lines))
        cached = self._parsed.get(bridge)
        if cached is not None and cached[0] == key:
            return cached[1]
        mods = yield self._parse_flows(bridge, version, lines)
        self._parsed[bridge] = (key, mods)
        return mods

    @defer.inlineCallbacks
    def _add_flows_error(self, stderr, bridge, version, lines, sent, shown=None):
        """The error of a failed ``add-flows`` of ``sent`` (made from ``lines``, the caller's flows
        with their cookie; ``shown``: as the caller wrote them): when ovs-vswitchd refused one
        flow_mod, InvalidArgs naming the caller's flow by its 0-based index."""
        shown = shown or lines
        error = oftext.error_for(stderr, shown if sent is lines else sent, "flows", bridge)
        refused = oftext.switch_error(stderr)
        if refused is None:
            return error
        name, message = refused
        target = oftext.parse_flow_mod(message)
        try:
            mods = yield self._parse_flows(bridge, version, lines)
        except OvsdbusError:
            return error
        for index, mod in enumerate(mods):
            if target is not None and mod.key == target.key and mod.setting == target.setting:
                return InvalidArgs("flows[%d] (%r) refused by ovs-vswitchd: %s"
                                   % (index, shown[index], name))
        return error

    def _install(self, bridge, version, lines, bundle, command, flags=(), what="flows"):
        flags = (*flags, "--bundle") if bundle else tuple(flags)
        return self._ofctl(bridge, version, command, lines=lines, flags=flags, what=what)

    # -- flows -----------------------------------------------------------------------------------

    def add_flows(self, bridge, flows, options=None):
        """Add ``flows`` (ovs-ofctl flow syntax, one per string) to ``bridge``: all or none, in
        one bundle.  Options: bundle, protocols, cookie (given to each flow that names none),
        persist (keep the flows of ``cookie`` across ovs-vswitchd restarts)."""
        return defer.maybeDeferred(self._prepare_add, bridge, flows, options)

    def _prepare_add(self, bridge, flows, options):
        options = check_options("add_flows", options)
        self._check_entries(flows, "flows")
        bundle = options.get("bundle", True)
        version = self._version(bridge, options, bundle)
        cookie = options.get("cookie")
        persist = self._persist_option(options, cookie, oftext.ALL_BITS)
        lines = list(flows)
        if cookie is not None:
            for index, line in enumerate(lines):
                if oftext.has_cookie(line):
                    raise InvalidArgs("flows[%d] sets its own cookie; leave it out when option 'cookie' is given"
                                      % index)
            lines = [oftext.with_cookie(line, cookie) for line in lines]
        if not lines:
            return None
        return self._serialised(bridge, self._add, bridge, version, lines, bundle, cookie or 0, persist, list(flows))

    @defer.inlineCallbacks
    def _add(self, bridge, version, lines, bundle, cookie, persist, shown):
        result = yield self.ofctl.run(["-O", version, *(("--bundle",) if bundle else ()), "--", "add-flows",
                                       self.target(bridge), "-"], "".join(line + "\n" for line in lines))
        if not result.ok:
            raise (yield self._add_flows_error(result.stderr, bridge, version, lines, lines, shown))
        yield self._record(bridge, version, [cookie], persist)
        self._changed(bridge, cookie)

    def delete_flows(self, bridge, matches, options=None):
        """Delete the flows ``matches`` select (one ``del-flows`` match per string, ``""`` for
        all; ``strict``: exact match and priority) on ``bridge``, limited to ``cookie``/``cookie_mask``
        when given: all or none, in one bundle."""
        return defer.maybeDeferred(self._prepare_delete, bridge, matches, options)

    def _prepare_delete(self, bridge, matches, options):
        options = check_options("delete_flows", options)
        self._check_entries(matches, "matches")
        bundle = options.get("bundle", True)
        version = self._version(bridge, options, bundle)
        cookie = options.get("cookie")
        mask = options.get("cookie_mask", oftext.ALL_BITS if cookie is not None else None)
        if mask is not None and cookie is None:
            cookie = 0
        lines = []
        for index, match in enumerate(matches):
            if cookie is not None:
                if oftext.has_cookie(match):
                    raise InvalidArgs("matches[%d] names a cookie; leave it out when option 'cookie' is given"
                                      % index)
                match = ("cookie=%#x/%#x,%s" % (cookie, mask, match.strip())).rstrip(",")
            elif not match.strip():
                match = "cookie=0/0"   # an empty line would be skipped: this one matches every flow
            lines.append(match)
        if not lines:
            return None
        flags = ("--strict",) if options.get("strict") else ()
        return self._serialised(bridge, self._delete, bridge, version, lines, bundle, flags, cookie or 0)

    @defer.inlineCallbacks
    def _delete(self, bridge, version, lines, bundle, flags, cookie):
        yield self._install(bridge, version, lines, bundle, "del-flows", flags, "matches")
        if self.store is not None:
            yield self._record(bridge, version, list(self.store.cookies(bridge)), None)
        self._changed(bridge, cookie)

    def replace_flows(self, bridge, flows, options=None):
        """Make the flows of ``bridge`` under ``cookie``/``cookie_mask`` (default 0 and all bits)
        exactly ``flows``, in one bundle that adds, replaces and deletes only the difference;
        flows of other cookies are untouched.  A Deferred ``{added, modified, deleted, unchanged}``."""
        return defer.maybeDeferred(self._prepare_replace, bridge, flows, options)

    def _prepare_replace(self, bridge, flows, options):
        options = check_options("replace_flows", options)
        self._check_entries(flows, "flows")
        if options.get("bundle", True) is False:
            raise InvalidArgs("ReplaceFlows is always one bundle; option 'bundle' cannot be false")
        version = self._version(bridge, options, True)
        cookie = options.get("cookie", 0)
        mask = options.get("cookie_mask", oftext.ALL_BITS)
        if cookie & ~mask:
            raise InvalidArgs("option 'cookie' %#x has bits outside 'cookie_mask' %#x" % (cookie, mask))
        persist = self._persist_option(options, cookie, mask)
        lines = [oftext.with_cookie(line, cookie) for line in flows]
        return self._serialised(bridge, self._replace, bridge, version, lines, cookie, mask, persist, list(flows))

    @defer.inlineCallbacks
    def _replace(self, bridge, version, lines, cookie, mask, persist, shown):
        mods = (yield self._parse_flows(bridge, version, lines, shown)) if lines else []
        for index, mod in enumerate(mods):
            if mod.cookie & mask != cookie & mask:
                raise InvalidArgs("flows[%d] has cookie %#x, outside cookie %#x/%#x"
                                  % (index, mod.cookie, cookie, mask))
        current = yield self._dump(bridge, version, "cookie=%#x/%#x" % (cookie, mask), stats=False, internal=False)
        change = oftext.difference(current, mods, lines)
        if change.lines:
            result = yield self.ofctl.run(["-O", version, "--bundle", "--", "add-flows", self.target(bridge), "-"],
                                          "".join(line + "\n" for line in change.lines))
            if not result.ok:
                raise (yield self._add_flows_error(result.stderr, bridge, version, lines, change.lines, shown))
        if self.store is not None:
            if persist is False:
                self.store.forget(bridge, cookie)
            elif persist or self.store.persisted(bridge, cookie):
                self.store.put(bridge, cookie, lines)
            self._arm_periodic()
        if change.lines:
            self._changed(bridge, cookie)
        return {"added": change.added, "modified": change.modified, "deleted": change.deleted,
                "unchanged": change.unchanged}

    def dump_flows(self, bridge, match="", options=None):
        """The flows of ``bridge`` that ``match`` selects (``""``: all), as :class:`~ovsdbus.openflow.flows.Flow`."""
        return defer.maybeDeferred(self._prepare_dump, bridge, match, options)

    def _prepare_dump(self, bridge, match, options):
        options = check_options("dump_flows", options)
        _check_text("match", match)
        version = self._version(bridge, options, False)
        if "cookie" in options or "cookie_mask" in options:
            if oftext.has_cookie(match):
                raise InvalidArgs("match names a cookie; leave it out when option 'cookie' is given")
            selector = "cookie=%#x/%#x" % (options.get("cookie", 0), options.get("cookie_mask", oftext.ALL_BITS))
            match = selector + ("," + match.strip() if match.strip() else "")
        return self._dump(bridge, version, match.strip())

    @defer.inlineCallbacks
    def _dump(self, bridge, version, match, stats=True, internal=True):
        args = [match] if match else []
        flags = () if stats else ("--no-stats",)
        result = yield self._ofctl(bridge, version, "dump-flows", args, flags=flags, what="match")
        flows = oftext.parse_dump_flows(result.stdout)
        if not internal:
            flows = [f for f in flows if f.table != oftext.INTERNAL_TABLE]
        return flows

    # -- groups ----------------------------------------------------------------------------------

    def add_groups(self, bridge, groups, options=None):
        """Add ``groups`` (ovs-ofctl group syntax) to ``bridge``: all or none, in one bundle."""
        return defer.maybeDeferred(self._prepare_groups, "add_groups", "add-groups", bridge, groups, options)

    def delete_groups(self, bridge, groups, options=None):
        """Delete the groups ``groups`` names (``group_id=N``, or ``""`` for all) from ``bridge``."""
        return defer.maybeDeferred(self._prepare_groups, "delete_groups", "del-groups", bridge, groups, options)

    def _prepare_groups(self, verb, command, bridge, groups, options):
        options = check_options(verb, options)
        self._check_entries(groups, "groups" if verb == "add_groups" else "matches")
        bundle = options.get("bundle", True)
        version = self._version(bridge, options, bundle)
        lines = [g if g.strip() else "group_id=all" for g in groups]
        if not lines:
            return None

        @defer.inlineCallbacks
        def run():
            yield self._install(bridge, version, lines, bundle, command, what="groups")
            self._changed(bridge, 0)
        return self._serialised(bridge, run)

    def dump_groups(self, bridge, match="", options=None):
        """The groups of ``bridge`` (``match``: ``""`` for all, or ``group_id=N``), as
        :class:`~ovsdbus.openflow.flows.Group`."""
        return defer.maybeDeferred(self._prepare_dump_groups, bridge, match, options)

    def _prepare_dump_groups(self, bridge, match, options):
        options = check_options("dump_groups", options)
        _check_text("match", match)
        wanted = None
        if match.strip():
            key, _, value = match.strip().partition("=")
            try:
                wanted = int(value, 0)
            except ValueError:
                wanted = None
            if key != "group_id" or wanted is None:
                raise InvalidArgs("match must be '' or 'group_id=N', not %r" % match)
        version = self._version(bridge, options, False)
        d = self._ofctl(bridge, version, "dump-groups", what="match")
        return d.addCallback(lambda result: [g for g in oftext.parse_dump_groups(result.stdout)
                                             if wanted is None or g.group_id == wanted])

    # -- persistence -----------------------------------------------------------------------------

    def _persist_option(self, options, cookie, mask):
        self.start()
        persist = options.get("persist")
        if persist and self.store is None:
            raise NotSupported("not supported", "this service has no state directory to persist flows in")
        if persist and (cookie is None or mask != oftext.ALL_BITS):
            raise InvalidArgs("option 'persist' needs option 'cookie' (and no partial 'cookie_mask'): flows are "
                              "kept per bridge and cookie")
        return persist

    @defer.inlineCallbacks
    def _record(self, bridge, version, cookies, persist):
        """Record what ``bridge`` now holds under each of ``cookies`` that is persisted (or,
        with ``persist``, is to be)."""
        if self.store is None:
            return
        for cookie in cookies:
            if persist is False:
                self.store.forget(bridge, cookie)
                continue
            if not (persist or self.store.persisted(bridge, cookie)):
                continue
            flows = yield self._dump(bridge, version, "cookie=%#x/%#x" % (cookie, oftext.ALL_BITS),
                                     stats=False, internal=False)
            self.store.put(bridge, cookie, [f.text() for f in flows])
        self._arm_periodic()

    def _check_entries(self, entries, what):
        oftext.check_lines(entries, what)
        if len(entries) > MAX_ENTRIES:
            raise InvalidArgs("at most %d %s per call" % (MAX_ENTRIES, what))

    def _replica_changed(self, changes):
        if not self._synced or self.store is None or not self.store.bridges:
            return
        persisted = set(self.store.bridges)
        hinted = set()
        for change in changes:
            if change.table == "Bridge" and change.new is not None and change.new.get("name") in persisted:
                if change.kind == "insert":
                    hinted.add(change.new["name"])
            elif change.table == "Interface" and change.new is not None:
                old = change.old or {}
                if change.kind == "insert" or any(old.get(c) != change.new.get(c) for c in ("ofport", "mac_in_use")):
                    hinted |= persisted
            elif change.table == "Open_vSwitch" and change.new is not None and change.old is not None:
                if change.old.get("cur_cfg") != change.new.get("cur_cfg"):
                    hinted |= persisted
        if hinted:
            self._schedule_check(hinted)

    def _schedule_check(self, bridges):
        self._check_bridges |= bridges
        if self._pending_check is None or not self._pending_check.active():
            self._pending_check = self.reactor.callLater(CHECK_DELAY, self._run_checks)

    def _run_checks(self):
        self._pending_check = None
        bridges, self._check_bridges = self._check_bridges, set()
        for bridge in sorted(bridges):
            self.check_bridge(bridge)

    def _periodic_check(self):
        self._periodic = None
        if self.store is not None and self.store.bridges:
            self._schedule_check(set(self.store.bridges))
        self._arm_periodic()

    def check_bridge(self, bridge):
        """Install again, in one bundle, the persisted flows ``bridge`` lacks (a Deferred of the
        number of flow_mods sent; errors are logged, and the next check tries again)."""
        d = defer.maybeDeferred(self._prepare_check, bridge)

        def failed(failure):
            if failure.check(NotFound):   # deleted; its flows come back if it is created again
                log.debug("persisted flows of bridge {bridge} not checked: {error}", bridge=bridge,
                          error=failure.getErrorMessage())
            elif failure.check(OvsdbusError):
                log.info("persisted flows of bridge {bridge} not checked: {error}", bridge=bridge,
                         error=failure.getErrorMessage())
            else:
                log.failure("checking the persisted flows of bridge {bridge} failed", failure, bridge=bridge)
            return 0
        return d.addErrback(failed)

    def _prepare_check(self, bridge):
        cookies = self.store.cookies(bridge) if self.store is not None else {}
        if not cookies:
            return 0
        version = self._version(bridge, {}, True)
        return self._serialised(bridge, self._reinstall, bridge, version, cookies)

    @defer.inlineCallbacks
    def _reinstall(self, bridge, version, cookies):
        lines = [line for cookie in sorted(cookies) for line in cookies[cookie]]
        mods = (yield self._parsed_record(bridge, version, lines)) if lines else []
        dumped = yield self._dump(bridge, version, "", stats=False, internal=False)
        current = [f for f in dumped if f.cookie in cookies]
        change = oftext.difference(current, mods, lines)
        if not change.lines:
            return 0
        yield self._ofctl(bridge, version, "add-flows", lines=list(change.lines), flags=("--bundle",))
        log.info("bridge {bridge}: installed persisted flows again ({added} added, {modified} replaced, "
                 "{deleted} deleted)", bridge=bridge, added=change.added, modified=change.modified,
                 deleted=change.deleted)
        for cookie in sorted(cookies):
            self._changed(bridge, cookie)
        return len(change.lines)
