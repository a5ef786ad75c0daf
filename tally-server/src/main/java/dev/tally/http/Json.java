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
    return appendTimestamp(sb.append('"'), updatedAtSecond).append('"');
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

  /** 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z as epoch seconds: the four-digit years. */
  private static final long FIRST_SECOND = -62_167_219_200L;

  private static final long LAST_SECOND = 253_402_300_799L;

  /**
   * {@code epochSecond} as ISO-8601 in UTC, as {@link DateTimeFormatter#ISO_INSTANT} writes a whole
   * second ({@code 2026-12-07T14:05:09Z}), appended to {@code sb}. Written digit by digit from the
   * civil date of the day number, without the formatter's objects: a read of a counter last written
   * at another second than the thread's previous answer formatted one, which in a profile of
   * cluster reads was 1.5 % of the event loop, nearly half of the answers' JSON (0.05 % in one of
   * standalone reads). Seconds outside the years 0000-9999 go to the formatter.
   */
  static StringBuilder appendTimestamp(StringBuilder sb, long epochSecond) {
    if (epochSecond < FIRST_SECOND || epochSecond > LAST_SECOND) {
      return sb.append(DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(epochSecond)));
    }
    long day = Math.floorDiv(epochSecond, 86_400L);
    int second = (int) Math.floorMod(epochSecond, 86_400L);
    // the civil date of a day number, counted in 400-year eras of 146,097 days from 0000-03-01
    // (so that the leap day ends each counted year): day of era, year of era, day of that year,
    // then the month from a March-first year
    long shifted = day + 719_468L;
    long era = Math.floorDiv(shifted, 146_097L);
    int dayOfEra = (int) (shifted - era * 146_097L);
    int yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365;
    int dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
    int marchMonth = (5 * dayOfYear + 2) / 153; // 0 = March … 11 = February
    int dayOfMonth = dayOfYear - (153 * marchMonth + 2) / 5 + 1;
    int month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9;
    long year = era * 400 + yearOfEra + (month <= 2 ? 1 : 0);
    digits(sb, (int) year, 4).append('-');
    digits(sb, month, 2).append('-');
    digits(sb, dayOfMonth, 2).append('T');
    digits(sb, second / 3_600, 2).append(':');
    digits(sb, second / 60 % 60, 2).append(':');
    return digits(sb, second % 60, 2).append('Z');
  }

  /** {@code value} (0 ≤ value < 10^width) in exactly {@code width} decimal digits. */
  private static StringBuilder digits(StringBuilder sb, int value, int width) {
    for (int unit = width == 4 ? 1_000 : 10; unit > 0; unit /= 10) {
      sb.append((char) ('0' + value / unit % 10));
    }
    return sb;
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
