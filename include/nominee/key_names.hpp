#pragma once
// Work keys are arbitrary bytes; znode names are not. These map a key to
// the one-segment node name the divider itself uses for it, and back, so a
// service can keep its own per-key nodes (records, checkpoints) beside the
// divider's.

#include <optional>
#include <string>
#include <string_view>

namespace nominee {

// Letters, digits and - _ . ~ : @ + = , stay; every other byte becomes %XX
// ("." and ".." are escaped too). Throws nominee::error (invalid_name,
// naming the key) for an empty key or one over max_work_key_bytes.
std::string key_node_name(std::string_view key);
// The key back; nullopt for a name key_node_name cannot have produced.
std::optional<std::string> key_from_node_name(std::string_view name);

}  // namespace nominee
