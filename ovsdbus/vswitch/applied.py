"""Waiting for ovs-vswitchd to apply a committed change (``wait: "applied"``), as ``ovs-vsctl``
without ``--no-wait`` does.

The transaction that makes the change also adds one to ``Open_vSwitch.next_cfg`` and reads the
new value back.  ovs-vswitchd copies ``next_cfg`` to ``cur_cfg`` once it has reconfigured the
switch from a database that includes it, so when the replica shows ``cur_cfg`` at least that
value, the change has been applied.  Then each interface the change created or changed (and
those of the ports it created or changed) is checked: ovs-vswitchd sets ``ofport`` to -1 or
writes ``error`` for an interface it could not set up.  Either way the change stays committed:
the database holds it, and ovs-vswitchd tries again at its next reconfiguration.
"""

from twisted.internet import defer

from ovsdbus.ovsdb.errors import Disconnected, InvalidArgs, Timeout
from ovsdbus.vswitch.errors import ApplyFailed, NotApplied

#: What a caller may ask to wait for.
WAIT_MODES = ("commit", "applied")

#: Seconds to wait for ovs-vswitchd when the caller does not say.
DEFAULT_APPLY_TIMEOUT = 10.0

#: The database whose ``next_cfg``/``cur_cfg`` ovs-vswitchd follows.
DATABASE = "Open_vSwitch"


def check_wait(wait, apply_timeout):
    """``(wait, apply_timeout)`` checked: InvalidArgs for an unknown mode or a timeout that is not a
    number of seconds above 0 and at most a day."""
    if wait not in WAIT_MODES:
        raise InvalidArgs("wait must be one of %s, not %r" % (", ".join(WAIT_MODES), wait))
    if apply_timeout is None:
        return wait, DEFAULT_APPLY_TIMEOUT
    if isinstance(apply_timeout, bool) or not isinstance(apply_timeout, (int, float)) \
            or not 0 < apply_timeout <= 86400:
        raise InvalidArgs("apply_timeout must be a number of seconds above 0 and at most 86400, not %r"
                          % (apply_timeout,))
    return wait, float(apply_timeout)


def bump_operations():
    """The operations, appended to a transaction, that make ovs-vswitchd reconfigure and tell which
    ``next_cfg`` it will report when it has: add 1 to it, then read it."""
    return [{"op": "mutate", "table": DATABASE, "where": [], "mutations": [["next_cfg", "+=", 1]]},
            {"op": "select", "table": DATABASE, "where": [], "columns": ["next_cfg"]}]


def target_from(result):
    """The ``next_cfg`` read by the last of :func:`bump_operations`, from its result."""
    try:
        return int(result["rows"][0]["next_cfg"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise InvalidArgs("the database has no Open_vSwitch row to count configurations in") from None


def interfaces_to_check(txn):
    """The Interface rows ``txn`` creates or changes, and those of the Port rows it creates or
    changes (uuids, NamedUuid for new rows)."""
    found = dict.fromkeys(txn.touched("Interface"))
    for port in txn.touched("Port"):
        row = txn.row("Port", port)
        if row is not None:
            found.update(dict.fromkeys(row["interfaces"]))
    return list(found)


def applied(replica, target):
    """Whether ovs-vswitchd has applied configuration ``target`` (its ``cur_cfg`` reached it)."""
    for row in replica.rows(DATABASE).values():
        return row["cur_cfg"] >= target
    return False


def failures(replica, interfaces):
    """``[(name, why)]`` of ``interfaces`` ovs-vswitchd could not set up."""
    found = []
    for uuid in interfaces:
        row = replica.row("Interface", uuid)
        if row is None:
            continue   # deleted since, by someone else
        error = row["error"]
        if error:
            found.append((row["name"], error))
        elif row["ofport"] == -1:
            found.append((row["name"], "ovs-vswitchd gave it no OpenFlow port (ofport -1)"))
    return sorted(found)


@defer.inlineCallbacks
def wait_applied(connection, target, interfaces, timeout, clock):
    """Fire once ovs-vswitchd has applied ``target`` and every one of ``interfaces`` is set up;
    fail with ApplyFailed (some are not) or NotApplied (no ``cur_cfg`` within ``timeout`` seconds)."""
    deadline = clock.seconds() + timeout
    while True:
        replica = connection.replica if connection.synced else None
        if replica is not None and applied(replica, target):
            break
        remaining = deadline - clock.seconds()
        if remaining <= 0:
            now = None
            if replica is not None:
                now = next((row["cur_cfg"] for row in replica.rows(DATABASE).values()), None)
            raise NotApplied(
                "ovs-vswitchd did not apply the change within %g s (cur_cfg %s, waiting for %d): it is not running "
                "or is stuck; the change is committed and is applied when ovs-vswitchd takes it"
                % (timeout, "unknown" if now is None else now, target))
        try:
            yield connection.next_change(remaining)
        except (Timeout, Disconnected):
            pass
    failed = failures(connection.replica, interfaces)
    if failed:
        raise ApplyFailed("ovs-vswitchd could not set up %d interface(s); the change is committed: %s"
                          % (len(failed), "; ".join("%s: %s" % f for f in failed)), failed)
