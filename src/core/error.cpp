// ErrorKind -> HTTP status and wire-format error types: the single mapping table.
#include "core/error.h"

#include "core/types.h"

namespace arbitra::core {

const char* toString(WireFormat format) {
  return format == WireFormat::OpenAI ? "openai" : "anthropic";
}

int httpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidRequest: return 400;
    case ErrorKind::Authentication: return 401;
    case ErrorKind::PermissionDenied: return 403;
    case ErrorKind::NotFound: return 404;
    case ErrorKind::RequestTooLarge: return 413;
    case ErrorKind::RateLimited: return 429;
    case ErrorKind::Internal: return 500;
    case ErrorKind::UpstreamError: return 502;
    case ErrorKind::Overloaded: return 503;
    case ErrorKind::UpstreamTimeout: return 504;
  }
  return 500;
}

int Error::httpStatus() const { return status != 0 ? status : core::httpStatus(kind); }

const char* openAIErrorType(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidRequest: return "invalid_request_error";
    case ErrorKind::Authentication: return "authentication_error";
    case ErrorKind::PermissionDenied: return "permission_error";
    case ErrorKind::NotFound: return "invalid_request_error";
    case ErrorKind::RequestTooLarge: return "invalid_request_error";
    case ErrorKind::RateLimited: return "rate_limit_error";
    case ErrorKind::Internal: return "server_error";
    case ErrorKind::UpstreamError: return "upstream_error";
    case ErrorKind::Overloaded: return "server_error";
    case ErrorKind::UpstreamTimeout: return "timeout_error";
  }
  return "server_error";
}

const char* anthropicErrorType(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidRequest: return "invalid_request_error";
    case ErrorKind::Authentication: return "authentication_error";
    case ErrorKind::PermissionDenied: return "permission_error";
    case ErrorKind::NotFound: return "not_found_error";
    case ErrorKind::RequestTooLarge: return "request_too_large";
    case ErrorKind::RateLimited: return "rate_limit_error";
    case ErrorKind::Internal: return "api_error";
    case ErrorKind::UpstreamError: return "api_error";
    case ErrorKind::Overloaded: return "overloaded_error";
    case ErrorKind::UpstreamTimeout: return "timeout_error";
  }
  return "api_error";
}

ErrorKind kindForStatus(int status) {
  switch (status) {
    case 400: case 422: return ErrorKind::InvalidRequest;
    case 401: return ErrorKind::Authentication;
    case 403: return ErrorKind::PermissionDenied;
    case 404: return ErrorKind::NotFound;
    case 413: return ErrorKind::RequestTooLarge;
    case 429: return ErrorKind::RateLimited;
    case 503: case 529: return ErrorKind::Overloaded;
    case 504: return ErrorKind::UpstreamTimeout;
    default: break;
  }
  if (status >= 500) return ErrorKind::UpstreamError;
  return ErrorKind::InvalidRequest;
}

}  // namespace arbitra::core
