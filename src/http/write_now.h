// Writing to a non-blocking socket without a trip through the event loop
// when it can be avoided. Internal to the http module (it includes Asio;
// only server.cpp and client.cpp include it).
//
// An answer or an upstream request almost always fits the socket's send
// buffer: one sendmsg() here writes it and the caller goes on. Only what the
// socket did not take goes through an asynchronous write, which waits for
// room. The socket must be in non-blocking mode (socket.non_blocking(true)).
// Timeouts are the caller's (a Deadline around the call, see deadline.h).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>

#include "http/types.h"

namespace arbitra::http::detail {

namespace internal {

// The try without the event loop: the bytes the socket took now (0 when it
// would block); `ec` is set only on a real error.
template <std::size_t N>
std::size_t writeNow(boost::asio::ip::tcp::socket& socket, const std::array<boost::asio::const_buffer, N>& pieces,
                     boost::system::error_code& ec) {
  namespace asio = boost::asio;
  std::size_t written = socket.write_some(pieces, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    written = 0;
  }
  return written;
}

// Everything of `pieces` after its first `written` bytes, waiting for room
// as long as it takes.
template <std::size_t N>
Task<boost::system::error_code> writeRest(boost::asio::ip::tcp::socket& socket,
                                          std::array<boost::asio::const_buffer, N> pieces, std::size_t written) {
  namespace asio = boost::asio;
  boost::beast::buffers_suffix<std::array<asio::const_buffer, N>> rest(pieces);
  rest.consume(written);
  boost::system::error_code ec;
  std::tie(ec, std::ignore) = co_await asio::async_write(socket, rest, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

}  // namespace internal

// Writes what the socket takes now and returns the rest's write for the
// caller to await, or nothing when the write is over (then `ec` says how it
// went: set only on a real error). A plain function, not a coroutine, so
// that a caller whose write completes here awaits nothing at all: every
// await of a coroutine costs a frame and a trip through Asio's awaitable
// machinery.
//   if (auto rest = writeStart(socket, pieces, ec)) ec = co_await std::move(*rest);
template <std::size_t N>
std::optional<Task<boost::system::error_code>> writeStart(boost::asio::ip::tcp::socket& socket,
                                                          const std::array<boost::asio::const_buffer, N>& pieces,
                                                          boost::system::error_code& ec) {
  std::size_t written = internal::writeNow(socket, pieces, ec);
  if (ec || written == boost::asio::buffer_size(pieces)) return std::nullopt;
  return internal::writeRest(socket, pieces, written);
}

}  // namespace arbitra::http::detail
