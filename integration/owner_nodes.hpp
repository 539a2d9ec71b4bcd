#pragma once
// What ZooKeeper says owns each key of a divider prefix: key -> the member
// id in its owner node's data. Read by the tests that check the divider from
// outside (divider_churn_test, worker_fleet_test).
#include <map>
#include <string>

#include <nominee/session.hpp>

namespace nominee::testing {

// Reads <root>/work/<prefix>/owners/*/*, decoding the key names (a name
// that does not decode shows as "?<name>"). No prefix yet: empty.
std::map<std::string, std::string> read_owner_nodes(session& s, const std::string& root, const std::string& prefix);

}  // namespace nominee::testing
