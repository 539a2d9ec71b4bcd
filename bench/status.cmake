# The status endpoint's load bench. Included from bench/CMakeLists.txt:
# include(status.cmake OPTIONAL)
#
# status_target is the service under load: a throwaway ZooKeeper (the test
# launcher), 4 dividers over 1,000 keys, and member 1's status board served
# by a status_server. bench/status_load.sh starts it, waits for its URL,
# loads /status and /metrics with wrk and prints one JSON object per
# endpoint.
# Run: bash bench/status_load.sh [--duration S] [--build DIR]
add_executable(status_target ${CMAKE_CURRENT_LIST_DIR}/status_target.cpp)
target_link_libraries(status_target PRIVATE nominee_status nominee_zookeeper_launcher)
