"""The one table from error class to D-Bus error name (ovsdbus.api.errors)."""

import inspect

from twisted.trial.unittest import TestCase

from ovsdbus.api import errors as api_errors
from ovsdbus.api.errors import FAILED, dbus_error_name
from ovsdbus.ovsdb import errors


class ErrorNameTests(TestCase):
    def test_mapped_errors_have_distinct_names(self):
        """Each OVSDB error a caller may want to react to crosses D-Bus under its own name, so callers can
        tell them apart."""
        names = {dbus_error_name(cls("x")) for cls in (
            errors.ConstraintViolation, errors.ReferentialIntegrity, errors.ResourcesExhausted,
            errors.NotSupported, errors.TransactionError)}
        self.assertEqual(len(names), 5)

    def test_names_unchanged(self):
        """The names callers' scripts already match on are the same as before the table existed."""
        self.assertEqual(dbus_error_name(errors.InvalidArgs("x")), "org.freedesktop.DBus.Error.InvalidArgs")
        self.assertEqual(dbus_error_name(errors.AccessDenied("x")), "org.freedesktop.DBus.Error.AccessDenied")
        self.assertEqual(dbus_error_name(errors.NotFound("x")), "org.openvswitch.ovsdb.Error.NotFound")
        self.assertEqual(dbus_error_name(errors.AlreadyExists("x")), "org.openvswitch.ovsdb.Error.AlreadyExists")
        self.assertEqual(dbus_error_name(errors.RpcError("unknown method")),
                         "org.openvswitch.ovsdb.Error.TransactionFailed")

    def test_subclass_takes_nearest_entry(self):
        """A class without its own entry (a wait that never held, a new subclass) takes its base's name;
        an error no entry covers is Failed."""
        self.assertEqual(dbus_error_name(errors.WaitTimedOut("timed out")),
                         dbus_error_name(errors.TransactionError("x")))

        class Special(errors.NotFound):
            pass

        self.assertEqual(dbus_error_name(Special("x")), "org.openvswitch.ovsdb.Error.NotFound")
        self.assertEqual(dbus_error_name(ValueError("x")), FAILED)

    def test_ambiguous_has_its_own_name(self):
        """A record name that matches several rows is Error.Ambiguous."""
        self.assertEqual(dbus_error_name(errors.Ambiguous("x")), "org.openvswitch.ovsdb.Error.Ambiguous")

    def test_every_error_class_is_named_and_lower_layer_knows_no_dbus(self):
        """Every error class of the lower layer gets a name from the table, every name has a meaning for
        the README, and the lower layer itself mentions no D-Bus name."""
        classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.OvsdbusError)]
        for cls in classes:
            self.assertFalse(hasattr(cls, "dbus_name"), cls)
        for name in api_errors.ERROR_NAMES.values():
            self.assertIn(name, api_errors.MEANINGS)
        with open(errors.__file__, encoding="utf-8") as f:
            self.assertNotIn("org.freedesktop", f.read())
