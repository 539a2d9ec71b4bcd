#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a local ZooKeeper,
# seeds 1,000 work keys, starts 4 nominee-worker processes and prints the
# dashboard URL and the keys per worker; then a 5th worker joins and one is
# killed with SIGKILL, and each time it shows that only the keys that had to
# move changed owner. Everything it starts it stops, by PID, on exit or
# Ctrl-C.
#
#   bash scripts/demo.sh          # the story above, then stop
#   bash scripts/demo.sh --keep   # then keep the fleet running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
case "${1:-}" in
  "") ;;
  --keep) keep=1 ;;
  *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target nominee-zookeeper nominee-worker nominee_cli

run_dir=$(mktemp -d)
zookeeper_pid=""
declare -A worker_pids=()

stop_pid() {  # stop_pid PID SIGNAL SECONDS: signal, wait, then SIGKILL
  local pid=$1 signal=$2 seconds=$3
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((seconds * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  for name in "${!worker_pids[@]}"; do kill -TERM "${worker_pids[$name]}" 2>/dev/null || true; done
  for name in "${!worker_pids[@]}"; do stop_pid "${worker_pids[$name]}" TERM 30; done
  [ -n "$zookeeper_pid" ] && stop_pid "$zookeeper_pid" TERM 10
  rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

./build/integration/nominee-zookeeper --connect-file "$run_dir/connect" >"$run_dir/zookeeper.out" 2>&1 &
zookeeper_pid=$!
for _ in $(seq 1 600); do
  [ -s "$run_dir/connect" ] && break
  kill -0 "$zookeeper_pid" 2>/dev/null || { cat "$run_dir/zookeeper.out" >&2; exit 1; }
  sleep 0.1
done
[ -s "$run_dir/connect" ] || { echo "demo: ZooKeeper did not start within 60 s" >&2; exit 1; }
hosts=$(cat "$run_dir/connect")
echo "demo: ZooKeeper is up at $hosts (pid $zookeeper_pid)"

export NOMINEE_HOSTS="$hosts" NOMINEE_ROOT=/nominee NOMINEE_PREFIX=demo
cli() { ./build/samples/cli/nominee "$@"; }

start_worker() {  # start_worker NAME
  ./build/samples/worker/nominee-worker --name "$1" --session-timeout-ms 4000 --status 127.0.0.1:0 \
    >"$run_dir/$1.log" 2>&1 &
  worker_pids[$1]=$!
  disown "$!"  # no "Killed" notice from the shell: the demo reports the kill itself
}

# "key owner" per owned key, sorted: from `nominee assignment`'s key table.
owners() {
  cli assignment | awk 'NR == 1 { next } NF == 0 { exit } $2 != "-" { print $1, $2 }' | sort
}

# Waits (at most $2 seconds) until every key is owned by its target, no key
# is moving, and no key is owned by the member named $1 ("" for none).
wait_settled() {
  local gone=$1 deadline=$((SECONDS + $2)) summary
  while [ $SECONDS -lt $deadline ]; do
    summary=$(cli assignment --summary | tail -n 1)
    if [[ "$summary" == "1000 keys: 1000 owned, 0 unowned, 0 moving;"* ]] &&
       { [ -z "$gone" ] || ! owners | awk -v m="$gone" '$2 == m { found = 1 } END { exit !found }'; }; then
      return 0
    fi
    sleep 0.2
  done
  echo "demo: the fleet did not settle within $2 s: $summary" >&2
  return 1
}

# Compares two owner snapshots: how many keys changed owner, and from/to whom.
moves() {  # moves BEFORE AFTER
  join "$1" "$2" | awk '$2 != $3 { n++; pairs[$2 " -> " $3]++ }
    END { printf "%d keys changed owner", n; for (p in pairs) printf "; %s: %d", p, pairs[p]; print "" }'
}

echo "demo: seeding 1,000 work keys (key-0000 .. key-0999)"
seq -f 'key-%04g' 0 999 | cli add-work -
for name in w1 w2 w3 w4; do start_worker "$name"; done
wait_settled "" 60
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^\[w1\] status: //p' "$run_dir/w1.log" | head -n 1)
  [ -n "$url" ] && break
  sleep 0.1
done
echo
echo "demo: 4 workers own the 1,000 keys. Dashboard (w1's status endpoint): ${url:-unavailable}"
cli assignment --summary
owners >"$run_dir/owners.4"

echo
echo "demo: a 5th worker joins"
start_worker w5
wait_settled "" 60
owners >"$run_dir/owners.5"
cli assignment --summary
echo "demo: $(moves "$run_dir/owners.4" "$run_dir/owners.5") (only keys to w5: nothing else moved)"

echo
echo "demo: kill -9 of w2 (its keys wait for its session to expire: 4 s)"
kill -KILL "${worker_pids[w2]}"
unset 'worker_pids[w2]'
wait_settled w2 60
owners >"$run_dir/owners.killed"
cli assignment --summary
echo "demo: $(moves "$run_dir/owners.5" "$run_dir/owners.killed") (only w2's keys moved)"

echo
echo "demo: roles"
cli roles
echo
echo "demo: w1 is processing: $(grep -E '^\[w1\] [0-9]+ keys:' "$run_dir/w1.log" | tail -n 1 | cut -c 1-150)..."
if [ "$keep" = 1 ]; then
  echo "demo: the fleet keeps running; dashboard at $url; Ctrl-C stops everything"
  while kill -0 "$zookeeper_pid" 2>/dev/null; do sleep 1; done
fi
echo "demo: done; stopping the workers (each hands its keys over) and ZooKeeper"
