"""What the benchmarks share: running a benchmark client in its own process and reading its
one-line JSON answer, and running bench/client.py with a scenario of a benchmark's own."""

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_client_process(script, *args, timeout=900):
    """Run ``python bench/SCRIPT ARGS`` (the checkout on its PYTHONPATH) and return the JSON object its
    last line of output holds; exit with the client's output when it failed."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    out = subprocess.run([sys.executable, str(HERE / script), *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=timeout)
    try:
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit("benchmark client failed:\n%s\n%s" % (out.stdout, out.stderr)) from None
    if "error" in result:
        raise SystemExit("benchmark client failed: %s" % result["error"])
    return result


def run_client_with(name, scenario, argv):
    """Run bench/client.py's main with ``argv``, its scenarios extended by ``name`` -> ``scenario``."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    import client
    from twisted.internet import reactor

    client.SCENARIOS[name] = scenario
    reactor.callWhenRunning(client.main, *argv)
    reactor.run()
