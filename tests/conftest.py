"""pytest configuration: under CI, a skipped test fails the run.

Tests that need real programs (ovsdb-server, dbus-daemon, ...) skip on a developer machine that
lacks them.  CI installs them (``./dev``), so a skip there means a test did not run that should
have: the run must not look green.  trial runs do not read this file; the tests themselves also
fail instead of skipping when ``CI`` is set.
"""

import os

import pytest


def _skipped(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter.stats.get("skipped", []) if reporter is not None else []


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") and _skipped(session.config) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skipped = _skipped(config)
    if os.environ.get("CI") and skipped:
        terminalreporter.section("skipped under CI", sep="=", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} test(s) skipped while CI is set: under CI every test must run "
            "(install what they need: ./dev does). Failing the run."
        )
        for report in skipped:
            reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else ""
            terminalreporter.write_line(f"  {report.nodeid}: {reason}")
