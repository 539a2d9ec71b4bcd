# The space split (a numeric space cut into ranges, processed by the members
# of a divider) and its pure unit tests. Included (OPTIONAL) from
# recipes/CMakeLists.txt once the nominee target exists.
target_sources(nominee PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/range_keys.cpp
  ${CMAKE_CURRENT_LIST_DIR}/space_split.cpp
  ${CMAKE_CURRENT_LIST_DIR}/space_split_core.cpp)

if(NOMINEE_BUILD_TESTS)
  # nominee_unit_tests is defined after this file is included: add to it at
  # the end of the directory.
  cmake_language(DEFER CALL target_sources nominee_unit_tests PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/range_keys_test.cpp)
endif()
