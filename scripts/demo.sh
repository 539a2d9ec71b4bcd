#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a local ZooKeeper and
# runs nominee's smoke check against it. Everything it starts it stops, by
# PID, on exit or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target nominee-zookeeper nominee-smoke

run_dir=$(mktemp -d)
zookeeper_pid=""
cleanup() {
  if [ -n "$zookeeper_pid" ] && kill -0 "$zookeeper_pid" 2>/dev/null; then
    kill -TERM "$zookeeper_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$zookeeper_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$zookeeper_pid" 2>/dev/null || true
  fi
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
[ -s "$run_dir/connect" ] || { echo "demo: ZooKeeper did not start within 60 s" >&2; cat "$run_dir/zookeeper.out" >&2; exit 1; }
hosts=$(cat "$run_dir/connect")
echo "demo: ZooKeeper is up at $hosts (pid $zookeeper_pid)"

./build/samples/smoke/nominee-smoke "$hosts"
echo "demo: done; stopping ZooKeeper"
