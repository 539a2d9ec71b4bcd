# election_bench: graceful handoff latency (2, 10, 50 candidates), takeover
# after kill -9 against the session timeout, handoff on a 3-node ensemble.
# Included from bench/CMakeLists.txt: include(election.cmake)
# Run: build/bench/election_bench [--no-ensemble] [--repeats N]

# The takeover needs a holder in another process: nominee-contender, built
# by integration/election_processes.cmake, or here when tests are off.
if(NOT TARGET nominee-contender)
  add_executable(nominee-contender ${PROJECT_SOURCE_DIR}/integration/contender_main.cpp)
  target_link_libraries(nominee-contender PRIVATE nominee)
endif()

add_executable(election_bench ${CMAKE_CURRENT_LIST_DIR}/election_bench.cpp)
target_link_libraries(election_bench PRIVATE nominee nominee_zookeeper_launcher)
target_compile_definitions(election_bench PRIVATE
  NOMINEE_CONTENDER_PATH="$<TARGET_FILE:nominee-contender>")
add_dependencies(election_bench nominee-contender)
