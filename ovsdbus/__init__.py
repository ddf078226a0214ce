"""ovsdbus: Open vSwitch's database (OVSDB) on D-Bus."""

__version__ = "0.1.0"
