#include "range_space.hpp"

#include <memory>
#include <string>

#include <boost/asio/bind_executor.hpp>

#include <nominee/log.hpp>

namespace nominee::detail {

namespace {

class space_opener : public std::enable_shared_from_this<space_opener> {
 public:
  using callback = std::function<void(std::error_code, std::optional<range_space_config>)>;
  space_opener(session_link link, range_strand strand, range_paths paths, range_space_config wanted, callback done)
      : link_(std::move(link)),
        strand_(std::move(strand)),
        paths_(std::move(paths)),
        wanted_(wanted),
        done_(std::move(done)) {}

  template <class F>
  auto bind(F f) {
    return boost::asio::bind_executor(strand_, [self = shared_from_this(), f = std::move(f)](auto&&... args) {
      f(*self, std::forward<decltype(args)>(args)...);
    });
  }

  void start() {
    link_.ensure_path(paths_.base, bind([](space_opener& self, std::error_code ec) {
      if (ec) return self.finish(ec, std::nullopt);
      self.create_nodes();
    }));
  }

 private:
  void create_nodes() {
    std::vector<operation> ops;
    ops.push_back(op::create{paths_.config, encode_space_config(wanted_), {}});
    ops.push_back(op::create{paths_.cursor, encode_cursor(wanted_.lo), {}});
    ops.push_back(op::create{paths_.free_dir, "", {}});
    ops.push_back(op::create{paths_.consumers_dir, "", {}});
    ops.push_back(op::create{paths_.leases_dir, "", {}});
    range_multi(link_, std::move(ops),
                bind([](space_opener& self, std::error_code ec, const std::vector<operation_result>&) {
                  if (!ec) return self.read_config();
                  if (!is_node_exists(ec)) return self.finish(ec, std::nullopt);
                  // Someone else made the space: its directories exist
                  // (same multi), but make sure of them all the same.
                  self.ensure_dirs(0);
                }));
  }

  void ensure_dirs(int index) {
    const std::string* dirs[] = {&paths_.free_dir, &paths_.consumers_dir, &paths_.leases_dir};
    if (index == 3) return read_config();
    link_.ensure_path(*dirs[index], bind([index](space_opener& self, std::error_code ec) {
      if (ec) return self.finish(ec, std::nullopt);
      self.ensure_dirs(index + 1);
    }));
  }

  void read_config() {
    link_.get(paths_.config, session::watcher{}, bind([](space_opener& self, std::error_code ec, const node& n) {
      if (ec) return self.finish(ec, std::nullopt);
      auto stored = decode_space_config(n.data);
      if (!stored) {
        log(log_level::error, "range space " + paths_config(self) + " holds a config that cannot be read: '" +
                                  n.data.substr(0, 200) + "'");
        return self.finish(make_error_code(errc::invalid_json), std::nullopt);
      }
      if (!same_space_config(*stored, self.wanted_))
        log(log_level::warn, "range space " + paths_config(self) + ": the stored config " +
                                 describe_space_config(*stored) + " wins over the one given, " +
                                 describe_space_config(self.wanted_));
      self.finish({}, stored);
    }));
  }

  static std::string paths_config(const space_opener& self) { return self.paths_.config; }

  void finish(std::error_code ec, std::optional<range_space_config> stored) {
    auto done = std::move(done_);
    done_ = nullptr;
    if (done) done(ec, stored);
  }

  session_link link_;
  range_strand strand_;
  range_paths paths_;
  range_space_config wanted_;
  callback done_;
};

}  // namespace

void open_range_space(const session_link& link, const range_strand& strand, const range_paths& paths,
                      const range_space_config& wanted,
                      std::function<void(std::error_code, std::optional<range_space_config>)> done) {
  std::make_shared<space_opener>(link, strand, paths, wanted, std::move(done))->start();
}

}  // namespace nominee::detail
