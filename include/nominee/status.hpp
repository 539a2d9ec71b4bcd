#pragma once
// nominee::status: a service's nominee state over HTTP. A status_board says
// what to show; a status_server serves it (JSON, Prometheus metrics, a
// health check and a live dashboard page).
//
//   nominee::status_board board("host-1");
//   board.show_session(zk);
//   board.show_divider(jobs);
//   board.show_role("cluster-manager", who);
//   nominee::status_server server(board);          // 127.0.0.1, a free port
//   std::cout << "status at " << server.url() << "\n";
//
// Link nominee::status (it adds cpprestsdk; nominee::nominee does not).

#include <nominee/status_board.hpp>
#include <nominee/status_server.hpp>
