package dev.tally.loop;

import io.vertx.core.transport.Transport;
import java.util.Locale;

/**
 * The kernel interface the event loops use for their sockets ({@code --transport}).
 *
 * <p>{@link #AUTO} takes io_uring where the kernel offers it, else epoll, else Java's NIO. On the
 * test machine io_uring took a fifth to a quarter less event-loop CPU per HTTP request than epoll
 * (its completions come in batches, and sends and receives are submitted without a system call
 * each; docs/performance-notes.md, "The event loops on io_uring"). Hosts may forbid io_uring (a
 * container's default seccomp profile, {@code kernel.io_uring_disabled}); {@link #AUTO} then falls
 * back and says why, and an explicit choice the host cannot honour is refused at start (ADR 0010).
 */
public enum NetTransport {
  AUTO("auto"),
  IO_URING("io_uring"),
  EPOLL("epoll"),
  NIO("nio");

  /**
   * What a choice came to on this host.
   *
   * @param used the transport the loops run on (never {@link #AUTO})
   * @param vertx the same for Vert.x
   * @param passedOver why the transports {@link #AUTO} prefers were not used; empty when none was
   *     passed over
   */
  public record Pick(NetTransport used, Transport vertx, String passedOver) {}

  private final String flag;

  NetTransport(String flag) {
    this.flag = flag;
  }

  /** The value as {@code --transport} takes it. */
  public String flag() {
    return flag;
  }

  /** Parses {@code auto}, {@code io_uring}, {@code epoll} or {@code nio} (any case). */
  public static NetTransport parse(String s) {
    String v = s.trim().toLowerCase(Locale.ROOT);
    for (NetTransport t : values()) {
      if (t.flag.equals(v)) {
        return t;
      }
    }
    throw new IllegalArgumentException("must be auto, io_uring, epoll or nio");
  }

  /**
   * The transport for this choice on this host.
   *
   * @throws IllegalStateException when this is an explicit choice the host does not offer, with the
   *     reason
   */
  public Pick pick() {
    return pick(Transport.IO_URING, Transport.EPOLL);
  }

  /** {@link #pick()} with the native transports given: a seam for tests. */
  Pick pick(Transport uring, Transport epoll) {
    return switch (this) {
      case IO_URING -> explicit(IO_URING, uring);
      case EPOLL -> explicit(EPOLL, epoll);
      case NIO -> new Pick(NIO, Transport.NIO, "");
      case AUTO -> {
        if (uring.available()) {
          yield new Pick(IO_URING, uring, "");
        }
        String why = "io_uring: " + cause(uring);
        if (epoll.available()) {
          yield new Pick(EPOLL, epoll, why);
        }
        yield new Pick(NIO, Transport.NIO, why + "; epoll: " + cause(epoll));
      }
    };
  }

  private static Pick explicit(NetTransport t, Transport vertx) {
    if (!vertx.available()) {
      throw new IllegalStateException(
          "--transport " + t.flag + " is not available on this host: " + cause(vertx));
    }
    return new Pick(t, vertx, "");
  }

  private static String cause(Transport t) {
    Throwable c = t.unavailabilityCause();
    if (c == null) {
      return "unavailable";
    }
    String m = c.getMessage();
    return m == null || m.isBlank() ? c.getClass().getSimpleName() : m;
  }
}
