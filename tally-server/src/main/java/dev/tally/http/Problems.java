package dev.tally.http;

import dev.tally.error.ErrorKind;

/**
 * The one table from {@link ErrorKind} to HTTP status and RFC 9457 problem type, and the problem
 * body. Stateless.
 */
final class Problems {

  static final String CONTENT_TYPE = "application/problem+json";

  private Problems() {}

  static int status(ErrorKind kind) {
    return switch (kind) {
      case BAD_REQUEST -> 400;
      case UNAUTHORIZED -> 401;
      case FORBIDDEN -> 403;
      case NOT_FOUND -> 404;
      case METHOD_NOT_ALLOWED -> 405;
      case TOO_LARGE -> 413;
      case UNSUPPORTED_MEDIA_TYPE -> 415;
      case IN_PROGRESS -> 409;
      case IDEMPOTENCY_CONFLICT, UNPROCESSABLE -> 422;
      case RATE_LIMITED -> 429;
      case OVERLOADED, UNAVAILABLE -> 503;
      case NOT_CONFIRMED -> 504;
      case INTERNAL -> 500;
    };
  }

  static String title(ErrorKind kind) {
    return switch (kind) {
      case BAD_REQUEST -> "Bad request";
      case UNAUTHORIZED -> "Unauthorized";
      case FORBIDDEN -> "Forbidden";
      case NOT_FOUND -> "Not found";
      case METHOD_NOT_ALLOWED -> "Method not allowed";
      case TOO_LARGE -> "Request too large";
      case UNSUPPORTED_MEDIA_TYPE -> "Unsupported media type";
      case IDEMPOTENCY_CONFLICT -> "Idempotency key reused";
      case IN_PROGRESS -> "Write in progress elsewhere";
      case UNPROCESSABLE -> "Write cannot be applied";
      case RATE_LIMITED -> "Too many requests";
      case OVERLOADED -> "Overloaded";
      case UNAVAILABLE -> "Unavailable";
      case NOT_CONFIRMED -> "Not confirmed by the cluster";
      case INTERNAL -> "Internal error";
    };
  }

  /** The problem type URI: {@code urn:tally:problem:<kind>}, listed in docs/api.md. */
  static String type(ErrorKind kind) {
    return "urn:tally:problem:" + kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  /** Seconds a client should wait before retrying, or -1 when it should not retry as is. */
  static int retryAfterSeconds(ErrorKind kind) {
    return kind.retriable() && kind != ErrorKind.INTERNAL ? 1 : -1;
  }

  static String body(ErrorKind kind, String detail) {
    StringBuilder sb = new StringBuilder(160);
    sb.append("{\"type\":\"").append(type(kind)).append("\",\"title\":\"").append(title(kind));
    sb.append("\",\"status\":").append(status(kind)).append(",\"detail\":");
    Json.appendString(sb, detail);
    return sb.append('}').toString();
  }
}
