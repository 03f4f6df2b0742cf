#!/usr/bin/env bash
# medley's home-feed benchmark: medley side by side with nginx, nginx+Lua and Node.js
# on one machine, under one scenario (bench/README.md). `make bench` runs it.
#
#   bench/run.sh [-d S] [-c N] [--delay MS] [--warmup S] [--only LIST] [--no-node]
#                [--check-only]
#
# It installs what is missing (as root), generates the data (gen_data.py), starts the
# mock backends (one nginx) and every selected peer, each as the leader of its own
# process group, checks every peer's answers (check.py), then loads one peer and
# endpoint at a time with wrk on 127.0.0.1 while it samples the CPU of each process
# group. It prints one table and the medley ratios, saves both under bench/results/,
# and stops exactly the process groups it started, whatever way it ends.
set -u -o pipefail
export LC_ALL=C   # one decimal point for bash, awk and printf

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
RUN=$BENCH/run              # scratch: rendered configs, logs, pid files (git-ignored)
DATA=$RUN/data
RESULTS=$BENCH/results      # kept: one file per run

DURATION=10
CONNS=64
DELAY_MS=0
WARMUP=3
ONLY=""
NO_NODE=0
CHECK_ONLY=0
NOISE_PCT=${NOISE_PCT:-20}       # other% above this marks a row as noisy
READY_S=${READY_S:-20}           # seconds a server has to start answering
MEDLEY_BIN=${MEDLEY_BIN:-$ROOT/build/medley}
MEDLEY_CONF=${MEDLEY_CONF:-$ROOT/examples/home-feed/medley.yaml}
# medley-cache: news and events cached, the card cached per user unless CARD_TTL=off
MEDLEY_CACHED_CONF=${MEDLEY_CACHED_CONF:-$ROOT/examples/home-feed/medley-cached.yaml}
CARD_TTL=${CARD_TTL:-60s}
USER_ID=42                       # every /home load request asks for this user

NEWS_PORT=18181
EVENTS_PORT=18182
HR_PORT=18183
NEWS_URL=http://127.0.0.1:$NEWS_PORT
EVENTS_URL=http://127.0.0.1:$EVENTS_PORT
HR_URL=http://127.0.0.1:$HR_PORT

PEERS=(direct nginx-proxy nginx-lua node-fastify medley medley-cache)
declare -A PEER_PORT=([direct]=$NEWS_PORT [nginx-lua]=18190 [node-fastify]=18191
                      [nginx-proxy]=18192 [medley]=18194 [medley-cache]=18195)
declare -A KINDS=([direct]="raw" [nginx-proxy]="raw" [nginx-lua]="raw home"
                  [node-fastify]="raw home" [medley]="raw home" [medley-cache]="home")

die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "== $*"; }

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<EOF

Options:
  -d, --duration S  measured seconds per wrk run (default $DURATION, 1..120)
  -c, --conns N     wrk connections, one thread (default $CONNS, 1..1024)
      --delay MS    delay every backend answer by MS ms (default $DELAY_MS, 0..2000)
      --warmup S    unmeasured wrk run before each measured one (default $WARMUP, 0..30)
      --only LIST   comma-separated peers: ${PEERS[*]}
      --no-node     leave out node-fastify (and installing node)
      --check-only  start everything and check the answers; no load
Environment: MEDLEY_BIN, MEDLEY_CONF, NOISE_PCT (default 20), READY_S (default 20)
EOF
}

# ------------------------------------------------------------------ arguments
is_uint() { [[ $1 =~ ^[0-9]{1,6}$ ]]; }
need_value() { [ "$1" -ge 2 ] || die "$2 needs a value (see --help)"; }

while [ $# -gt 0 ]; do
  case $1 in
    -d|--duration) need_value $# "$1"; DURATION=$2; shift 2 ;;
    -c|--conns)    need_value $# "$1"; CONNS=$2; shift 2 ;;
    --delay)       need_value $# "$1"; DELAY_MS=$2; shift 2 ;;
    --warmup)      need_value $# "$1"; WARMUP=$2; shift 2 ;;
    --only)        need_value $# "$1"; ONLY=$2; shift 2 ;;
    --no-node)     NO_NODE=1; shift ;;
    --check-only)  CHECK_ONLY=1; shift ;;
    -h|--help)     usage; exit 0 ;;
    *)             usage >&2; die "unknown argument: $1" ;;
  esac
done
is_uint "$DURATION" && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "-d: 1..120 seconds"
is_uint "$CONNS" && [ "$CONNS" -ge 1 ] && [ "$CONNS" -le 1024 ] || die "-c: 1..1024 connections"
is_uint "$DELAY_MS" && [ "$DELAY_MS" -le 2000 ] || die "--delay: 0..2000 ms"
is_uint "$WARMUP" && [ "$WARMUP" -le 30 ] || die "--warmup: 0..30 seconds"
is_uint "$NOISE_PCT" && is_uint "$READY_S" && [ "$READY_S" -le 300 ] || die "NOISE_PCT, READY_S: small integers"

SELECTED=()
if [ -n "$ONLY" ]; then
  IFS=',' read -r -a wanted <<<"$ONLY"
  for p in "${wanted[@]}"; do
    [ -n "${PEER_PORT[$p]:-}" ] || die "--only: unknown peer '$p' (peers: ${PEERS[*]})"
  done
  for p in "${PEERS[@]}"; do [[ ",$ONLY," == *",$p,"* ]] && SELECTED+=("$p"); done
else
  SELECTED=("${PEERS[@]}")
fi
selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

# ------------------------------------------------------------------ prerequisites
pkg_installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }

# The candidate version's major number as apt would install it, or 0.
apt_candidate_major() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { v = $2; sub(/^[0-9]+:/, "", v); split(v, p, "."); print p[1] + 0; exit }'
}

install_missing() {
  local missing=() p
  # Not Debian: nothing to install from here; the tool checks below say what is missing.
  command -v dpkg-query >/dev/null || return 0
  for p in nginx libnginx-mod-http-lua lua-cjson wrk python3; do
    pkg_installed "$p" || missing+=("$p")
  done
  if selected node-fastify && ! command -v node >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      timeout 600 apt-get update -qq >/dev/null 2>&1
      local major
      major=$(apt_candidate_major nodejs)
      if [ "${major:-0}" -ge 20 ]; then
        missing+=(nodejs npm)
      else
        echo "!! node is missing and apt offers no nodejs >= 20 (undici 7 needs 20.18+): node-fastify left out" >&2
        NO_NODE=1
      fi
    else
      echo "!! node is not installed: node-fastify left out (install Node.js >= 20.18, or use --no-node)" >&2
      NO_NODE=1
    fi
  fi
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or apt-get install them)"
  say "installing ${missing[*]}"
  timeout 600 apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive timeout 1200 apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

node_modules_ready() {
  local stamp=$BENCH/node/node_modules/.package-lock.json
  [ -f "$stamp" ] && [ ! "$BENCH/node/package-lock.json" -nt "$stamp" ]
}

leave_out_node() {
  local kept=() p
  for p in "${SELECTED[@]}"; do [ "$p" = node-fastify ] || kept+=("$p"); done
  SELECTED=("${kept[@]}")
  NO_NODE=1
}

prepare_node() {
  selected node-fastify && [ "$NO_NODE" = 0 ] || return 0
  if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
    echo "!! node $(node --version 2>/dev/null) is older than 20 (undici 7 needs 20.18+): node-fastify left out" >&2
    leave_out_node
    return 0
  fi
  node_modules_ready && return 0
  command -v npm >/dev/null || die "npm is missing: install it (Debian: apt-get install npm), or use --no-node"
  say "npm ci in bench/node (fastify + undici, pinned by package-lock.json)"
  (cd "$BENCH/node" && timeout 600 npm ci --omit=dev --no-audit --no-fund --loglevel=error) \
    || die "npm ci in bench/node failed"
}

install_missing
[ "$NO_NODE" = 1 ] && leave_out_node
prepare_node
[ ${#SELECTED[@]} -gt 0 ] || die "no peer left to run"
for tool in nginx wrk python3 timeout setsid awk; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
MODULES=$(nginx -V 2>&1 | tr ' ' '\n' | sed -n 's/^--modules-path=//p')
MODULES=${MODULES:-/usr/lib/nginx/modules}
[ -f "$MODULES/ngx_http_lua_module.so" ] || die "no $MODULES/ngx_http_lua_module.so (Debian: libnginx-mod-http-lua)"
if selected medley; then
  [ -x "$MEDLEY_BIN" ] || die "no medley binary at $MEDLEY_BIN: run make first (or set MEDLEY_BIN)"
  [ -f "$MEDLEY_CONF" ] || die "no medley config at $MEDLEY_CONF"
fi
CLK_TCK=$(getconf CLK_TCK)

# ------------------------------------------------------------------ process groups
mkdir -p "$RUN/pids" "$RESULTS" || die "cannot create $RUN"
STARTED=()              # names, in start order
declare -A PGID=()
WRK_PID=""              # the bounded wrk in flight, so a signal can end it at once

# One line per live process, "pid (comm) state ppid pgrp ...". cat, not awk, opens
# the files: processes come and go between the glob and the read, and mawk stops at
# the first file it cannot open while cat goes on. cat then exits 1, which must not
# fail the pipeline (pipefail).
proc_stats() { cat /proc/[0-9]*/stat 2>/dev/null || true; }

# The fields after comm, which may hold spaces and parentheses: in awk, after
#   s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
# f[1] is the state, f[3] the process group, f[12..15] utime stime cutime cstime.
group_alive() {  # pgid: true while a process of the group is alive (zombies aside)
  proc_stats | awk -v g="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
                                 if (f[3] == g && f[1] != "Z") found = 1 }
                               END { exit !found }'
}
stat_field() {  # pid field-number (counted after comm)
  awk -v n="$2" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[n] }' "/proc/$1/stat" 2>/dev/null
}
start_time() { stat_field "$1" 20; }

stop_group() {  # name pgid
  local i
  group_alive "$2" || return 0
  kill -TERM -- "-$2" 2>/dev/null
  for ((i = 0; i < 50; i++)); do group_alive "$2" || return 0; sleep 0.1; done
  echo "   $1 (process group $2) still there 5 s after SIGTERM: SIGKILL" >&2
  kill -KILL -- "-$2" 2>/dev/null
  for ((i = 0; i < 20; i++)); do group_alive "$2" || return 0; sleep 0.1; done
  echo "!! $1 (process group $2) survived SIGKILL" >&2
  return 1
}

cleanup() {
  local rc=$? i name
  trap - EXIT INT TERM HUP
  trap '' PIPE
  if [ -n "$WRK_PID" ]; then kill -TERM "$WRK_PID" 2>/dev/null; wait "$WRK_PID" 2>/dev/null; fi
  if [ ${#STARTED[@]} -gt 0 ]; then
    say "stopping the ${#STARTED[@]} process group(s) this run started"
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
      name=${STARTED[i]}
      # Reap the leader (our child) only once it is gone: wait would block otherwise.
      stop_group "$name" "${PGID[$name]}" && wait "${PGID[$name]}" 2>/dev/null
      rm -f "$RUN/pids/$name.pid"
    done
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo; say interrupted; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# A run killed with SIGKILL leaves its groups behind: stop one only if its leader
# still has the recorded start time, i.e. is the very process that run started.
stop_leftovers() {
  local f pid st
  for f in "$RUN"/pids/*.pid; do
    [ -e "$f" ] || continue
    read -r pid st _ <"$f" 2>/dev/null || true
    if [ -n "${pid:-}" ] && [ -n "${st:-}" ] && [ "$(start_time "$pid")" = "$st" ]; then
      say "stopping $(basename "$f" .pid) (process group $pid) left over from an earlier run"
      stop_group "$(basename "$f" .pid)" "$pid"
    fi
    rm -f "$f"
  done
}

start_group() {  # name command...: the command leads a new session and process group
  local name=$1 pid i pg=""
  shift
  setsid "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  pid=$!
  PGID[$name]=$pid
  STARTED+=("$name")
  for ((i = 0; i < 20; i++)); do
    pg=$(stat_field "$pid" 3)
    [ "$pg" = "$pid" ] && break
    sleep 0.05
  done
  [ "$pg" = "$pid" ] || die "$name: pid $pid did not become a process group leader (pgid '$pg')"
  echo "$pid $(start_time "$pid")" >"$RUN/pids/$name.pid"
}

# ------------------------------------------------------------------ servers
port_in_use() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# First line of the answer to GET / (any status means "up"), or nothing.
status_line() {
  timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0 || exit 1
    printf "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
    IFS= read -r line <&3 && printf "%s\n" "$line"' "$1" 2>/dev/null
}

wait_ready() {  # name port
  local i
  for ((i = 0; i < READY_S * 10; i++)); do
    [[ $(status_line "$2") == HTTP/1.* ]] && return 0
    group_alive "${PGID[$1]}" || { echo "!! $1 exited while starting; bench/run/$1.log:" >&2; break; }
    sleep 0.1
  done
  [ "$i" -lt $((READY_S * 10)) ] || echo "!! $1: nothing answers on 127.0.0.1:$2 after ${READY_S}s; bench/run/$1.log:" >&2
  tail -n 15 "$RUN/$1.log" >&2
  return 1
}

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

render() {  # template output port
  local dir lua="" delay="" user=""
  dir=$(dirname "$2")
  if grep -q '%%DELAY%%' "$1" && [ "$DELAY_MS" -gt 0 ] || grep -q 'content_by_lua' "$1"; then
    lua="load_module $MODULES/ndk_http_module.so; load_module $MODULES/ngx_http_lua_module.so;"
  fi
  [ "$DELAY_MS" -gt 0 ] && delay=$(awk -v d="$DELAY_MS" 'BEGIN { printf "access_by_lua_block { ngx.sleep(%.3f) }", d / 1000 }')
  # As root, nginx workers would run as nobody, who may not reach the data wherever
  # the repository lives (/root/...): they stay root, on 127.0.0.1 only.
  [ "$(id -u)" = 0 ] && user="user root;"
  sed -e "s|%%DIR%%|$(sed_escape "$dir")|g" -e "s|%%DATA%%|$(sed_escape "$DATA")|g" \
      -e "s|%%CONF%%|$(sed_escape "$BENCH/conf")|g" -e "s|%%PORT%%|${3:-0}|g" \
      -e "s|%%NEWS_PORT%%|$NEWS_PORT|g" -e "s|%%EVENTS_PORT%%|$EVENTS_PORT|g" \
      -e "s|%%HR_PORT%%|$HR_PORT|g" -e "s|%%DELAY%%|$delay|g" \
      -e "s|%%LUA_MODULES%%|$(sed_escape "$lua")|g" -e "s|%%USER%%|$user|g" "$1" >"$2"
}

start_nginx() {  # name template [port]
  local dir=$RUN/$1
  rm -rf "$dir" && mkdir -p "$dir" || die "cannot create $dir"
  render "$BENCH/conf/$2" "$dir/nginx.conf" "${3:-}"
  nginx -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$RUN/$1.log" 2>&1 \
    || { cat "$RUN/$1.log" >&2; die "$1: nginx rejects $dir/nginx.conf"; }
  start_group "$1" nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
}

start_peer() {  # name
  local port=${PEER_PORT[$1]}
  local env=(env PORT="$port" LISTEN_ADDR=127.0.0.1 WORKERS=2
             NEWS_URL="$NEWS_URL" EVENTS_URL="$EVENTS_URL" HR_URL="$HR_URL")
  case $1 in
    direct)       return 0 ;;
    nginx-proxy)  start_nginx "$1" nginx-proxy.conf.in "$port" ;;
    nginx-lua)    start_nginx "$1" nginx-lua.conf.in "$port" ;;
    node-fastify) start_group "$1" "${env[@]}" NODE_ENV=production node "$BENCH/node/peer.js" ;;
    medley)       start_group "$1" "${env[@]}" "$MEDLEY_BIN" run -c "$MEDLEY_CONF" --workers 2 --admin-port 0 ;;
    medley-cache) start_group "$1" "${env[@]}" CARD_TTL="$CARD_TTL" "$MEDLEY_BIN" run -c "$MEDLEY_CACHED_CONF" \
                    --workers 2 --admin-port 0 ;;
  esac
  wait_ready "$1" "$port"
}

# ------------------------------------------------------------------ start
stop_leftovers
ports=("$NEWS_PORT" "$EVENTS_PORT" "$HR_PORT")
for p in "${SELECTED[@]}"; do [ "$p" = direct ] || ports+=("${PEER_PORT[$p]}"); done
for port in "${ports[@]}"; do
  port_in_use "$port" && die "127.0.0.1:$port is already in use: stop whatever listens there (run.sh stops only what it started)"
done

say "generating the data set into bench/run/data (gen_data.py, fixed seed)"
rm -rf "$DATA"
timeout 120 python3 "$BENCH/gen_data.py" "$DATA" || die "gen_data.py failed"

say "medley home-feed benchmark $(date -u '+%Y-%m-%dT%H:%M:%SZ'): delay ${DELAY_MS} ms, wrk -t1 -c$CONNS -d${DURATION}s after ${WARMUP}s warm-up, $(nproc) CPUs"
say "backends: news :$NEWS_PORT, events :$EVENTS_PORT, hr :$HR_PORT (one nginx, 2 workers)"
start_nginx upstreams upstreams.conf.in
wait_ready upstreams "$NEWS_PORT" || die "the mock backends did not start"
UP_PG=${PGID[upstreams]}

declare -A CHECK=()
FAILED=0
for p in "${SELECTED[@]}"; do
  [ "$p" = direct ] && continue
  say "starting $p on 127.0.0.1:${PEER_PORT[$p]}"
  if ! start_peer "$p"; then CHECK[$p]=FAIL; FAILED=1; fi
done

# ------------------------------------------------------------------ correctness
say "checking the answers (check.py: bench/run/data/home_expected_*.json, news.json)"
timeout 60 python3 "$BENCH/check.py" upstreams --data "$DATA" \
  --news "$NEWS_PORT" --events "$EVENTS_PORT" --hr "$HR_PORT" || die "the mock backends answer wrongly"
for p in "${SELECTED[@]}"; do
  [ -z "${CHECK[$p]:-}" ] || continue   # did not start
  eps=${KINDS[$p]// /,}
  [ "$p" = direct ] && eps=news
  if timeout 120 python3 "$BENCH/check.py" peer "$p" --port "${PEER_PORT[$p]}" --data "$DATA" \
       --endpoints "$eps" --delay "$DELAY_MS"; then
    CHECK[$p]=ok
  else
    CHECK[$p]=FAIL; FAILED=1
  fi
done
if [ "$CHECK_ONLY" = 1 ]; then
  [ "$FAILED" = 0 ] && say "all checks passed" || say "some checks FAILED"
  exit "$FAILED"
fi

# ------------------------------------------------------------------ load
# Runs "limit outfile cmd..." under timeout(1) in the background and waits, so that a
# signal reaches the traps at once instead of after the command.
run_bounded() {
  local limit=$1 out=$2 rc
  shift 2
  timeout -k 5 "$limit" "$@" >"$out" 2>&1 </dev/null &
  WRK_PID=$!
  wait "$WRK_PID"; rc=$?
  WRK_PID=""
  return "$rc"
}

# "busy children peer upstreams" in clock ticks: the machine's busy time (with
# steal: a noisy neighbour is noise too), this script's reaped children (wrk, under
# timeout), and the summed CPU of the peer's and the backends' process groups.
cpu_snapshot() {  # peer_pgid upstreams_pgid
  { head -n 1 /proc/stat; proc_stats; } | awk -v me="$$" -v p="$1" -v u="$2" '
    $1 == "cpu" { busy = $2 + $3 + $4 + $7 + $8 + $9; next }
    { s = $0; sub(/^.*\) /, "", s); if (split(s, f, " ") < 15) next
      t = f[12] + f[13] + f[14] + f[15]
      if (f[3] == p) P += t; else if (f[3] == u) U += t
      if ($1 == me) K = f[14] + f[15] }
    END { printf "%d %d %d %d\n", busy, K, P, U }'
}

path_of() {  # name kind
  if [ "$2" = home ]; then echo "/home?user=$USER_ID"
  elif [ "$1" = direct ]; then echo /news
  else echo /news-raw; fi
}

declare -A ROW=() RPS=() P50=() P99=() NOISY=()
ORDER=()

bench_one() {  # name kind
  local name=$1 kind=$2 path url log snap0 snap1 t0 t1 line row
  path=$(path_of "$name" "$kind")
  url=http://127.0.0.1:${PEER_PORT[$name]}$path
  log=$RUN/wrk-$name-$kind.log
  printf '   %-13s %-15s ' "$name" "$path"
  [ "$WARMUP" -gt 0 ] && run_bounded $((WARMUP + 30)) "$RUN/warmup.log" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url"
  snap0=$(cpu_snapshot "${PGID[$name]:-none}" "$UP_PG"); t0=$EPOCHREALTIME
  run_bounded $((DURATION + 30)) "$log" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$BENCH/wrk_summary.lua" "$url"
  t1=$EPOCHREALTIME; snap1=$(cpu_snapshot "${PGID[$name]:-none}" "$UP_PG")
  line=$(grep '^WRK-SUMMARY ' "$log" | tail -n 1)
  ORDER+=("$name/$kind")
  if [ -z "$line" ]; then
    echo "wrk gave no result (bench/run/$(basename "$log"))"
    ROW[$name/$kind]="$name|$path|${CHECK[$name]}|-|-|-|-|-|-|-|-|-|-"
    return
  fi
  row=$(awk -v line="$line" -v s0="$snap0" -v s1="$snap1" -v t0="$t0" -v t1="$t1" \
            -v hz="$CLK_TCK" -v noise="$NOISE_PCT" -v direct="$([ "$name" = direct ] && echo 1 || echo 0)" \
            -v head="$name|$path|${CHECK[$name]}" '
    BEGIN {
      n = split(line, kv, " ")
      for (i = 2; i <= n; i++) { split(kv[i], q, "="); w[q[1]] = q[2] }
      split(s0, a, " "); split(s1, b, " ")
      wall = t1 - t0; if (wall <= 0) wall = 1
      busy = b[1] - a[1]; kids = b[2] - a[2]; gw = b[3] - a[3]; up = b[4] - a[4]
      pct = 100 / hz / wall
      other = (busy - kids - gw - up) * pct; if (other < 0) other = 0
      rps = w["requests"] / (w["duration_us"] / 1e6)
      printf "%s|%.0f|%.2f|%.2f|%d|%d|%s|%.0f|%.0f|%.0f%s|%s\n", head, rps,
        w["p50_us"] / 1000, w["p99_us"] / 1000, w["status_4xx5xx"],
        w["connect"] + w["read"] + w["write"] + w["timeout"],
        ((direct || gw < 0) ? "-" : sprintf("%.0f", gw * pct)), up * pct, kids * pct, other,
        (other > noise ? "*" : ""),
        ((direct || gw < 0 || w["requests"] == 0) ? "-" : sprintf("%.0f", gw / hz * 1e6 / w["requests"]))
    }')
  ROW[$name/$kind]=$row
  IFS="|" read -r _ _ _ "RPS[$name/$kind]" "P50[$name/$kind]" "P99[$name/$kind]" _ _ _ _ _ other _ <<<"$row"
  [[ $other == *'*' ]] && NOISY[$name/$kind]=1
  echo "${RPS[$name/$kind]} req/s, p50 ${P50[$name/$kind]} ms, p99 ${P99[$name/$kind]} ms"
}

# Busy time of a machine where everything of ours sits idle: anything well above a
# few % is someone else's work, and it will show up in other% too.
idle_busy_pct() {
  local a b t0 t1
  a=$(cpu_snapshot none none); t0=$EPOCHREALTIME
  sleep 1
  t1=$EPOCHREALTIME; b=$(cpu_snapshot none none)
  awk -v a="$a" -v b="$b" -v hz="$CLK_TCK" -v w="$t1 - $t0" 'BEGIN { split(a, x, " "); split(b, y, " ")
    split(w, s, " - "); printf "%.0f", 100 * (y[1] - x[1]) / hz / (s[1] - s[2]) }'
}
IDLE_PCT=$(idle_busy_pct)
say "before the load, with every server idle, the machine was ${IDLE_PCT}% busy (100 = one core)"
[ "$IDLE_PCT" -le "$NOISE_PCT" ] || echo "!! something else is using the CPUs: expect noisy rows (other%)"
say "load: one peer and endpoint at a time, the others idle"
for kind in raw home; do
  for p in "${SELECTED[@]}"; do
    [[ " ${KINDS[$p]} " == *" $kind "* ]] || continue
    [ "$p" != direct ] && ! group_alive "${PGID[$p]:-none}" && continue   # never started, or died
    bench_one "$p" "$kind"
    if [ "$p" != direct ] && [ "${CHECK[$p]}" != DIED ] && ! group_alive "${PGID[$p]}"; then
      echo "!! $p died under load; last lines of bench/run/$p.log:" >&2
      tail -n 15 "$RUN/$p.log" >&2
      CHECK[$p]=DIED; FAILED=1
      ROW[$p/$kind]=$(awk -F'|' -v OFS='|' '{ $3 = "DIED"; print }' <<<"${ROW[$p/$kind]}")
    fi
  done
done

# ------------------------------------------------------------------ report
versions() {
  local fastify="-" undici="-" medley_v lua cjson
  if [ -f "$BENCH/node/node_modules/fastify/package.json" ]; then
    fastify=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$BENCH/node/node_modules/fastify/package.json")
    undici=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$BENCH/node/node_modules/undici/package.json")
  fi
  medley_v=$("$MEDLEY_BIN" --version 2>/dev/null | head -n 1)
  lua=$(dpkg-query -W -f='${Version}' libnginx-mod-http-lua 2>/dev/null)
  cjson=$(dpkg-query -W -f='${Version}' lua-cjson 2>/dev/null)
  echo "cpu: $(nproc) x $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1), kernel $(uname -r)"
  echo "medley: ${medley_v:-?}, binary ${MEDLEY_BIN#"$ROOT"/}, source tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "others: $(nginx -v 2>&1 | sed 's/^nginx version: //'), lua module ${lua:--}, lua-cjson ${cjson:--},"
  echo "          node $(command -v node >/dev/null && node --version || echo -), fastify $fastify, undici $undici, $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
}

print_table() {
  local key a b c d e f g h i j k l m
  printf '%-13s %-15s %-5s %8s %8s %8s %7s %6s %7s %7s %7s %7s %8s\n' \
    peer endpoint check "req/s" "p50 ms" "p99 ms" 4xx/5xx errors "gw cpu%" "up cpu%" "wrk cpu%" "other%" "gw us/req"
  for key in "${ORDER[@]}"; do
    IFS='|' read -r a b c d e f g h i j k l m <<<"${ROW[$key]}"
    printf '%-13s %-15s %-5s %8s %8s %8s %7s %6s %7s %7s %7s %7s %8s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$i" "$j" "$k" "$l" "$m"
  done
}

# "medley X / peer Y" as a ratio, with the target when one applies to this run.
ratio_line() {  # label numerator_key denominator_key target(or "")
  local num=${RPS[$2]:-} den=${RPS[$3]:-}
  if [ -z "$num" ] || [ -z "$den" ] || [ "$num" = - ] || [ "$den" = - ] || [ "$den" = 0 ]; then
    printf '  %-42s n/a (not measured)\n' "$1"; return
  fi
  awk -v l="$1" -v n="$num" -v d="$den" -v t="$4" -v bad="$(ratio_caveat "$2" "$3")" 'BEGIN {
    r = n / d
    printf "  %-42s %5.2fx  (%s / %s req/s)", l, r, n, d
    if (t != "") printf "  target >= %.1fx: %s", t, (r >= t ? "met" : "NOT met")
    printf "%s\n", bad }'
}
ratio_caveat() {
  local k out=""
  for k in "$1" "$2"; do
    [ "${CHECK[${k%/*}]:-ok}" != ok ] && out="$out; ${k%/*} ${CHECK[${k%/*}]}"
    [ -n "${NOISY[$k]:-}" ] && out="$out; ${k%/*} row noisy"
  done
  echo "$out"
}

print_ratios() {
  local t_home="" t_raw=""
  [ "$DELAY_MS" = 0 ] && t_home=1.5 && t_raw=0.9
  echo "ratios within this run:"
  ratio_line "medley /home / nginx-lua /home" medley/home nginx-lua/home "$t_home"
  ratio_line "medley /home / node-fastify /home" medley/home node-fastify/home ""
  ratio_line "medley /news-raw / nginx-proxy /news-raw" medley/raw nginx-proxy/raw "$t_raw"
  ratio_line "medley-cache /home / nginx-lua /home" medley-cache/home nginx-lua/home "$([ "$DELAY_MS" = 0 ] && echo 3.0)"
  ratio_line "medley-cache /home / direct /news" medley-cache/home direct/raw "$([ "$DELAY_MS" = 0 ] && echo 0.5)"
  if [ "$DELAY_MS" -gt 0 ] && [ -n "${P50[medley/home]:-}" ] && [ "${P50[medley/home]}" != - ]; then
    awk -v d="$DELAY_MS" -v p50="${P50[medley/home]}" -v p99="${P99[medley/home]}" 'BEGIN {
      printf "  %-42s p50 %.2f ms, p99 %.2f ms", "medley /home latency at delay " d " ms", p50, p99
      if (d == 20) printf "  targets p50 <= 22: %s, p99 <= 26: %s", (p50 <= 22 ? "met" : "NOT met"), (p99 <= 26 ? "met" : "NOT met")
      printf "\n" }'
  fi
}

STAMP=$(date -u '+%Y%m%dT%H%M%SZ')
OUT=$RESULTS/delay${DELAY_MS}-$STAMP.txt
{
  echo "medley home-feed benchmark $STAMP: backend delay ${DELAY_MS} ms, wrk -t1 -c$CONNS -d${DURATION}s (${WARMUP}s warm-up)"
  versions
  echo "machine busy before the load (all servers idle): ${IDLE_PCT}% of a core"
  echo
  print_table
  echo
  print_ratios
  if [ ${#NOISY[@]} -gt 0 ]; then
    echo "rows marked * had more than ${NOISE_PCT}% of a core busy outside the peer, the backends and wrk:"
    echo "something else ran meanwhile; run again before trusting them"
  fi
  [ "$FAILED" = 0 ] || echo "some peers FAILED their checks or DIED under load (column check): their figures do not count"
} >"$OUT"
echo
cat "$OUT"
echo
echo "(saved as bench/results/$(basename "$OUT"); columns are explained in bench/README.md)"
exit "$FAILED"
