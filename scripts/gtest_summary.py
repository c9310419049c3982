#!/usr/bin/env python3
"""Counts GoogleTest cases in a meson testlog.json and prints 'N passed, N failed[, N skipped]'.

A suite that crashed or timed out before reporting its cases counts as one failure."""
import json
import re
import sys

passed = failed = skipped = 0
with open(sys.argv[1], encoding="utf-8") as f:
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
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
