# The fault-injection TCP proxy (tcp_proxy.hpp): delays, black holes and
# resets between a ZooKeeper client and a server. Included from
# integration/CMakeLists.txt.
#
#   nominee_tcp_proxy  the proxy; Asio stays behind its header
#   tcp_proxy_test     against a loopback echo server, then a real session
#                      through it against a real server
add_library(nominee_tcp_proxy STATIC ${CMAKE_CURRENT_LIST_DIR}/tcp_proxy.cpp)
target_include_directories(nominee_tcp_proxy PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_compile_features(nominee_tcp_proxy PUBLIC cxx_std_20)
# Boost was found (1.74, header-only Asio) by the top-level CMakeLists.txt.
target_link_libraries(nominee_tcp_proxy PUBLIC Threads::Threads PRIVATE Boost::headers)

add_executable(tcp_proxy_test ${CMAKE_CURRENT_LIST_DIR}/tcp_proxy_test.cpp)
# The test's own echo server uses Asio too.
target_link_libraries(tcp_proxy_test PRIVATE nominee_tcp_proxy nominee_test_support Boost::headers GTest::gtest_main)
add_test(NAME tcp_proxy_test COMMAND tcp_proxy_test)
set_tests_properties(tcp_proxy_test PROPERTIES LABELS integration TIMEOUT 300)
