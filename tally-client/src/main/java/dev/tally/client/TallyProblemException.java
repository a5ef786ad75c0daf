package dev.tally.client;

import java.time.Duration;

/**
 * A problem answered by tally ({@code application/problem+json}, RFC 9457), or a request that could
 * not be sent or answered (status 0, type {@link #TRANSPORT}). For a write it carries the
 * idempotency key the client used: retrying the same write later with that key (for instance with
 * {@link TallyClient#write(long, String, Action, String)}) can never count it twice.
 */
public final class TallyProblemException extends RuntimeException {

  /** The type of a failure to reach the node or to get its answer. */
  public static final String TRANSPORT = "urn:tally:problem:transport";

  private final String type;
  private final String title;
  private final int status;
  private final String detail;
  private final Duration retryAfter;
  private final String idempotencyKey;

  public TallyProblemException(
      String type,
      String title,
      int status,
      String detail,
      Duration retryAfter,
      String idempotencyKey,
      Throwable cause) {
    super(status == 0 ? detail : status + " " + type + ": " + detail, cause);
    this.type = type;
    this.title = title;
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.idempotencyKey = idempotencyKey;
  }

  /** The problem's type URI, e.g. {@code urn:tally:problem:not-found}. */
  public String type() {
    return type;
  }

  public String title() {
    return title;
  }

  /** The HTTP status, or 0 when no answer came (see {@link #TRANSPORT}). */
  public int status() {
    return status;
  }

  public String detail() {
    return detail;
  }

  /** The node's {@code Retry-After}, or null. */
  public Duration retryAfter() {
    return retryAfter;
  }

  /** The write's idempotency key, or null for a read. */
  public String idempotencyKey() {
    return idempotencyKey;
  }

  /**
   * True when sending the same request again may succeed: no answer, 5xx, 429 (rate limited) or 409
   * (another node is applying the same key). With an idempotency key a retry never counts twice.
   */
  public boolean retriable() {
    return status == 0 || status >= 500 || status == 429 || status == 409;
  }

  TallyProblemException withKey(String key) {
    return new TallyProblemException(type, title, status, detail, retryAfter, key, getCause());
  }
}
