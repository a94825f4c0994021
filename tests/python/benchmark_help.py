"""`python benchmarks/<script>.py <documented arguments> --help` for many commands in one interpreter.

Each benchmark imports torch and sentence-transformers before it parses its arguments (seconds a
start); run one after another here, they share those imports. A script runs as `__main__` with the
documented arguments and `--help` last: argparse checks each value's type as it reads it, then prints the
help and exits, so no benchmark runs. Reads a JSON list of commands on stdin, writes a JSON list of
{returncode, stdout, stderr} in the same order.
"""

from __future__ import annotations

import contextlib
import io
import json
import runpy
import shlex
import sys
import traceback
from pathlib import Path


def help_of(command: str) -> dict[str, object]:
    words = shlex.split(command, comments=True)  # a trailing `# comment` would swallow --help
    script, arguments = words[1], words[2:]
    with open(script, encoding="utf-8") as source:
        if "argparse" not in source.read():  # it would run, not print its help
            return {"returncode": 1, "stdout": "", "stderr": f"{script} parses no options with argparse"}
    stdout, stderr = io.StringIO(), io.StringIO()
    sys.argv = [script, *arguments, "--help"]
    sys.path[0] = str(Path(script).resolve().parent)  # as `python <script>` sets it: its sibling modules
    returncode: object = "the script did not exit at --help"
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exit_:
            returncode = exit_.code or 0
        except Exception:  # as `python <script>` would fail: the traceback, exit status 1
            traceback.print_exc()
            returncode = 1
    return {"returncode": returncode, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


if __name__ == "__main__":
    print(json.dumps([help_of(command) for command in json.load(sys.stdin)]))
