# FindZooKeeperMT
# ---------------
# Finds the multi-threaded ZooKeeper C client (Debian: libzookeeper-mt-dev),
# which ships neither a pkg-config file nor a CMake config.
#
# Imported target:
#   ZooKeeper::zookeeper_mt  the library, carrying THREADED (without it the
#                            header hides the synchronous API and the
#                            threaded struct layout)
# Result variables:
#   ZooKeeperMT_FOUND, ZooKeeperMT_INCLUDE_DIR, ZooKeeperMT_LIBRARY
include(FindPackageHandleStandardArgs)

find_path(ZooKeeperMT_INCLUDE_DIR
  NAMES zookeeper/zookeeper.h
  DOC "directory holding zookeeper/zookeeper.h")
find_library(ZooKeeperMT_LIBRARY
  NAMES zookeeper_mt
  DOC "the multi-threaded ZooKeeper C client")

find_package_handle_standard_args(ZooKeeperMT
  REQUIRED_VARS ZooKeeperMT_LIBRARY ZooKeeperMT_INCLUDE_DIR
  REASON_FAILURE_MESSAGE "install it with: apt-get install libzookeeper-mt-dev")

if(ZooKeeperMT_FOUND AND NOT TARGET ZooKeeper::zookeeper_mt)
  find_package(Threads REQUIRED)
  add_library(ZooKeeper::zookeeper_mt UNKNOWN IMPORTED)
  set_target_properties(ZooKeeper::zookeeper_mt PROPERTIES
    IMPORTED_LOCATION "${ZooKeeperMT_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ZooKeeperMT_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS THREADED
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()
mark_as_advanced(ZooKeeperMT_INCLUDE_DIR ZooKeeperMT_LIBRARY)
