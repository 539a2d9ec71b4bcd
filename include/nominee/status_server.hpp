#pragma once
// nominee::status_server: serves a status_board over HTTP (cpprestsdk's
// http_listener; no cpprest type appears here).
//
//   GET /          the dashboard (also /index.html): a bar per member for
//                  its share of the keys, who holds each role, recent
//                  events; refreshes itself from /status every second
//   GET /status    JSON (status_board::status_json)
//   GET /metrics   Prometheus text format 0.0.4 (status_board::metrics_text)
//   GET /healthz   200 {"status":"ok"} while the session is connected, else 503
//
// Read-only: any other method gets 405, any other path 404, headers over
// max_header_bytes 431, all with a JSON body {"error": ...}. HEAD answers
// like GET without a body. Every response says Cache-Control: no-store.
//
// Part of nominee::status (link nominee::status; it adds cpprestsdk).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <nominee/status_board.hpp>

namespace nominee {

struct status_options {
  // An IP address literal to listen on ("127.0.0.1", "::1", "0.0.0.0", "::").
  // Loopback by default: the endpoint tells anyone who can reach it about
  // the fleet, so exposing it is a decision.
  std::string address = "127.0.0.1";
  // 0: a free port, chosen when the server starts (see port()).
  std::uint16_t port = 0;
  // Requests whose request target and headers together exceed this get 431.
  // (cpprest reads a request's whole header block before anyone can look at
  // it, so this bounds what is processed, not what is read.)
  std::size_t max_header_bytes = 16 * 1024;
};

class status_server {
 public:
  // Listens before it returns. Throws nominee::error naming address:port
  // when it cannot (a bad address, the port in use, no permission).
  status_server(const status_board& board, status_options options = {});
  // Stops listening and closes open connections; no request reads the
  // board after this returns.
  ~status_server();
  status_server(const status_server&) = delete;
  status_server& operator=(const status_server&) = delete;

  // The port listened on (the chosen one when options.port was 0).
  std::uint16_t port() const noexcept;
  // "http://127.0.0.1:PORT/" ("http://[::1]:PORT/" for IPv6).
  std::string url() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nominee
