package dev.tally.http;

import dev.tally.access.AccessControl;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * Writes a complete answer, or a problem, to a request and records it in the HTTP metrics: the one
 * place every endpoint answers through, so headers such as {@code Retry-After} and {@code
 * WWW-Authenticate} are the same everywhere. Stateless; call on the request's event loop.
 */
final class Responses {

  static final CharSequence PROBLEM = HttpHeaders.createOptimized(Problems.CONTENT_TYPE);

  private Responses() {}

  /** Sends {@code body} unless the response was already sent or the connection is gone. */
  static void send(
      HttpServerRequest req,
      HttpMetrics metrics,
      HttpMetrics.Endpoint endpoint,
      long startNanos,
      int status,
      CharSequence contentType,
      Buffer body) {
    HttpServerResponse resp = req.response();
    if (resp.ended() || resp.closed()) {
      return;
    }
    // recorded (and access-logged) before the answer leaves: a client that has it can count on it
    metrics.done(req, endpoint, status, System.nanoTime() - startNanos);
    resp.setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, contentType).end(body);
  }

  /**
   * Sends {@code e} as an RFC 9457 problem, with {@code Retry-After} for retriable kinds (the rate
   * limiter's own delay for a 429) and {@code WWW-Authenticate} for a 401.
   */
  static void problem(
      HttpServerRequest req,
      HttpMetrics metrics,
      HttpMetrics.Endpoint endpoint,
      long startNanos,
      TallyException e) {
    HttpServerResponse resp = req.response();
    if (resp.ended() || resp.closed() || resp.headWritten()) {
      return;
    }
    int retryAfter =
        e instanceof AccessControl.RateLimitedException limited
            ? limited.retryAfterSeconds()
            : Problems.retryAfterSeconds(e.kind());
    if (retryAfter > 0) {
      resp.putHeader(HttpHeaders.RETRY_AFTER, Integer.toString(retryAfter));
    }
    if (e.kind() == ErrorKind.UNAUTHORIZED) {
      resp.putHeader("WWW-Authenticate", "Bearer realm=\"tally\"");
    }
    send(
        req,
        metrics,
        endpoint,
        startNanos,
        Problems.status(e.kind()),
        PROBLEM,
        Buffer.buffer(Problems.body(e.kind(), e.getMessage())));
  }
}
