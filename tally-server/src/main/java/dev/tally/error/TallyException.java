package dev.tally.error;

/**
 * The one exception type tally throws across components. {@link #kind()} says what went wrong and
 * decides the HTTP status (see {@code dev.tally.http.Problems}); {@link #retriable()} tells a
 * client whether the same request may succeed later. Messages are safe to show to clients: they
 * never echo raw request data.
 */
public class TallyException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final ErrorKind kind;

  public TallyException(ErrorKind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public TallyException(ErrorKind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public ErrorKind kind() {
    return kind;
  }

  public boolean retriable() {
    return kind.retriable();
  }

  /**
   * The first {@code TallyException} in {@code t}'s cause chain (asynchronous stages wrap them),
   * else a new one of {@code kind} with {@code message}, caused by {@code t}.
   */
  public static TallyException in(Throwable t, ErrorKind kind, String message) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TallyException e) {
        return e;
      }
    }
    return new TallyException(kind, message, t);
  }
}
