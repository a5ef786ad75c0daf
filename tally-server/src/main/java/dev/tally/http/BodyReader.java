package dev.tally.http;

import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a request body up to a limit, on the request's event loop. A body over the limit (by its
 * {@code Content-Length}, or as it arrives) is answered 413 with {@code Connection: close} at once
 * and the rest is never buffered. Stateless; every call is for one request.
 */
final class BodyReader {

  private static final Logger log = LoggerFactory.getLogger(BodyReader.class);

  private BodyReader() {}

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
    Buffer acc = Buffer.buffer(initial);
    boolean[] over = {false};
    req.handler(
        chunk -> {
          if (over[0]) {
            return;
          }
          if (acc.length() + chunk.length() > limit) {
            over[0] = true;
            tooLarge(req, limit, fail);
          } else {
            acc.appendBuffer(chunk);
          }
        });
    req.exceptionHandler(e -> log.debug("request body failed: {}", e.toString()));
    req.endHandler(
        v -> {
          if (over[0]) {
            return;
          }
          try {
            then.accept(acc.getBytes());
          } catch (TallyException e) {
            fail.accept(e);
          } catch (RuntimeException | LinkageError e) {
            log.error("unexpected failure handling a request", e);
            fail.accept(new TallyException(ErrorKind.INTERNAL, "internal error"));
          }
        });
  }

  private static void tooLarge(HttpServerRequest req, int limit, Consumer<TallyException> fail) {
    // the rest of the body is not read: close the connection after answering
    req.response().putHeader(HttpHeaders.CONNECTION, "close");
    fail.accept(new TallyException(ErrorKind.TOO_LARGE, "body is larger than " + limit + " bytes"));
  }
}
