# What the multi-process tests share. Included from election_processes.cmake
# and divider_processes.cmake (either may come alone); defines:
#   nominee_election_history  history files (history_file.cpp: reading and
#                             splitting lines) and the election checker and
#                             fault log (election_history.cpp); plain C++,
#                             no ZooKeeper
#   nominee_child_process     the parent side: children started with
#                             arguments and ended by PID, scratch_dir,
#                             poll_until, the fault log file, and a child's
#                             session expired from outside (session_expiry)
# The children's side (history_file.hpp's writer, child_main.hpp) is
# header-only: bench/election.cmake builds nominee-contender from
# contender_main.cpp alone.
include_guard(GLOBAL)

add_library(nominee_election_history STATIC
  ${CMAKE_CURRENT_LIST_DIR}/history_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/election_history.cpp)
target_include_directories(nominee_election_history PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(nominee_election_history PUBLIC cxx_std_20)

add_library(nominee_child_process STATIC ${CMAKE_CURRENT_LIST_DIR}/child_process.cpp)
target_link_libraries(nominee_child_process PUBLIC nominee_election_history nominee_session_expiry PRIVATE GTest::gtest)
