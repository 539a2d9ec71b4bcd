# ranges_bench: next() values per second, ZooKeeper writes per 1,000,000
# values (adaptive sizing against a fixed small block), and how long sizing
# takes to adapt to a 100x rate jump. Starts its own ZooKeeper.
# Included from bench/CMakeLists.txt: include(ranges.cmake OPTIONAL)
# Run: build/bench/ranges_bench [--values N]
add_executable(ranges_bench ${CMAKE_CURRENT_LIST_DIR}/ranges_bench.cpp)
target_link_libraries(ranges_bench PRIVATE nominee nominee_zookeeper_launcher)
