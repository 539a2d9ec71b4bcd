# Project-wide compile flags: warnings (errors in CI) and sanitizer builds.
add_compile_options(-Wall -Wextra -Wpedantic)
if(NOMINEE_WERROR)
  add_compile_options(-Werror)
endif()

if(NOMINEE_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NOMINEE_SANITIZE STREQUAL "thread")
  # Asio's std_fenced_block uses atomic_thread_fence, which TSan does not
  # model (GCC warns: -Wtsan). Asio hands work between threads under mutexes,
  # which TSan does see, so the fence is belt and braces: silence the warning.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
elseif(NOT NOMINEE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "NOMINEE_SANITIZE='${NOMINEE_SANITIZE}': use '', 'address' or 'thread'")
endif()
