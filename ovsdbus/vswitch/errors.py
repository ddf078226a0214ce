"""Errors about the switch itself rather than its database: ovs-vswitchd did not apply a change,
or could not be reached.  Like :mod:`ovsdbus.ovsdb.errors` they carry no D-Bus names; the D-Bus
adapter names them by :mod:`ovsdbus.api.errors`."""

from ovsdbus.ovsdb.errors import OvsdbusError


class ApplyFailed(OvsdbusError):
    """ovs-vswitchd took the configuration but could not set up some interfaces.  The change stays
    committed; ``failures`` is ``[(interface name, error text)]``."""

    def __init__(self, message, failures=()):
        super().__init__(message)
        self.failures = list(failures)


class NotApplied(OvsdbusError):
    """ovs-vswitchd did not take the committed configuration in time (stopped or stuck); the change
    stays committed and is applied when ovs-vswitchd takes it."""


class SwitchUnavailable(OvsdbusError):
    """ovs-vswitchd is not running or does not answer (its OpenFlow management socket)."""


class CommandFailed(OvsdbusError):
    """A helper program (ovs-ofctl) failed for a reason no other error covers; the message has its output."""
