# Shared values (include/nominee/shared_value.hpp): included from
# recipes/CMakeLists.txt.
target_sources(nominee PRIVATE ${CMAKE_CURRENT_LIST_DIR}/shared_value.cpp)
