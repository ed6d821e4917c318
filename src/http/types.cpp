// Header lookup shared by server and client code.
#include "http/types.h"

#include <strings.h>

namespace arbitra::http {

std::string_view findHeader(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return h.value;
    }
  }
  return {};
}

}  // namespace arbitra::http
