#!/usr/bin/python3
"""Runs latch's integration tests against the real binary.

    /usr/bin/python3 tests/integration/run.py [SUBSTRING]
    T=SUBSTRING /usr/bin/python3 tests/integration/run.py

Discovers tests/integration/test_*.py (unittest TestCase classes and plain
test_* functions), runs those whose name contains SUBSTRING, prints one line
per test (`ok   name`, `FAIL name: reason`, `SKIP name: reason`) and, as the
last line, `N passed, N failed, N skipped`.  Details of failures (traceback,
the server's log) go to stderr.  Exits 1 if any test failed.

LATCH_BIN selects the binary (default build/asan/latch under the repo root).
"""

import importlib
import inspect
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True     # no __pycache__ in the source tree

import harness  # noqa: E402
import openapi_check  # noqa: E402


def test_name(test):
    if isinstance(test, unittest.FunctionTestCase):
        func = test._testFunc
        return "%s.%s" % (func.__module__, func.__name__)
    test_id = test.id()
    return test_id


def discover():
    tests = []
    for filename in sorted(os.listdir(HERE)):
        if not (filename.startswith("test_") and filename.endswith(".py")):
            continue
        module = importlib.import_module(filename[:-3])
        loader = unittest.TestLoader()
        tests.extend(_flatten(loader.loadTestsFromModule(module)))
        for name, func in sorted(vars(module).items()):
            if name.startswith("test_") and inspect.isfunction(func) \
                    and func.__module__ == module.__name__:
                tests.append(unittest.FunctionTestCase(func))
    return tests


def _flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _flatten(item)
        else:
            yield item


def _reason(exc_type, exc_value):
    text = str(exc_value).strip()
    first = text.splitlines()[0] if text else exc_type.__name__
    if exc_type is not AssertionError and not issubclass(exc_type, AssertionError):
        first = "%s: %s" % (exc_type.__name__, first)
    return first[:300]


class LineResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n_passed = 0
        self.n_failed = 0
        self.n_skipped = 0
        self._start = {}

    def startTest(self, test):
        super().startTest(test)
        harness.test_started()
        self._start[id(test)] = time.monotonic()

    def _elapsed(self, test):
        start = self._start.get(id(test))
        return "" if start is None else " (%.1fs)" % (time.monotonic() - start)

    def addSuccess(self, test):
        # A response docs/openapi.yaml does not describe fails the test that
        # received it, even when the Mismatch raised in the HTTP hook was
        # swallowed (a request made in a thread, a broad except).
        if self._openapi_failure(test):
            return
        super().addSuccess(test)
        self.n_passed += 1
        _out("ok   %s%s" % (test_name(test), self._elapsed(test)))

    def _openapi_failure(self, test):
        mismatches = openapi_check.take_mismatches()
        if not mismatches:
            return False
        try:
            raise openapi_check.Mismatch("\n".join(mismatches))
        except openapi_check.Mismatch:
            err = sys.exc_info()
        super().addFailure(test, err)
        self._fail(test, err, mismatches)
        return True

    def _fail(self, test, err, mismatches=None):
        self.n_failed += 1
        name = test_name(test) if isinstance(test, unittest.TestCase) else str(test)
        _out("FAIL %s: %s" % (name, _reason(err[0], err[1])))
        details = "".join(traceback.format_exception(*err))
        if mismatches is None:
            mismatches = openapi_check.take_mismatches()
        for mismatch in mismatches:
            details += "  also: %s\n" % mismatch
        sys.stderr.write("---- %s\n%s" % (name, details))
        for server in harness.servers_for_report():
            sys.stderr.write("  latch log (%s, data dir %s):\n%s\n"
                             % (harness.LATCH_BIN, server.data_dir, server.log_tail(30)))
        sys.stderr.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            # Each failing sub-test is reported (and counted) on its own; the
            # parent test then gets no addSuccess.
            self._fail(subtest, err)

    def addSkip(self, test, reason):
        if self._openapi_failure(test):
            return
        super().addSkip(test, reason)
        self.n_skipped += 1
        _out("SKIP %s: %s" % (test_name(test), reason))

    def addExpectedFailure(self, test, err):
        if self._openapi_failure(test):
            return
        super().addExpectedFailure(test, err)
        self.n_passed += 1
        _out("ok   %s (expected failure)" % test_name(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.n_failed += 1
        _out("FAIL %s: unexpected success" % test_name(test))


def _out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main():
    pattern = os.environ.get("T", "")
    if len(sys.argv) > 1:
        pattern = sys.argv[1]
    os.chdir(harness.REPO_ROOT)
    result = LineResult()
    try:
        tests = [t for t in discover() if pattern in test_name(t)]
    except Exception:
        traceback.print_exc()
        _out("FAIL discovery: %s" % _reason(*sys.exc_info()[:2]))
        _out("0 passed, 1 failed")
        return 1
    if not tests:
        sys.stderr.write("no test matches %r\n" % pattern)
    # Running a flat suite lets unittest call setUpModule/setUpClass and their
    # teardowns exactly once per module and class among the selected tests.
    unittest.TestSuite(tests).run(result)
    # Responses after the last test (a tearDownModule) belong to no test line.
    leftover = openapi_check.take_mismatches()
    if leftover:
        result.n_failed += 1
        _out("FAIL openapi (after the last test): %s" % leftover[0][:300])
        sys.stderr.write("---- openapi\n%s\n" % "\n".join(leftover))
    counts = openapi_check.counts()
    _out("openapi: %d responses validated against docs/openapi.yaml%s; exempt: %d 404s for "
         "paths that are not routes"
         % (counts["validated"], "" if openapi_check.ENABLED else " (LATCH_OPENAPI_VALIDATE=0: "
            "validation OFF)", counts["unknown_path_404"]))
    summary = "%d passed, %d failed" % (result.n_passed, result.n_failed)
    if result.n_skipped:
        summary += ", %d skipped" % result.n_skipped
    _out(summary)
    return 1 if result.n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
