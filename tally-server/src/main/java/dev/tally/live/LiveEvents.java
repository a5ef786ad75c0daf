package dev.tally.live;

import java.time.Instant;
import java.time.format.DateTimeFormatter;

/**
 * The Server-Sent Events text of a post's stream (see docs/api.md): one event per change set, a
 * JSON {@code data:} line with the post and its changed counts, and keep-alive comments. Stateless
 * and thread-safe.
 */
final class LiveEvents {

  /** Sent with the first event: how long a client waits before it reconnects, in ms. */
  static final int RETRY_MILLIS = 2000;

  static final String KEEP_ALIVE = ": keep-alive\n\n";

  private LiveEvents() {}

  /** Starts an event: {@code id:} line and the start of the JSON data up to the counts object. */
  static StringBuilder begin(long id, long postId, boolean snapshot) {
    StringBuilder sb = new StringBuilder(snapshot ? 256 : 128);
    if (snapshot) {
      sb.append("retry: ").append(RETRY_MILLIS).append('\n');
    }
    sb.append("id: ").append(id).append('\n');
    sb.append("data: {\"post_id\":\"").append(postId).append("\",\"snapshot\":").append(snapshot);
    return sb.append(",\"counts\":{");
  }

  /** Appends {@code "name":{"count":N,"updated_at":…}}. */
  static void count(StringBuilder sb, String name, long count, long updatedAt) {
    sb.append('"').append(name).append("\":{\"count\":").append(count).append(",\"updated_at\":");
    if (updatedAt <= 0) {
      sb.append("null");
    } else {
      sb.append('"')
          .append(DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(updatedAt)))
          .append('"');
    }
    sb.append('}');
  }

  /** Closes the counts object, the JSON and the event. */
  static String end(StringBuilder sb) {
    return sb.append("}}\n\n").toString();
  }
}
