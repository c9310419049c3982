#!/usr/bin/env python3
"""Counts GoogleTest cases in meson testlog.json files and prints 'N passed, N failed[, N skipped]',
summed over every file given; with --label WORD the line starts with 'WORD: '.

A suite that crashed or timed out before reporting its cases counts as one failure, and so does
a log file that is missing (its suite never ran)."""
import json
import os
import re
import sys

args = sys.argv[1:]
label = ""
if len(args) >= 2 and args[0] == "--label":
    label = args[1] + ": "
    args = args[2:]

passed = failed = skipped = 0
for path in args:
    if not os.path.exists(path):
        print(f"gtest_summary: {path} is missing: that suite did not run", file=sys.stderr)
        failed += 1
        continue
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = json.loads(line)
            out = entry.get("stdout") or ""
            ok = len(re.findall(r"^\[       OK \] ", out, re.M))
            bad = len(re.findall(r"^\[  FAILED  \] .+ \(\d+ ms\)$", out, re.M))
            skip = len(re.findall(r"^\[  SKIPPED \] .+ \(\d+ ms\)$", out, re.M))
            passed += ok
            failed += bad
            skipped += skip
            if entry.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
                failed += 1  # crashed, timed out or failed outside a test case
print(f"{label}{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
