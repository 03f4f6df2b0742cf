#!/usr/bin/env python3
"""medley's integration test runner (Python 3.11 standard library only).

Discovers tests/integration/test_*.py and the functions named test_* in them
(in file order), and runs each one in a forked child that leads its own
process group, with a hard timeout: when the child ends or times out, the
whole group is SIGKILLed, so no medley or mock outlives its test. Each test
gets a harness.Ctx and must leave nothing behind; cleanup runs in a finally.

Output: one line per test ("ok NAME (secs)" or "FAIL NAME: reason", details
indented below), then exactly one closing line
"integration: N passed, N failed". Exit code 1 if anything failed.

    python3 tests/integration/run.py --binary build/medley [--sanitizer]
                                     [--only SUBSTR] [-v] [--timeout S]
"""

import argparse
import faulthandler
import importlib
import inspect
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean

import harness  # noqa: E402

DEFAULT_TIMEOUT = 30.0
MAX_DETAIL_CHARS = 20000


def discover(only):
    """[(name, function)] for every test_* function, modules sorted."""
    tests = []
    for fname in sorted(os.listdir(HERE)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        try:
            mod = importlib.import_module(fname[:-3])
        except Exception as e:  # noqa: BLE001 - reported as a failing test
            def broken(ctx, err=f"cannot import {fname}: {type(e).__name__}: {e}",
                       tb=traceback.format_exc()):
                raise harness.TestFailure(err, tb)
            if only is None or only in fname[:-3]:
                tests.append((f"{fname[:-3]}::<import>", broken))
            continue
        funcs = [f for n, f in vars(mod).items()
                 if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == mod.__name__]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            name = f"{mod.__name__}::{f.__name__}"
            if only is None or only in name:
                tests.append((name, f))
    return tests


def run_in_child(name, func, workdir, wfd):
    """Runs one test (in the forked child) and writes its result as JSON."""
    ctx = harness.Ctx(name, workdir)
    failure, tb = None, ""
    try:
        func(ctx)
    except BaseException as e:  # noqa: BLE001 - any escape is a test failure
        failure, tb = e, traceback.format_exc()
    try:
        late = ctx.cleanup()
    except BaseException as e:  # noqa: BLE001
        late = [e]
        tb = tb or traceback.format_exc()
    if failure is None and late:
        failure, late = late[0], late[1:]
    result = {"ok": failure is None, "reason": "", "details": ""}
    if failure is not None:
        if isinstance(failure, harness.TestFailure):
            result["reason"], result["details"] = str(failure), failure.details
        elif isinstance(failure, AssertionError):
            result["reason"] = str(failure) or "assertion failed"
        else:
            result["reason"] = f"{type(failure).__name__}: {failure}"
        for e in late:
            result["details"] += f"\nalso: {e}\n{getattr(e, 'details', '')}"
        if harness.VERBOSE:
            result["details"] += "\n" + tb
    data = json.dumps(result).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(wfd, view):]


def _stack_dump(path, verbose):
    """The child's thread stacks as dumped by faulthandler just before the
    timeout (only the test's own thread unless verbose)."""
    try:
        with open(path) as f:
            dump = f.read()
    except OSError:
        return ""
    if verbose:
        return dump
    blocks = dump.split("\n\n")
    mine = [b for b in blocks if "in run_in_child" in b]
    return (mine or blocks)[0].strip()


def run_one(name, func, timeout, verbose):
    """Forks, runs the test with a hard timeout, kills the child's process
    group afterwards; returns (ok, reason, details)."""
    workdir = tempfile.mkdtemp(prefix="medley-it-")
    dump_fd, dump_path = tempfile.mkstemp(prefix="stacks-", dir=workdir)
    rfd, wfd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        code = 0
        try:
            os.setpgid(0, 0)
            # Shows where a hung test was stuck (read by the parent).
            faulthandler.dump_traceback_later(max(timeout - 0.5, 0.1),
                                              file=os.fdopen(dump_fd, "w"))
            run_in_child(name, func, workdir, wfd)
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(wfd)
    os.close(dump_fd)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it first (or already exited)
    chunks, deadline, timed_out = [], time.monotonic() + timeout, False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([rfd], [], [], left)
        if ready:
            data = os.read(rfd, 65536)
            if not data:
                break
            chunks.append(data)
    os.close(rfd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    stacks = _stack_dump(dump_path, verbose) if timed_out else ""
    if timed_out:
        ok, reason, details = False, f"timed out after {timeout:g}s (process group killed)", stacks
    else:
        try:
            res = json.loads(b"".join(chunks))
            ok, reason, details = res["ok"], res["reason"], res["details"]
        except ValueError:
            ok, reason, details = False, "test process died without a result", ""
    if ok or not verbose:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        details += f"\n(files kept in {workdir})"
    return ok, reason, details


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="build/medley")
    ap.add_argument("--sanitizer", action="store_true",
                    help="fail a test if medley's stderr has an ASan/LSan/UBSan report")
    ap.add_argument("--valgrind", action="store_true",
                    help="run medley under valgrind memcheck; any error or leak fails the test")
    ap.add_argument("--only", metavar="SUBSTR", help="run tests whose name contains SUBSTR")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="hard per-test timeout in seconds")
    args = ap.parse_args()

    harness.BINARY = os.path.abspath(args.binary)
    harness.SANITIZER = args.sanitizer
    if args.valgrind:
        # An error or a definite/indirect leak makes medley exit 99, which
        # fails the test's clean-exit check.
        harness.WRAPPER = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                           "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect"]
        harness.START_TIMEOUT = 60.0
    harness.VERBOSE = args.verbose
    if args.sanitizer:
        os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    tests = discover(args.only)
    if not tests:
        print(f"run.py: no tests match {args.only!r}", file=sys.stderr)
    if args.verbose:
        print(f"# {len(tests)} tests, binary {harness.BINARY}"
              f"{' (sanitizer mode)' if args.sanitizer else ''}", flush=True)
    passed = failed = 0
    started = time.monotonic()
    for name, func in tests:
        t0 = time.monotonic()
        ok, reason, details = run_one(name, func, args.timeout, args.verbose)
        secs = time.monotonic() - t0
        if ok:
            passed += 1
            print(f"ok   {name} ({secs:.2f}s)", flush=True)
            continue
        failed += 1
        first, _, rest = reason.partition("\n")
        print(f"FAIL {name}: {first} ({secs:.2f}s)", flush=True)
        extra = (rest + "\n" + details).strip()
        if extra:
            if len(extra) > MAX_DETAIL_CHARS:
                extra = extra[:MAX_DETAIL_CHARS] + "\n... (truncated)"
            for line in extra.splitlines():
                print(f"     | {line}")
            sys.stdout.flush()
    if args.verbose:
        print(f"# {time.monotonic() - started:.1f}s", flush=True)
    print(f"integration: {passed} passed, {failed} failed", flush=True)
    summary = os.environ.get("MD_TEST_SUMMARY")
    if summary:  # make test adds every suite up into one closing line
        with open(summary, "a") as f:
            f.write(f"{passed} {failed}\n")
    return 1 if failed or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
