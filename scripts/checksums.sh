#!/usr/bin/env bash
# Prints the row count and a content checksum of every table published for a
# date: every column but the ids of the run and of the models that made it
# (they differ between runs of the same inputs). Two runs that publish the
# same night print the same lines.
# Usage: scripts/checksums.sh DATABASE YYYY-MM-DD   (the test ClickHouse of scripts/services.sh)
set -euo pipefail
db=${1:?database} day=${2:?date}
port=${CLICKHOUSE_PORT:-19000}
q() { clickhouse-client --port "$port" -q "$1"; }
for t in customer_features customer_scores segments segment_members segment_feed segment_changes; do
  cols=$(q "SELECT arrayStringConcat(groupArray(name), ', ') FROM system.columns
            WHERE database = '$db' AND table = '$t' AND name NOT IN ('run_id', 'model_id', 'early_vip_model_id')")
  q "SELECT '$t', count(), sum(cityHash64($cols)) FROM $db.$t WHERE as_of = '$day'"
done
