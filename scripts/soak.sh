#!/usr/bin/env bash
# The long fault soak (issue 7): the same runner CI plays for two minutes,
# for as long as you like, with a fresh seed unless you give one.
#
#   bash scripts/soak.sh [--minutes N] [--seed N|random] [runner flags...]
#
# Runner flags (nominee-fault-runner --help): --workers, --partitionable,
# --keys, --session-timeout-ms, --keep. The summary and a JSON line go to
# stdout, the JSON also to build/soak-<seed>.json; a failing run prints its
# seed and keeps its histories (replay: the same flags with --seed N).
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=30
seed=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="${2:?--minutes needs a number}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a number or random}"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done
case "$minutes" in
  ''|*[!0-9]*) echo "soak.sh: --minutes '$minutes' must be a whole number" >&2; exit 2 ;;
esac
if [ -z "$seed" ] || [ "$seed" = random ]; then seed=$(( $(od -An -N4 -tu4 /dev/urandom) )); fi

bash scripts/install-deps.sh
cmake -S . -B build -DNOMINEE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target nominee-fault-runner nominee-worker

echo "soak: seed $seed, $minutes minutes"
exec build/integration/nominee-fault-runner --seed "$seed" --duration-s $(( minutes * 60 )) \
  --json "build/soak-$seed.json" "${extra[@]}"
