#!/usr/bin/env bash
# Loads the status endpoint's GET /status and GET /metrics with wrk on
# loopback and prints one JSON object per endpoint: requests/s and p50, p90,
# p99 latency (wrk's own percentiles), plus errors and non-2xx answers.
#
#   bench/status_load.sh [--duration S] [--threads T] [--connections C]
#                        [--build DIR] [--url URL] [--keys N] [--members N]
#
# Without --url it starts build/bench/status_target (a throwaway ZooKeeper,
# 4 dividers over 1,000 keys, member 1's board served on a free port), waits
# for the URL it prints, runs wrk, and stops it by its PID. With --url it
# loads a service that is already running (e.g. a worker of the fleet).
# The wrk part (load_endpoint) needs nothing but a URL.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=10
threads=2
connections=16
build=build
url=""
keys=1000
members=4

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="${2:?}"; shift 2 ;;
    --threads) threads="${2:?}"; shift 2 ;;
    --connections) connections="${2:?}"; shift 2 ;;
    --build) build="${2:?}"; shift 2 ;;
    --url) url="${2:?}"; shift 2 ;;
    --keys) keys="${2:?}"; shift 2 ;;
    --members) members="${2:?}"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "status_load: unknown argument $1" >&2; usage ;;
  esac
done

if ! command -v wrk >/dev/null 2>&1; then
  echo "status_load: wrk is missing: apt-get install wrk (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

# "1.23ms" / "456.78us" / "1.02s" / "2.00m" -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; else if (u != "ms") n = -1
    printf "%.3f", n }'
}

# load_endpoint NAME URL: runs wrk against URL and prints one JSON line.
load_endpoint() {
  local name="$1" target="$2" out
  out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$target" 2>&1) || {
    echo "status_load: wrk failed on $target:" >&2
    echo "$out" >&2
    return 1
  }
  local rps requests p50 p75 p90 p99 non2xx errors
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  requests=$(awk '/ requests in / { print $1 }' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p75=$(to_ms "$(awk '$1 == "75%" { print $2 }' <<<"$out")")
  p90=$(to_ms "$(awk '$1 == "90%" { print $2 }' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  # "Socket errors: connect 0, read 0, write 0, timeout 0"
  errors=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
  if [ -z "$rps" ] || [ -z "$requests" ]; then
    echo "status_load: could not read wrk's output for $target:" >&2
    echo "$out" >&2
    return 1
  fi
  printf '{"bench": "status_load", "endpoint": "%s", "url": "%s", "duration_s": %s, "threads": %s, "connections": %s, "requests": %s, "requests_per_s": %s, "p50_ms": %s, "p75_ms": %s, "p90_ms": %s, "p99_ms": %s, "non_2xx": %s, "socket_errors": %s}\n' \
    "$name" "$target" "$duration" "$threads" "$connections" "$requests" "$rps" "$p50" "$p75" "$p90" "$p99" \
    "${non2xx:-0}" "${errors:-0}"
}

target_pid=""
scratch=""
stop_target() {
  if [ -n "$target_pid" ] && kill -0 "$target_pid" 2>/dev/null; then
    kill -TERM "$target_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$target_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$target_pid" 2>/dev/null; then
      echo "status_load: status_target (pid $target_pid) ignored SIGTERM for 10 s; killing it" >&2
      kill -KILL "$target_pid" 2>/dev/null || true
    fi
    wait "$target_pid" 2>/dev/null || true
  fi
  [ -z "$scratch" ] || rm -rf "$scratch"
}
trap stop_target EXIT

if [ -z "$url" ]; then
  binary="$build/bench/status_target"
  if [ ! -x "$binary" ]; then
    echo "status_load: $binary is missing; build it: cmake --build $build --target status_target -j1" >&2
    exit 1
  fi
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/nominee-status-load-XXXXXX")
  "$binary" --keys "$keys" --members "$members" >"$scratch/target.out" 2>"$scratch/target.err" &
  target_pid=$!
  # Starting ZooKeeper and settling the keys takes a while on a loaded machine.
  for _ in $(seq 1 1800); do
    url=$(sed -n 's/^status_target: serving //p' "$scratch/target.out")
    [ -n "$url" ] && break
    if ! kill -0 "$target_pid" 2>/dev/null; then
      echo "status_load: status_target exited before serving:" >&2
      tail -20 "$scratch/target.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "status_load: status_target printed no URL within 180 s:" >&2
    tail -20 "$scratch/target.err" >&2
    exit 1
  fi
fi
url="${url%/}"

load_endpoint /status "$url/status"
load_endpoint /metrics "$url/metrics"
