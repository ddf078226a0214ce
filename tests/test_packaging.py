"""The package as built (setup.cfg, the Debian package) holds every module of the source tree."""

import configparser
import os
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PackagingTests(unittest.TestCase):
    def test_every_package_is_listed_in_setup_cfg(self):
        """Every directory of ovsdbus/ with an __init__.py is in setup.cfg's packages, so that the wheel
        and the Debian package built from it ship it (a package left out installs, then fails to import)."""
        config = configparser.ConfigParser()
        config.read(os.path.join(ROOT, "setup.cfg"))
        listed = set(config["options"]["packages"].split())
        found = set()
        for directory, dirs, files in os.walk(os.path.join(ROOT, "ovsdbus")):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if "__init__.py" in files:
                found.add(os.path.relpath(directory, ROOT).replace(os.sep, "."))
        self.assertEqual(found - listed, set())
