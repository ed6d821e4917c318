// HTTP message types shared by the server and the client, free of Beast/Asio
// so that code above the http module never includes them. `Task<T>` is the
// coroutine type every asynchronous call here returns.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace arbitra::http {

template <typename T>
using Task = boost::asio::awaitable<T>;

struct Header {
  std::string name;
  std::string value;
};

using Headers = std::vector<Header>;

// GCC 12 rejects a braced header list written inside a co_await expression
// ("array used as initializer"): build such lists in a local first, or use this.
inline Headers jsonHeaders() { return {Header{"content-type", "application/json"}}; }

// Case-insensitive lookup; "" when absent.
std::string_view findHeader(const Headers& headers, std::string_view name);

}  // namespace arbitra::http
