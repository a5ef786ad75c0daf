package dev.tally.error;

/** What went wrong, as far as a client cares. Each kind maps to one HTTP status. */
public enum ErrorKind {
  /** The request is malformed: bad JSON, bad post id, bad header. */
  BAD_REQUEST(false),
  /** No valid credentials: missing, malformed, forged or expired. */
  UNAUTHORIZED(false),
  /** Valid credentials that do not allow this request. */
  FORBIDDEN(false),
  /** No such resource: unknown path or counter name. */
  NOT_FOUND(false),
  /** The path exists but not with this method. */
  METHOD_NOT_ALLOWED(false),
  /** The body or a list in it is larger than allowed. */
  TOO_LARGE(false),
  /** The body is not JSON. */
  UNSUPPORTED_MEDIA_TYPE(false),
  /** An idempotency key was reused for a different request. */
  IDEMPOTENCY_CONFLICT(false),
  /** The idempotency key's write is being applied by another node: retry shortly. */
  IN_PROGRESS(true),
  /** The write would overflow the counter. */
  UNPROCESSABLE(false),
  /** This client or post is over its rate limit: try again after the advertised delay. */
  RATE_LIMITED(true),
  /** Too many writes are waiting: try again shortly. */
  OVERLOADED(true),
  /** The store cannot take writes now (disk full, I/O error, closing). */
  UNAVAILABLE(true),
  /**
   * Cluster mode with acknowledgement by the cluster: the write is durable on the node but Redis
   * did not confirm it in time. It will be pushed; retrying with the same idempotency key is safe.
   */
  NOT_CONFIRMED(true),
  /** A bug: never expected. */
  INTERNAL(true);

  private final boolean retriable;

  ErrorKind(boolean retriable) {
    this.retriable = retriable;
  }

  public boolean retriable() {
    return retriable;
  }
}
