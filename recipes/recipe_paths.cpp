#include "recipe_paths.hpp"

#include <nominee/error.hpp>

#include "validate.hpp"

namespace nominee::detail {

std::string under(std::string_view root, std::string_view a) {
  std::string out(root == "/" ? "" : root);
  out += '/';
  out += a;
  return out;
}

std::string under(std::string_view root, std::string_view a, std::string_view b) {
  auto out = under(root, a);
  out += '/';
  out += b;
  return out;
}

void require_root(std::string_view field, std::string_view root) {
  if (auto ec = check_path(root)) throw error(ec, describe(field, root));
}

void require_name(std::string_view field, std::string_view name) {
  if (auto ec = check_name(name)) throw error(ec, describe(field, name));
}

}  // namespace nominee::detail
