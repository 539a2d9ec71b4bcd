# divider_bench: how fast and how precisely work keys move when a member
# joins, leaves gracefully, or is killed (1,000 keys over 4 members), and the
# same at scale (10,000 keys 4 -> 5 members by default; 100,000 over 50 with
# --scale-keys 100000 --scale-members 50).
# Included from bench/CMakeLists.txt: include(divider.cmake OPTIONAL)
# Run: build/bench/divider_bench [--repeats N] [--no-fsync] [--help]
#
# The killed member runs in a child process: the bench starts itself again
# with --child, so no second binary is needed.

add_executable(divider_bench ${CMAKE_CURRENT_LIST_DIR}/divider_bench.cpp)
target_link_libraries(divider_bench PRIVATE nominee nominee_zookeeper_launcher)
# assignment.hpp lives beside the library's sources: the bench checks the
# final owners against the library's own assignment function.
target_include_directories(divider_bench PRIVATE ${PROJECT_SOURCE_DIR}/recipes)

# assignment_table_bench: the CPU cost of following a change at 100,000 keys
# x 50 members, without ZooKeeper. Run: build/bench/assignment_table_bench
add_executable(assignment_table_bench ${CMAKE_CURRENT_LIST_DIR}/assignment_table_bench.cpp)
target_link_libraries(assignment_table_bench PRIVATE nominee)
target_include_directories(assignment_table_bench PRIVATE ${PROJECT_SOURCE_DIR}/recipes)
