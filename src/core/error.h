// The error taxonomy and the result type used on the request path.
//
// Expected failures (bad input, unknown model, upstream refusals) travel as a
// Result<T> carrying an Error, never as exceptions. One ErrorKind maps to the
// HTTP status and to each wire format's error type, in error.cpp and nowhere else.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace arbitra::core {

enum class ErrorKind {
  InvalidRequest,    // 400: malformed JSON, wrong types, missing fields
  Authentication,    // 401
  PermissionDenied,  // 403
  NotFound,          // 404: unknown model or route
  RequestTooLarge,   // 413
  RateLimited,       // 429
  Internal,          // 500
  UpstreamError,     // 502: upstream 5xx, garbage, disconnect
  Overloaded,        // 503
  UpstreamTimeout,   // 504
};

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;
  std::string param;                  // the offending field, when known
  int status = 0;                     // 0: the kind's status; set to pass an upstream 4xx through
  std::optional<int> retryAfterSeconds;

  int httpStatus() const;
};

// The HTTP status an ErrorKind maps to.
int httpStatus(ErrorKind kind);
// OpenAI's `error.type` and Anthropic's `error.type` for a kind.
const char* openAIErrorType(ErrorKind kind);
const char* anthropicErrorType(ErrorKind kind);
// The kind an upstream HTTP status maps to (for passing upstream errors through).
ErrorKind kindForStatus(int status);

inline Error makeError(ErrorKind kind, std::string message, std::string param = {}) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  e.param = std::move(param);
  return e;
}

// A value or an Error. Small on purpose: ok(), value(), error().
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace arbitra::core
