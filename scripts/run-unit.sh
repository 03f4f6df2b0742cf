#!/bin/sh
# Runs every cmocka unit-test binary given as an argument and prints one
# closing line "N passed, N failed" summed over all of them.
passed=0; failed=0; broken=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E '^\[  (FAILED|ERROR)|^\[ +OK|^\[==========\]' | grep -v '^\[ *OK' || true
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "$t: exited $rc without a cmocka summary:"; printf '%s\n' "$out" | tail -20
        f=1; broken=1
    fi
    [ "$f" -gt 0 ] && printf '%s\n' "$out" | tail -40
    passed=$((passed + p)); failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ -n "${MD_TEST_SUMMARY:-}" ] && echo "$passed $failed" >> "$MD_TEST_SUMMARY"
[ "$failed" -eq 0 ] && [ "$broken" -eq 0 ]
