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
}
