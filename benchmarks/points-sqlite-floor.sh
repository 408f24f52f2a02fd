#!/usr/bin/env bash
# What SQLite alone needs to write the points plugin's lots: one row per purchase, into the `lots`
# table as the plugin's migrations leave it (WAL, synchronous=FULL, 64 MB cache, the same indexes),
# in transactions the size of the plugin's catch-up runs. No Swift, no bus, no rules: the rows are
# made inside SQLite by a recursive CTE. Then the same rows into a table with no secondary index.
#
#   benchmarks/points-sqlite-floor.sh [ROWS] [ROWS_PER_TRANSACTION]    # defaults: 1000000, 20000
#
# Needs the sqlite3 command (apt-get install -y sqlite3). The figure bounds a replay from above:
# the plugin cannot apply purchases faster than SQLite writes their lots.
set -euo pipefail
rows=${1:-1000000}
run=${2:-20000}
command -v sqlite3 >/dev/null || { echo "needs the sqlite3 command: apt-get install -y sqlite3" >&2; exit 2; }
work=$(mktemp -d /tmp/points-sqlite-floor.XXXXXX)
trap 'rm -rf "$work"' EXIT

pragmas="PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-65536;"
# The columns and indexes of `lots` after the migrations of plugins/points-accrual/Sources/PointsAccrual/Schema.swift.
table="CREATE TABLE lots (lotId INTEGER PRIMARY KEY, customerId TEXT NOT NULL, eventId TEXT NOT NULL UNIQUE, earnedAt INTEGER NOT NULL,
  points INTEGER NOT NULL, remaining INTEGER NOT NULL, pendingUntil INTEGER NOT NULL, expiresOnDay INTEGER, rulesVersion TEXT NOT NULL,
  rules TEXT NOT NULL, expiresAt INTEGER, reversed INTEGER NOT NULL DEFAULT 0, released INTEGER NOT NULL DEFAULT 0, qualifyingUntil INTEGER,
  inQualifying INTEGER NOT NULL DEFAULT 0, expired INTEGER NOT NULL DEFAULT 0, noticed INTEGER NOT NULL DEFAULT 0,
  total INTEGER NOT NULL DEFAULT 0, returned INTEGER NOT NULL DEFAULT 0, campaignBonus INTEGER NOT NULL DEFAULT 0);"
indexes="CREATE INDEX lots_expiry ON lots (expiresAt) WHERE expired = 0 AND expiresAt IS NOT NULL;
  CREATE INDEX lots_by_customer_time ON lots (customerId, earnedAt);"

# $1: "indexed" or "rowid only". Event ids as the tills make them (store-terminal-receipt), 50,000 customers.
script() {
  echo "$pragmas"
  if [ "$1" = indexed ]; then echo "$table"; echo "$indexes"; else echo "${table/eventId TEXT NOT NULL UNIQUE/eventId TEXT NOT NULL}"; fi
  for ((start = 0; start < rows; start += run)); do
    end=$(( start + run < rows ? start + run - 1 : rows - 1 ))
    cat <<SQL
BEGIN;
WITH RECURSIVE n(i) AS (SELECT $start UNION ALL SELECT i + 1 FROM n WHERE i < $end)
INSERT INTO lots (customerId, eventId, earnedAt, points, remaining, pendingUntil, expiresOnDay, expiresAt, rulesVersion, rules, total)
SELECT printf('C%06d', abs(random()) % 50000), printf('S%03d-T%02d-%08d', i % 200, i % 7, i), 1700000000000 + i * 1000, 42, 42,
       1700000000000 + i * 1000 + 1209600000, 20000, 1800000000000 + i, 'v1', '[{"rule":"base","points":42.0}]', 4200 FROM n;
COMMIT;
SQL
  done
}

for kind in indexed "rowid only"; do
  script "$kind" > "$work/script.sql"
  rm -f "$work/floor.db"*
  began=$(date +%s.%N)
  sqlite3 "$work/floor.db" < "$work/script.sql" > /dev/null
  ended=$(date +%s.%N)
  awk -v k="$kind" -v r="$rows" -v t="$run" -v s="$began" -v e="$ended" 'BEGIN {
    printf "%-10s %d lots in transactions of %d: %.2f s = %.0f lots/s (%.1f µs per lot)\n", k, r, t, e - s, r / (e - s), (e - s) * 1e6 / r }'
done
