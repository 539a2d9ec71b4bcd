# The transaction log checker (testing/txn_log/, issue 14) against a real
# server's own log: a clean history passes, a foreign delete or a record
# written by a non-owner is reported. Included from integration/CMakeLists.txt.
add_executable(txn_log_check_test ${CMAKE_CURRENT_LIST_DIR}/txn_log_check_test.cpp)
target_link_libraries(txn_log_check_test PRIVATE
  nominee_txn_log_check nominee_test_support nominee_tcp_proxy GTest::gtest_main)
add_test(NAME txn_log_check_test COMMAND txn_log_check_test)
# Each test starts its own server (a fresh dataDir) and one checker JVM.
set_tests_properties(txn_log_check_test PROPERTIES LABELS integration TIMEOUT 600)
