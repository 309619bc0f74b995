#!/usr/bin/python3
"""Writes a screenshot of the lesson page's decoded-token step (make screenshot).

    LATCH_BIN=build/release/latch scripts/ui-screenshot.py [OUT.png]

Starts latch with LATCH_UI=1 on a random loopback port with a throwaway data
dir (the integration harness's LatchServer), lets Chromium register and log in
as ada@example.com through the page (tests/integration/js/ui_flow.mjs), saves
step 2 as OUT.png (default docs/ui.png), and stops latch and the browser.
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "integration"))
sys.dont_write_bytecode = True     # no __pycache__ in the source tree
os.environ.setdefault("LATCH_BIN", "build/release/latch")

import harness  # noqa: E402


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                          os.path.join(REPO_ROOT, "docs", "ui.png"))
    reason = harness.browser_ready()
    if reason is not None:
        sys.stderr.write("screenshot: %s\n" % reason)
        return 1
    with harness.LatchServer(env={"LATCH_UI": "1"}) as server:
        result = harness.ui_flow({
            "url": server.url + "/", "email": "ada@example.com",
            "password": "correct horse battery", "width": 1100, "height": 900,
            "screenshot": out,
        })
    problems = result["pageErrors"] + result["cspViolations"]
    if problems or result["steps"]["login"]["status"] != 200:
        sys.stderr.write("screenshot: the page did not reach step 2 cleanly: %s\n"
                         % (problems or result["steps"]))
        return 1
    print("screenshot: wrote %s" % os.path.relpath(out, REPO_ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
