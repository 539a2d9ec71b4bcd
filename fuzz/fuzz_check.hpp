#pragma once
// An invariant that must hold for every input: on violation, say which and
// abort, which libFuzzer reports as a crash (and saves the input).

#include <cstdio>
#include <cstdlib>

#define NOMINEE_FUZZ_CHECK(condition)                                                                 \
  do {                                                                                                \
    if (!(condition)) {                                                                               \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #condition);        \
      std::abort();                                                                                   \
    }                                                                                                 \
  } while (false)
