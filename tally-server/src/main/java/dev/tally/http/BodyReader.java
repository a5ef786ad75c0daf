package dev.tally.http;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a request body up to a limit, on the request's event loop. A body over the limit (by its
 * {@code Content-Length}, or as it arrives) is answered 413 with {@code Connection: close} at once
 * and the rest is never buffered. One reader per request; it is both the request's data and end
 * handler, and a body that arrives in one chunk (the usual case) is copied out once, not collected.
 */
final class BodyReader implements Handler<Buffer> {

  private static final Logger log = LoggerFactory.getLogger(BodyReader.class);
  private static final Handler<Throwable> LOG_FAILURE =
      e -> log.debug("request body failed: {}", e.toString());

  private final HttpServerRequest req;
  private final int limit;
  private final int initial;
  private final Consumer<byte[]> then;
  private final Consumer<TallyException> fail;
  private Buffer first;
  private Buffer acc;
  private int length;
  private boolean over;

  private BodyReader(
      HttpServerRequest req,
      int limit,
      int initial,
      Consumer<byte[]> then,
      Consumer<TallyException> fail) {
    this.req = req;
    this.limit = limit;
    this.initial = initial;
    this.then = then;
    this.fail = fail;
  }

  /**
   * Collects the body of {@code req}, then calls {@code then} with it. Every failure, from the
   * limit or from {@code then}, goes to {@code fail} as a {@link TallyException}.
   */
  static void read(
      HttpServerRequest req, int limit, Consumer<byte[]> then, Consumer<TallyException> fail) {
    String declared = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    int initial = 256;
    if (declared != null) {
      long n;
      try {
        n = Long.parseLong(declared.trim());
      } catch (NumberFormatException e) {
        throw new TallyException(ErrorKind.BAD_REQUEST, "Content-Length is not a number");
      }
      if (n > limit) {
        tooLarge(req, limit, fail);
        return;
      }
      initial = (int) Math.max(16, n);
    }
    BodyReader reader = new BodyReader(req, limit, initial, then, fail);
    req.handler(reader);
    req.exceptionHandler(LOG_FAILURE);
    req.endHandler(v -> reader.end());
  }

  /** One chunk of the body. */
  @Override
  public void handle(Buffer chunk) {
    if (over) {
      return;
    }
    if (length + chunk.length() > limit) {
      over = true;
      first = null;
      acc = null;
      tooLarge(req, limit, fail);
      return;
    }
    length += chunk.length();
    if (first == null && acc == null) {
      first = chunk; // kept as it is: most bodies are one chunk
    } else {
      if (acc == null) {
        acc = Buffer.buffer(Math.max(initial, length)).appendBuffer(first);
        first = null;
      }
      acc.appendBuffer(chunk);
    }
  }

  private void end() {
    if (over) {
      return;
    }
    byte[] body = acc != null ? acc.getBytes() : first != null ? first.getBytes() : new byte[0];
    try {
      then.accept(body);
    } catch (TallyException e) {
      fail.accept(e);
    } catch (RuntimeException | LinkageError e) {
      log.error("unexpected failure handling a request", e);
      fail.accept(new TallyException(ErrorKind.INTERNAL, "internal error"));
    }
  }

  private static void tooLarge(HttpServerRequest req, int limit, Consumer<TallyException> fail) {
    // the rest of the body is not read: close the connection after answering
    req.response().putHeader(HttpHeaders.CONNECTION, "close");
    fail.accept(new TallyException(ErrorKind.TOO_LARGE, "body is larger than " + limit + " bytes"));
  }
}
