#include "node_data.hpp"

#include <nlohmann/json.hpp>

namespace nominee::detail {

using json = nlohmann::json;

namespace {
std::optional<json> parse(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}
}  // namespace

// The recipes refuse text that is not UTF-8 up front (check_text,
// check_name); replace rather than throw if any slips through, since a
// throw here would escape a strand handler and end the process.
std::string dump(const json& doc) { return doc.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string encode(const candidate_data& data) {
  return dump(json{{"member", data.member_id}, {"endpoint", data.endpoint}});
}

std::optional<candidate_data> decode_candidate(std::string_view text) {
  auto doc = parse(text);
  if (!doc || !doc->is_object()) return std::nullopt;
  candidate_data out;
  if (auto it = doc->find("member"); it != doc->end() && it->is_string()) out.member_id = it->get<std::string>();
  if (auto it = doc->find("endpoint"); it != doc->end() && it->is_string()) out.endpoint = it->get<std::string>();
  return out;
}

std::string encode(const member_data& data) {
  json meta = parse(data.meta).value_or(json::object());
  return dump(json{{"affinity", data.affinity}, {"endpoint", data.endpoint}, {"meta", meta}});
}

std::optional<member_data> decode_member(std::string_view text) {
  auto doc = parse(text);
  if (!doc || !doc->is_object()) return std::nullopt;
  member_data out;
  auto affinity = doc->find("affinity");
  if (affinity == doc->end() || !affinity->is_number_integer()) return std::nullopt;
  out.affinity = affinity->get<std::int64_t>();
  if (out.affinity < 0) return std::nullopt;
  if (auto it = doc->find("endpoint"); it != doc->end() && it->is_string()) out.endpoint = it->get<std::string>();
  if (auto it = doc->find("meta"); it != doc->end() && it->is_object()) out.meta = dump(*it);
  return out;
}

std::optional<std::string> normalize_json_object(std::string_view text) {
  auto doc = parse(text);
  if (!doc || !doc->is_object()) return std::nullopt;
  return dump(*doc);
}

}  // namespace nominee::detail
