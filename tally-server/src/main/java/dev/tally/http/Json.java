package dev.tally.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import io.vertx.core.buffer.Buffer;
import java.time.Instant;
import java.time.format.DateTimeFormatter;

/**
 * JSON in and out of the API: a strict, bounded Jackson parser factory, and hand-written output for
 * the few small response shapes. Stateless and thread-safe.
 */
final class Json {

  /** Strict: duplicate keys rejected; depth, string and number sizes bounded. */
  static final JsonFactory FACTORY =
      JsonFactory.builder()
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .streamReadConstraints(
              StreamReadConstraints.builder()
                  .maxNestingDepth(8)
                  .maxNumberLength(32)
                  .maxStringLength(4096)
                  .maxNameLength(256)
                  .build())
          .build();

  /**
   * The same limits without Jackson's duplicate detection, which keeps a hash set per object and
   * cost 7 % of a core on 1000-item batches; {@link Requests#batchWrites} detects duplicate fields
   * itself, with a bit per known field.
   */
  static final JsonFactory BATCH_FACTORY =
      FACTORY.rebuild().disable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

  private Json() {}

  static JsonParser parser(byte[] body) throws java.io.IOException {
    return FACTORY.createParser(body);
  }

  /** A parser for batch-write bodies, whose reader must reject duplicate fields itself. */
  static JsonParser batchParser(byte[] body) throws java.io.IOException {
    return BATCH_FACTORY.createParser(body);
  }

  /** {@code {"count":N,"updated_at":"…"|null}} into {@code sb}. */
  static StringBuilder appendCount(StringBuilder sb, long count, long updatedAtSecond) {
    return appendCountFields(sb.append('{'), count, updatedAtSecond).append('}');
  }

  /** {@code "count":N,"updated_at":"…"|null} into {@code sb}, for an object being written. */
  static StringBuilder appendCountFields(StringBuilder sb, long count, long updatedAtSecond) {
    sb.append("\"count\":").append(count).append(",\"updated_at\":");
    if (updatedAtSecond <= 0) {
      return sb.append("null");
    }
    return sb.append('"').append(timestamp(updatedAtSecond)).append('"');
  }

  /** Each thread's scratch for {@link #countBody}. */
  private static final ThreadLocal<StringBuilder> SCRATCH =
      ThreadLocal.withInitial(() -> new StringBuilder(64));

  /**
   * {@code {"count":N,"updated_at":"…"|null}} as a response body, built in a per-thread scratch and
   * copied once into the buffer that is sent: the text is ASCII (digits, an ISO instant, null).
   */
  static Buffer countBody(long count, long updatedAtSecond) {
    StringBuilder sb = SCRATCH.get();
    sb.setLength(0);
    appendCount(sb, count, updatedAtSecond);
    int n = sb.length();
    Buffer body = Buffer.buffer(n);
    for (int i = 0; i < n; i++) {
      body.appendByte((byte) sb.charAt(i));
    }
    return body;
  }

  /** The last formatted second of each thread: most answers in a second share it. */
  private static final ThreadLocal<Object[]> LAST_TIMESTAMP =
      ThreadLocal.withInitial(() -> new Object[] {-1L, ""});

  static String timestamp(long epochSecond) {
    Object[] last = LAST_TIMESTAMP.get();
    if ((long) last[0] != epochSecond) {
      last[1] = DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(epochSecond));
      last[0] = epochSecond;
    }
    return (String) last[1];
  }

  /** A JSON string literal of {@code s}, escaped. */
  static void appendString(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
