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
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>

#include "http/types.h"

namespace arbitra::http::detail {

template <std::size_t N>
Task<boost::system::error_code> writeNowOrLater(boost::asio::ip::tcp::socket& socket,
                                                std::array<boost::asio::const_buffer, N> pieces) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  std::size_t total = asio::buffer_size(pieces);
  std::size_t written = socket.write_some(pieces, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    written = 0;
  }
  if (ec || written == total) co_return ec;
  boost::beast::buffers_suffix<std::array<asio::const_buffer, N>> rest(pieces);
  rest.consume(written);
  std::tie(ec, std::ignore) = co_await asio::async_write(socket, rest, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

}  // namespace arbitra::http::detail
