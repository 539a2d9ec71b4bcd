// The smallest program that uses an installed nominee: it checks that the
// headers, the library and the C client link, and that bad options are
// refused with an error that names them.
#include <iostream>

#include <nominee/session.hpp>

int main() {
  nominee::session_options options;
  options.hosts = "localhost:2181,";  // a trailing comma: refused before connecting
  try {
    nominee::session session(options);
    std::cerr << "nominee-consumer: a malformed hosts string was accepted\n";
    return 1;
  } catch (const nominee::error& e) {
    if (e.code() != nominee::errc::invalid_hosts) {
      std::cerr << "nominee-consumer: unexpected error: " << e.what() << "\n";
      return 1;
    }
    std::cout << "nominee-consumer: linked against nominee; bad hosts refused: " << e.what() << "\n";
  }
  return 0;
}
