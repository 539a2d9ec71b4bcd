#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is
# missing, builds with warnings as errors, runs the unit and integration
# tests against a real ZooKeeper, then installs the package and builds the
# find_package(nominee) consumer against it.
#
#   scripts/test.sh                      # normal build (build/)
#   scripts/test.sh --sanitize address   # ASan + UBSan (build-address/)
#   scripts/test.sh --sanitize thread    # TSan (build-thread/)
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize="${2:?--sanitize needs address or thread}"; shift 2 ;;
    *) echo "usage: $0 [--sanitize address|thread]" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

build="build${sanitize:+-$sanitize}"
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" -DNOMINEE_WERROR=ON -DNOMINEE_SANITIZE="$sanitize" \
  -DCMAKE_BUILD_TYPE="${sanitize:+Debug}${sanitize:-RelWithDebInfo}" >/dev/null
cmake --build "$build" -j "$jobs"

case "$sanitize" in
  address)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp" ;;
  thread)
    # ignore_noninstrumented_modules: libstdc++ and the ZooKeeper C client are
    # not built with TSan, so it cannot see their atomics (e.g. the refcount
    # of a std::future's exception_ptr) and reports their frees as races.
    # Races are still reported wherever instrumented code (ours) is involved.
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/scripts/sanitizers/tsan.supp" ;;
esac

if [ -z "$sanitize" ]; then
  docker-compose -f docker-compose.yml config -q  # validates without a Docker engine
fi

# Integration binaries each start their own ZooKeeper; two at a time fits 2 cores.
# The fault runner (label `fault`) runs in the plain build only: sanitized
# workers on two cores beside three JVMs would miss every timing bound.
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 900 ${sanitize:+-LE fault}

if [ -z "$sanitize" ]; then
  # The package as a user gets it: install, then find_package from outside.
  prefix="$PWD/$build/install-root"
  rm -rf "$prefix" "$build/consumer"
  cmake --install "$build" --prefix "$prefix" >/dev/null
  cmake -S samples/consumer -B "$build/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build/consumer" -j "$jobs"
  "$build/consumer/nominee-consumer"
fi
echo "test.sh: all passed${sanitize:+ under $sanitize sanitizer}"
