#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang and runs each one for a
# bounded time on a copy of its corpus (fuzz/corpus/<target>/, never written
# to: new inputs go to build-fuzz/corpus-out/<target>/). Exits non-zero if
# any target crashes, leaks or breaks an invariant, naming the reproducer.
# Needs clang and libFuzzer (Debian: clang, libclang-rt-14-dev), no network,
# no ZooKeeper.
#
#   bash scripts/fuzz.sh [--seconds N] [--target NAME]...
#
# --seconds N   time per target (default 20)
# --target NAME run only this target (repeatable; default: all)
# JOBS=n        build parallelism (default: nproc)
# FUZZ_ARGS=... more libFuzzer flags for every target (e.g. -only_ascii=1)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-fuzz"
targets_all=(key_codec_fuzz member_data_fuzz validate_fuzz status_route_fuzz)
seconds=20
targets=()

usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive integer" >&2; exit 2; }
               seconds=$2; shift 2 ;;
    --target)  [[ $# -ge 2 ]] || { echo "fuzz.sh: --target needs a name" >&2; exit 2; }
               [[ " ${targets_all[*]} " == *" $2 "* ]] || { echo "fuzz.sh: unknown target '$2' (${targets_all[*]})" >&2; exit 2; }
               targets+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=("${targets_all[@]}")

for tool in clang clang++ cmake; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (Debian: apt-get install clang libclang-rt-14-dev cmake)" >&2; exit 2; }
done

echo "== configuring fuzz/ into $build (clang)"
cmake -S "$root/fuzz" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
echo "== building ${targets[*]}"
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"

failed=()
summary=()
for target in "${targets[@]}"; do
  seeds="$root/fuzz/corpus/$target"
  work="$build/corpus-out/$target"
  artifacts="$build/artifacts/$target"
  log="$build/logs/$target.log"
  # The run starts from the committed seeds plus what earlier runs found;
  # the repo's corpus is only read.
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  rm -f "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* "$artifacts"/slow-unit-*
  [[ -d "$seeds" ]] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true

  dict=()
  [[ -f "$root/fuzz/$target.dict" ]] && dict=(-dict="$root/fuzz/$target.dict")

  echo "== $target: ${seconds}s on $work"
  status=0
  # timeout(1) is a backstop: libFuzzer stops itself after max_total_time.
  timeout --kill-after=10 $((seconds + 60)) \
    "$build/$target" "$work" "${dict[@]}" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?

  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$stats" || true)
  corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$stats" || true)
  if [[ $status -ne 0 ]]; then
    reproducer=$(ls -t "$artifacts"/* 2>/dev/null | head -1 || true)
    echo "!! $target FAILED (exit $status); log: $log"
    grep -E 'ERROR: |invariant violated|runtime error|SUMMARY' "$log" | head -5 | sed 's/^/   /' || true
    if [[ -n "$reproducer" ]]; then
      echo "   reproducer: $reproducer"
      echo "   hex: $(od -An -v -tx1 "$reproducer" | tr -d ' \n' | head -c 512)"
      echo "   rerun: $build/$target $reproducer"
    fi
    failed+=("$target")
    summary+=("$target: FAILED ($log)")
  else
    summary+=("$target: ok, ${execs:-?} runs, ${rate:-?} exec/s, ${cov:-cov: ?}, ${corpus:-corp: ?}")
  fi
done

echo "== summary (${seconds}s per target)"
printf '   %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
