#!/usr/bin/env bash
# Installs, from Debian 12's archive, everything nominee needs to build, test
# and run its demo. Idempotent: when every package is present it changes
# nothing and does not touch the network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libzookeeper-mt-dev   # the ZooKeeper C client (3.8)
  zookeeper             # the server, for tests and the demo (pulls Java 17)
  openjdk-17-jdk-headless  # javac, for the transaction log checker (testing/txn_log)
  libboost-dev libboost-system-dev libboost-program-options-dev libboost-thread-dev
  libcpprest-dev libssl-dev
  nlohmann-json3-dev    # member and candidate data (JSON), parsed inside recipes/ only
  libgtest-dev libgmock-dev libbenchmark-dev
  docker-compose        # only to validate docker-compose.yml (no engine needed)
  chromium              # the dashboard test renders the status page headless
  wrk                   # the status endpoint's load benchmark
  clang libclang-rt-14-dev  # libFuzzer (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  # dpkg -s succeeds for "deinstall" leftovers too; ask for the exact state.
  state=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$state" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
