#!/usr/bin/env bash
# bench/telemetry.sh: what telemetry costs. medley's /home in the shared contract
# harness (../shared/peers/run.sh) with every telemetry switch off, then with all of
# them on: metrics (admin listener), the access log to a file, Server-Timing, and
# tracing sampled at 100% with OTLP/HTTP export to a receiving endpoint (an nginx
# that answers 200 to every POST /v1/traces, started here). Runs alternate
# off/on PAIRS times (the machine is shared: pairs side by side, not one long run)
# and prints each pair's ratio and the median.
#
#   bench/telemetry.sh [PAIRS]          default 3; needs build/medley (make)
#
# Config: bench/conf/medley-telemetry.yaml (the home-feed example, switches from the
# environment). Results go to bench/results/telemetry-<stamp>.txt.
set -u -o pipefail
export LC_ALL=C

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
PEERS_DIR=${PEERS_DIR:-$(cd "$ROOT/.." && pwd)/shared/peers}
PAIRS=${1:-3}
MEDLEY_BIN=${MEDLEY_BIN:-$ROOT/build/medley}
RUN=$BENCH/run/telemetry
SINK_PORT=18196
STAMP=$(date -u '+%Y%m%dT%H%M%SZ')
OUT=$BENCH/results/telemetry-$STAMP.txt

die() { echo "telemetry.sh: $*" >&2; exit 1; }
[ -x "$PEERS_DIR/run.sh" ] || die "no harness at $PEERS_DIR/run.sh (set PEERS_DIR)"
[ -x "$MEDLEY_BIN" ] || die "no medley binary at $MEDLEY_BIN: run make first"
command -v nginx >/dev/null || die "nginx is missing"
rm -rf "$RUN" && mkdir -p "$RUN/sink/logs" "$BENCH/results" || die "cannot create $RUN"

# The OTLP receiver: reads each request body whole, answers 200, logs one line per POST.
cat >"$RUN/sink/nginx.conf" <<EOF
worker_processes 1;
pid $RUN/sink/nginx.pid;
error_log $RUN/sink/error.log warn;
events { worker_connections 256; }
http {
    access_log $RUN/sink/posts.log;
    client_max_body_size 64m;
    client_body_buffer_size 1m;
    server {
        listen 127.0.0.1:$SINK_PORT;
        location = /v1/traces { default_type application/json; return 200 '{}'; }
    }
}
EOF
nginx -p "$RUN/sink/" -c "$RUN/sink/nginx.conf" -e "$RUN/sink/error.log" || die "the OTLP sink did not start"
trap 'kill "$(cat "$RUN/sink/nginx.pid" 2>/dev/null)" 2>/dev/null' EXIT

run_one() {  # mode -> prints req/s of medley /home
  local mode=$1 name="medley-tm-$1" envs
  if [ "$mode" = on ]; then
    envs="ADMIN_LISTEN=127.0.0.1:0 ACCESS_LOG=$RUN/access.log SERVER_TIMING=true OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT/v1/traces"
  else
    envs="ADMIN_LISTEN=off ACCESS_LOG=off SERVER_TIMING=false"
  fi
  (cd "$PEERS_DIR" && EXTRA_NAME=$name EXTRA_PORT=18094 EXTRA_ENDPOINTS=home \
     EXTRA_START="exec env $envs $MEDLEY_BIN run -c $ROOT/bench/conf/medley-telemetry.yaml --workers 2" \
     ./run.sh --only "$name" >"$RUN/$name-$2.log" 2>&1) || die "harness run failed: $RUN/$name-$2.log"
  awk -v n="$name" '$1 == n && $2 == "/home?user=42" && $3 == "ok" && $4 ~ /^[0-9]+$/ { print $4; exit }' "$RUN/$name-$2.log"
}

{
  echo "telemetry on/off, $STAMP: ../shared/peers/run.sh, medley /home?user=42, 2 workers, $PAIRS pairs"
  echo "on = metrics + access log to a file + Server-Timing + tracing sampled 100% exported over OTLP/HTTP"
  printf '%-6s %10s %10s %7s\n' pair off on on/off
  ratios=()
  for i in $(seq 1 "$PAIRS"); do
    off=$(run_one off "$i"); on=$(run_one on "$i")
    [ -n "$off" ] && [ -n "$on" ] || die "no req/s in $RUN/*-$i.log"
    r=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
    ratios+=("$r")
    printf '%-6s %10s %10s %7s\n' "$i" "$off" "$on" "$r"
  done
  median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  echo "median on/off: $median  (target >= 0.9: $(awk -v m="$median" 'BEGIN { print (m >= 0.9 ? "met" : "NOT met") }'))"
  echo "OTLP export requests received by the sink: $(wc -l <"$RUN/sink/posts.log"), access log lines: $(wc -l <"$RUN/access.log" 2>/dev/null || echo 0)"
} | tee "$OUT"
