#pragma once
// Test-only hooks that make rare failures happen on demand. Process-wide;
// the library's own code never sets them.

namespace nominee::detail::fault_injection {

// The next n create replies that succeed on the server are reported to the
// request as a connection loss: the exact ambiguity a protected create
// exists for (the node is there, the client was not told).
void lose_create_replies(int n) noexcept;

// Consumes one pending injection; true if this reply is to be lost.
bool take_lost_create_reply() noexcept;

// The same for set replies: the write happened, the client is told it may
// not have (a compare-and-set's ambiguity after a connection loss).
void lose_set_replies(int n) noexcept;
bool take_lost_set_reply() noexcept;

// The same for deletes and multis: applied by the server, reported to the
// request as a connection loss (a reply lost with the connection).
void lose_delete_replies(int n) noexcept;
bool take_lost_delete_reply() noexcept;
void lose_multi_replies(int n) noexcept;
bool take_lost_multi_reply() noexcept;

// Counts every reply from now on, of every request kind (reads too), and
// reports the n-th (1-based) as a connection loss whatever the server
// answered: the sweep tests lose one reply at each step of a scenario in
// turn. 0 counts without losing (a dry run, to learn how many there are);
// -1 (the default) stops counting.
void lose_reply_number(long n) noexcept;
bool take_numbered_reply() noexcept;
long replies_counted() noexcept;

// The next n requests of any kind are refused before they are sent, as the
// C client refuses them on a handle that is closing or whose session has
// expired (ZINVALIDSTATE, nothing reaches the server).
void refuse_requests(int n) noexcept;
bool take_refused_request() noexcept;

// Makes each new ZooKeeper handle wait this long between zookeeper_init and
// being published to its session: the window in which the C client can
// report "connected" before the session knows the handle (0: no wait).
void delay_handle_publication_by(int milliseconds) noexcept;
void delay_handle_publication() noexcept;

// The next n sends stall this long after the call is registered with the
// handle and before the C client sees it: a sender preempted at the worst
// moment, while another thread closes the handle.
void stall_sends(int n, int milliseconds) noexcept;
void stall_send() noexcept;
int sends_stalling() noexcept;  // how many senders are inside the stall now

}  // namespace nominee::detail::fault_injection
