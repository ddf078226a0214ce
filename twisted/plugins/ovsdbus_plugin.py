"""twistd plugin: ``twistd ovsdbus`` (options and service live in ovsdbus.tap)."""

from twisted.application.service import ServiceMaker

ovsdbus = ServiceMaker("ovsdbus", "ovsdbus.tap", "Open vSwitch's database (OVSDB) on D-Bus", "ovsdbus")
