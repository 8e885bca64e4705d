#!/usr/bin/python3
"""Runs nave's end-to-end tests: every tests/e2e/test_*.py, each test class against its own
`nave server` in its own network namespace.

    /usr/bin/python3 tests/e2e/run.py --nave build/nave [-k PATTERN] [--failfast] [--keep]

Exits 0 when every test passed (skips are listed with their reason), 1 on failures, 2 when the
machine cannot run the tests at all (no nave binary, no `ip netns`, not root).
"""

import argparse
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TimedResult(unittest.TextTestResult):
    """Prints each test's duration after its verdict, and the class being started."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._t0 = {}
        self._class = None
        self.durations_by_class = {}

    def startTest(self, test):
        cls = type(test).__name__
        if cls != self._class:
            self._class = cls
            self.stream.writeln(f"== {type(test).__module__}.{cls}")
            self.stream.flush()
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        t = time.monotonic() - self._t0.pop(test.id(), time.monotonic())
        cls = type(test).__name__
        self.durations_by_class[cls] = self.durations_by_class.get(cls, 0.0) + t
        super().stopTest(test)

    def addSuccess(self, test):
        t = time.monotonic() - self._t0.get(test.id(), time.monotonic())
        if self.showAll:
            self.stream.write(f"ok ({t:.1f}s)\n")
            self.stream.flush()
            self.dots = False
            unittest.TestResult.addSuccess(self, test)
        else:
            super().addSuccess(test)


def filter_suite(suite, pattern):
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            sub = filter_suite(t, pattern)
            if sub.countTestCases():
                out.addTest(sub)
        elif pattern in t.id():
            out.addTest(t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nave", default="build/nave", help="the nave binary (default build/nave)")
    ap.add_argument("-k", dest="pattern", help="run only tests whose id contains PATTERN")
    ap.add_argument("--failfast", action="store_true", help="stop at the first failure")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (data, logs) of clusters whose start failed")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    args = ap.parse_args()

    os.environ["NAVE_E2E_BINARY"] = os.path.abspath(args.nave)
    if args.keep:
        os.environ["NAVE_E2E_KEEP"] = "1"
    sys.path.insert(0, HERE)
    import harness  # after the environment is set

    harness.NAVE = os.environ["NAVE_E2E_BINARY"]
    harness.KEEP = args.keep

    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.pattern:
        suite = filter_suite(suite, args.pattern)
    if args.list:
        for group in suite:
            for cls_suite in group:
                for t in cls_suite:
                    print(t.id())
        return 0
    if suite.countTestCases() == 0:
        print("e2e: no tests selected", file=sys.stderr)
        return 1

    try:
        harness.require_environment()
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    for version, path in harness.KUBECTL.items():
        if harness.kubectl_path(version) is None:
            print(f"e2e: kubectl {version} not found at {path}: its tests will be skipped",
                  file=sys.stderr)

    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C so that clusters are torn down.
    def on_term(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    print(f"e2e: {suite.countTestCases()} tests, nave = {harness.NAVE}", flush=True)
    t0 = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=TimedResult,
                                     failfast=args.failfast)
    result = None
    try:
        result = runner.run(suite)
    except KeyboardInterrupt:
        print("\ne2e: interrupted; tearing down clusters", file=sys.stderr)
        return 130
    finally:
        harness.cleanup_all()
    total = time.monotonic() - t0
    print(f"\ne2e: time per test class (cluster start not included), total {total:.1f}s")
    for cls, secs in sorted(result.durations_by_class.items(), key=lambda kv: -kv[1]):
        print(f"  {secs:6.1f}s  {cls}")
    for test, reason in result.skipped:
        print(f"  skipped {test.id()}: {reason}")
    # Subtests report under their parent test; a failed class setup counts as one failure.
    def base(t):
        return getattr(t, "test_case", t)

    failed = {base(t).id(): base(t) for t, _ in result.failures + result.errors}
    failed.update({base(t).id(): base(t) for t in result.unexpectedSuccesses})
    failed_tests = sum(isinstance(t, unittest.TestCase) for t in failed.values())
    skipped_ids = {t.id() for t, _ in result.skipped
                   if not hasattr(t, "test_case")} - set(failed)
    passed = result.testsRun - failed_tests - len(skipped_ids)
    # One plain closing line: "e2e: N passed, N failed, N skipped".
    print(f"e2e: {passed} passed, {len(failed)} failed, {len(skipped_ids)} skipped")
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
