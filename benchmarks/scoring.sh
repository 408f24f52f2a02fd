#!/usr/bin/env bash
# BG/NBD and Gamma-Gamma fit time: this project's LoyaltyScoring beside the Python package
# `lifetimes`, in one run, on the same summaries of the public CDNOW data:
#   - the 2,357-customer sample (lifetimes' cdnow_customers_summary_with_transactions.csv), and
#   - the full 23,570-customer cohort (CDNOW_master.txt, weekly, calibration ending 1997-09-30).
# lifetimes goes into a virtual environment under .build-bench-venv (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-cdnow >/dev/null
venv=.build-bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check lifetimes==0.11.3
fi
swift build -c release --product loyalty >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" benchmarks/scoring_lifetimes.py var/datasets "$work" | tee "$work/python.txt"
for name in sample master; do
  .build/release/loyalty bench scoring "$work/$name.csv" | sed "s/^/$name /" | tee -a "$work/swift.txt"
done
"$venv/bin/python" - "$work/python.txt" "$work/swift.txt" <<'PY'
import sys
def rows(path):
    out = {}
    for line in open(path):
        parts = line.split()
        fields = dict(p.split("=") for p in parts[3:])
        out[(parts[0], parts[2])] = fields
    return out
py, sw = rows(sys.argv[1]), rows(sys.argv[2])
print()
print(f"{'data':8} {'model':11} {'customers':>9} {'lifetimes s':>12} {'swift s':>9} {'speed-up':>9}  same optimum (max rel. diff of parameters, LL diff)")
for key in sorted(py):
    p, s = py[key], sw.get(key)
    if not s: continue
    names = [k for k in p if k not in ("customers", "seconds", "ll")]
    diff = max(abs(float(p[k]) - float(s[k])) / abs(float(p[k])) for k in names)
    print(f"{key[0]:8} {key[1]:11} {p['customers']:>9} {float(p['seconds']):12.3f} {float(s['seconds']):9.4f} {float(p['seconds'])/float(s['seconds']):8.1f}x  {diff:.1e}, {abs(float(p['ll'])-float(s['ll'])):.3f}")
PY
