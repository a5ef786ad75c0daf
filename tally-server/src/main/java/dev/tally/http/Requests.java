package dev.tally.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.IdempotencyKeys;
import dev.tally.counter.PostIds;
import dev.tally.engine.Write;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses and validates request parts into engine types. Every failure is a {@link TallyException}
 * with a client-facing message that does not echo the input. Stateless and thread-safe.
 */
final class Requests {

  private Requests() {}

  /** A batch-write item: the write, or why it cannot be one. */
  record Item(Write write, TallyException error) {}

  /** A batch read: posts × counter codes. */
  record ReadQuery(long[] posts, int[] codes) {
    int size() {
      return posts.length * codes.length;
    }
  }

  static long postId(String s) {
    long v = PostIds.parse(s, false);
    if (v < 0) {
      throw badPostId();
    }
    return v;
  }

  private static TallyException badPostId() {
    return new TallyException(
        ErrorKind.BAD_REQUEST,
        "post id must be a positive 64-bit integer in decimal, without sign or leading zeros");
  }

  static int counterCode(CounterNames names, String name) {
    int code = names.codeOrMinusOne(name);
    if (code < 0) {
      throw new TallyException(
          ErrorKind.NOT_FOUND,
          "unknown counter; this node serves: " + String.join(", ", names.names()));
    }
    return code;
  }

  /** The header's key, or null when absent. */
  static String idempotencyKey(String header) {
    if (header == null) {
      return null;
    }
    if (!IdempotencyKeys.valid(header)) {
      throw new TallyException(
          ErrorKind.BAD_REQUEST,
          "Idempotency-Key must be 1-" + IdempotencyKeys.MAX_LENGTH + " visible ASCII characters");
    }
    return header;
  }

  private static final byte[] INCREMENT =
      "{\"action\":\"increment\"}".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] DECREMENT =
      "{\"action\":\"decrement\"}".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /** The delta of a single-write body {@code {"action":"increment"|"decrement"}}. */
  static long action(byte[] body) {
    // the two bodies nearly every client sends, byte for byte: no parser needed
    if (java.util.Arrays.equals(body, INCREMENT)) {
      return 1;
    }
    if (java.util.Arrays.equals(body, DECREMENT)) {
      return -1;
    }
    if (body.length == 0) {
      throw new TallyException(
          ErrorKind.BAD_REQUEST, "body is empty: send {\"action\":\"increment\"} or \"decrement\"");
    }
    try (JsonParser p = Json.parser(body)) {
      expect(p.nextToken() == JsonToken.START_OBJECT, "body must be a JSON object");
      long delta = 0;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String field = p.currentName();
        p.nextToken();
        if ("action".equals(field)) {
          delta = delta(p);
        } else {
          throw new TallyException(
              ErrorKind.BAD_REQUEST, "unknown field in body; the only field is \"action\"");
        }
      }
      expect(delta != 0, "field \"action\" is missing");
      expect(p.nextToken() == null, "unexpected content after the JSON object");
      return delta;
    } catch (IOException e) {
      throw malformed(e);
    }
  }

  private static long delta(JsonParser p) throws IOException {
    expect(p.currentToken() == JsonToken.VALUE_STRING, "\"action\" must be a string");
    return switch (p.getText()) {
      case "increment" -> 1;
      case "decrement" -> -1;
      default ->
          throw new TallyException(
              ErrorKind.BAD_REQUEST, "\"action\" must be \"increment\" or \"decrement\"");
    };
  }

  /**
   * A batch-write body {@code {"writes":[{"post_id":1,"counter":"likes","action":"increment",
   * "idempotency_key":"k"},…]}}. A malformed body fails as a whole; an item that is well-formed
   * JSON but invalid becomes an {@link Item} with its error.
   */
  static List<Item> batchWrites(byte[] body, CounterNames names, int maxItems) {
    try (JsonParser p = Json.batchParser(body)) {
      expect(p.nextToken() == JsonToken.START_OBJECT, "body must be a JSON object");
      List<Item> items = null;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String field = p.currentName();
        p.nextToken();
        if (!"writes".equals(field)) {
          throw new TallyException(
              ErrorKind.BAD_REQUEST, "unknown field in body; the only field is \"writes\"");
        }
        expect(items == null, "duplicate field \"writes\"");
        expect(p.currentToken() == JsonToken.START_ARRAY, "\"writes\" must be an array");
        items = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          if (items.size() == maxItems) {
            throw new TallyException(
                ErrorKind.TOO_LARGE, "a batch holds at most " + maxItems + " writes");
          }
          items.add(batchItem(p, names));
        }
      }
      expect(items != null, "field \"writes\" is missing");
      expect(!items.isEmpty(), "\"writes\" is empty");
      expect(p.nextToken() == null, "unexpected content after the JSON object");
      return items;
    } catch (IOException e) {
      throw malformed(e);
    }
  }

  private static Item batchItem(JsonParser p, CounterNames names) throws IOException {
    expect(p.currentToken() == JsonToken.START_OBJECT, "each write must be a JSON object");
    String postText = null;
    String counter = null;
    long delta = 0;
    String key = null;
    TallyException itemError = null;
    int seen = 0; // a bit per known field: the batch parser leaves duplicates to us
    for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
      String field = p.currentName();
      JsonToken v = p.nextToken();
      try {
        switch (field) {
          case "post_id" -> {
            seen = once(seen, 1, field);
            expect(
                v == JsonToken.VALUE_NUMBER_INT || v == JsonToken.VALUE_STRING,
                "\"post_id\" must be an integer or a string of digits");
            postText = p.getText();
          }
          case "counter" -> {
            seen = once(seen, 2, field);
            expect(v == JsonToken.VALUE_STRING, "\"counter\" must be a string");
            counter = p.getText();
          }
          case "action" -> {
            seen = once(seen, 4, field);
            delta = delta(p);
          }
          case "idempotency_key" -> {
            seen = once(seen, 8, field);
            expect(
                v == JsonToken.VALUE_STRING || v == JsonToken.VALUE_NULL,
                "\"idempotency_key\" must be a string");
            key = v == JsonToken.VALUE_NULL ? null : p.getText();
          }
          default ->
              throw new TallyException(
                  ErrorKind.BAD_REQUEST,
                  "unknown field in a write; fields are post_id, counter, action, idempotency_key");
        }
      } catch (TallyException e) {
        // the item is invalid; keep reading the stream past its value
        if (itemError == null) {
          itemError = e;
        }
        p.skipChildren();
      }
    }
    try {
      if (itemError != null) {
        throw itemError;
      }
      expect(postText != null, "\"post_id\" is missing");
      expect(counter != null, "\"counter\" is missing");
      expect(delta != 0, "\"action\" is missing");
      CounterId id = new CounterId(postId(postText), counterCode(names, counter));
      return new Item(new Write(id, delta, key == null ? null : idempotencyKey(key)), null);
    } catch (TallyException e) {
      return new Item(null, e);
    }
  }

  /** A batch read from query parameters {@code posts=1,2,3} and optional {@code counters=a,b}. */
  static ReadQuery readQuery(String posts, String counters, CounterNames names, int maxItems) {
    if (posts == null || posts.isEmpty()) {
      throw new TallyException(ErrorKind.BAD_REQUEST, "query parameter 'posts' is missing");
    }
    return readQuery(
        List.of(posts.split(",", -1)),
        counters == null ? null : List.of(counters.split(",", -1)),
        names,
        maxItems);
  }

  /** A batch-read body {@code {"posts":[1,2],"counters":["likes"]}} ({@code counters} optional). */
  static ReadQuery readQuery(byte[] body, CounterNames names, int maxItems) {
    try (JsonParser p = Json.parser(body)) {
      expect(p.nextToken() == JsonToken.START_OBJECT, "body must be a JSON object");
      List<String> posts = null;
      List<String> counters = null;
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        String field = p.currentName();
        p.nextToken();
        switch (field) {
          case "posts" -> posts = stringsOf(p, maxItems, "posts");
          case "counters" -> counters = stringsOf(p, names.names().size() + 1, "counters");
          default ->
              throw new TallyException(
                  ErrorKind.BAD_REQUEST, "unknown field in body; fields are posts and counters");
        }
      }
      expect(posts != null, "field \"posts\" is missing");
      expect(p.nextToken() == null, "unexpected content after the JSON object");
      return readQuery(posts, counters, names, maxItems);
    } catch (IOException e) {
      throw malformed(e);
    }
  }

  private static List<String> stringsOf(JsonParser p, int max, String what) throws IOException {
    expect(p.currentToken() == JsonToken.START_ARRAY, "\"" + what + "\" must be an array");
    List<String> out = new ArrayList<>();
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      expect(
          t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_STRING,
          "\"" + what + "\" must hold integers or strings");
      if (out.size() == max) {
        throw new TallyException(ErrorKind.TOO_LARGE, "too many \"" + what + "\"");
      }
      out.add(p.getText());
    }
    return out;
  }

  private static ReadQuery readQuery(
      List<String> posts, List<String> counters, CounterNames names, int maxItems) {
    expect(!posts.isEmpty(), "no posts given");
    int[] codes;
    if (counters == null) {
      codes = names.names().stream().mapToInt(n -> names.codeOrMinusOne(n)).toArray();
    } else {
      expect(!counters.isEmpty(), "no counters given");
      codes = new int[counters.size()];
      for (int i = 0; i < codes.length; i++) {
        codes[i] = counterCode(names, counters.get(i).trim());
        for (int j = 0; j < i; j++) {
          expect(codes[j] != codes[i], "a counter is listed twice");
        }
      }
    }
    if ((long) posts.size() * codes.length > maxItems) {
      throw new TallyException(
          ErrorKind.TOO_LARGE, "a batch read covers at most " + maxItems + " post-counter pairs");
    }
    long[] ids = new long[posts.size()];
    java.util.Set<Long> seen = new java.util.HashSet<>();
    for (int i = 0; i < ids.length; i++) {
      ids[i] = postId(posts.get(i).trim());
      expect(seen.add(ids[i]), "a post is listed twice");
    }
    return new ReadQuery(ids, codes);
  }

  /** {@code seen} with {@code bit} set; a 400 if it was set already (a repeated field). */
  private static int once(int seen, int bit, String field) {
    if ((seen & bit) != 0) {
      throw new TallyException(
          ErrorKind.BAD_REQUEST, "duplicate field \"" + field + "\" in a write");
    }
    return seen | bit;
  }

  private static void expect(boolean ok, String message) {
    if (!ok) {
      throw new TallyException(ErrorKind.BAD_REQUEST, message);
    }
  }

  private static TallyException malformed(IOException e) {
    if (e instanceof StreamConstraintsException) {
      return new TallyException(ErrorKind.BAD_REQUEST, "JSON exceeds a size or nesting limit");
    }
    return new TallyException(ErrorKind.BAD_REQUEST, "body is not valid JSON");
  }
}
