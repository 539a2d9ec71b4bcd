# Adaptive range leases (include/nominee/ranges.hpp). Included
# from recipes/CMakeLists.txt.
target_sources(nominee PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/range_consumer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/range_coordinator.cpp
  ${CMAKE_CURRENT_LIST_DIR}/range_layout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/range_sizing.cpp
  ${CMAKE_CURRENT_LIST_DIR}/range_space.cpp)

# The pure logic (sizing, grant planning, node formats) in the unit tests.
if(NOMINEE_BUILD_TESTS)
  target_sources(nominee_unit_tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/range_sizing_test.cpp)
endif()
