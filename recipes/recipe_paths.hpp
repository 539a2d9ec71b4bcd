#pragma once
// Where each recipe keeps its nodes under the configured root (DESIGN.md,
// ZooKeeper layout), and the checks on the names that go into those paths.

#include <string>
#include <string_view>

namespace nominee::detail {

// root + "/" + a + "/" + b..., with root "/" meaning no prefix.
std::string under(std::string_view root, std::string_view a);
std::string under(std::string_view root, std::string_view a, std::string_view b);

// Throws nominee::error naming `field` when root is not an absolute path.
void require_root(std::string_view field, std::string_view root);
// Throws nominee::error naming `field` when name cannot be one znode name.
void require_name(std::string_view field, std::string_view name);

}  // namespace nominee::detail
