package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.config.TallyConfig;
import dev.tally.testing.TallyClient;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile input against a real node: generated requests (valid ones, and mutations of paths,
 * methods, headers and JSON bodies, including batches) pipelined over raw sockets. Every answer
 * must be a 2xx or a 4xx problem+json, never a 5xx or a dropped connection, and at the end every
 * counter must hold exactly what the writes answered 200 imply: no rejected request changed
 * anything. Seeded: a failure prints the seed that replays it.
 */
@Tag("fuzz")
class FuzzIT {

  private static final long SEED = Long.getLong("tally.fuzz.seed", 20261123L);
  private static final int REQUESTS = Integer.getInteger("tally.fuzz.requests", 1_000_000);
  private static final int CONNECTIONS = 16;
  private static final int WINDOW = 64;
  private static final int POSTS = 40;
  private static final String[] COUNTERS = {"likes", "views"};

  @TempDir Path dir;

  /** A generated request and what its answer must be. */
  record Probe(
      byte[] bytes,
      String method,
      Expect expect,
      long post,
      String counter,
      long delta,
      List<long[]> batchItems) {}

  enum Expect {
    WRITE_OK, // 200, applies delta
    READ_OK, // 200, changes nothing
    CLIENT_ERROR, // 4xx, changes nothing
    MAYBE_WRITE, // a mutated write: 200 (applies the body's action) or 4xx
    BATCH, // 200, per item: valid items 200, invalid ones 4xx
    ANY // 2xx or 4xx, changes nothing
  }

  private final Map<String, AtomicLong> model = new ConcurrentHashMap<>();
  private final LongAdder sent = new LongAdder();
  private final LongAdder ok = new LongAdder();
  private final LongAdder clientErrors = new LongAdder();

  @Test
  void generatedRequests_getOnly2xxOr4xxProblems_andRejectedOnesChangeNothing() throws Exception {
    try (Tally node =
        Tally.start(TallyConfig.defaults().withPortAndDataDir(0, dir), Clock.systemUTC())) {
      List<Thread> threads = new ArrayList<>();
      List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
      long deadline = System.nanoTime() + 8L * 60 * 1_000_000_000L; // bounded in time too
      for (int c = 0; c < CONNECTIONS; c++) {
        long seed = SEED * 1_000 + c;
        threads.add(
            Thread.ofPlatform()
                .start(
                    () -> {
                      try {
                        drive(node.port(), seed, REQUESTS / CONNECTIONS, deadline);
                      } catch (Throwable t) {
                        failures.add(new AssertionError("seed " + seed + ": " + t.getMessage(), t));
                      }
                    }));
      }
      for (Thread t : threads) {
        t.join();
      }
      assertThat(failures).isEmpty();
      TallyClient client = new TallyClient(node.port());
      for (long post = 1; post <= POSTS; post++) {
        for (String counter : COUNTERS) {
          long expected = model.getOrDefault(post + "/" + counter, new AtomicLong()).get();
          assertThat(client.count(post, counter))
              .as("count of %d/%s (seed %d)", post, counter, SEED)
              .isEqualTo(expected);
        }
      }
      System.out.printf(
          "fuzz: seed=%d sent=%d 2xx=%d 4xx=%d 5xx=0%n",
          SEED, sent.sum(), ok.sum(), clientErrors.sum());
      assertThat(sent.sum()).isGreaterThanOrEqualTo(Math.min(REQUESTS, 100_000));
      assertThat(clientErrors.sum()).isPositive();
      assertThat(ok.sum()).isPositive();
    }
  }

  private void drive(int port, long seed, int count, long deadline) throws IOException {
    SplittableRandom r = new SplittableRandom(seed);
    Socket socket = new Socket("127.0.0.1", port);
    socket.setTcpNoDelay(true);
    OutputStream out = socket.getOutputStream();
    InputStream in = new BufferedInputStream(socket.getInputStream(), 1 << 16);
    int done = 0;
    while (done < count && System.nanoTime() < deadline) {
      int n = Math.min(WINDOW, count - done);
      List<Probe> window = new ArrayList<>(n);
      ByteArrayOutputStream buf = new ByteArrayOutputStream(n * 200);
      for (int i = 0; i < n; i++) {
        Probe p = probe(r);
        window.add(p);
        buf.write(p.bytes());
      }
      out.write(buf.toByteArray());
      out.flush();
      for (Probe p : window) {
        Response resp = Response.read(in, p.method().equals("HEAD"));
        check(p, resp);
      }
      sent.add(n);
      done += n;
    }
    socket.close();
  }

  private void check(Probe p, Response resp) {
    String what =
        new String(p.bytes(), 0, Math.min(p.bytes().length, 200), StandardCharsets.ISO_8859_1);
    assertThat(resp.status()).as("status for %s", what).isBetween(200, 499);
    if (resp.status() >= 400) {
      clientErrors.increment();
      assertThat(resp.contentType())
          .as("content type for %s", what)
          .startsWith("application/problem+json");
      if (!p.method().equals("HEAD")) {
        assertThat(resp.body()).contains("\"status\":" + resp.status()).contains("\"detail\":");
      }
    } else {
      ok.increment();
    }
    switch (p.expect()) {
      case WRITE_OK -> {
        assertThat(resp.status()).as("valid write %s", what).isEqualTo(200);
        apply(p.post(), p.counter(), p.delta());
      }
      case READ_OK -> assertThat(resp.status()).as("valid read %s", what).isEqualTo(200);
      case ANY -> {
        // status range checked above; nothing to apply
      }
      case CLIENT_ERROR ->
          assertThat(resp.status()).as("invalid request %s", what).isBetween(400, 499);
      case MAYBE_WRITE -> {
        if (resp.status() == 200) {
          String body = new String(p.bytes(), StandardCharsets.ISO_8859_1);
          body = body.substring(body.indexOf("\r\n\r\n") + 4);
          long delta = body.contains("decrement") ? -1 : 1;
          apply(p.post(), p.counter(), delta);
        }
      }
      case BATCH -> {
        assertThat(resp.status()).as("batch %s", what).isEqualTo(200);
        int from = 0;
        for (long[] item : p.batchItems()) {
          int at = resp.body().indexOf("\"status\":", from);
          assertThat(at).as("a result per item").isPositive();
          int status = Integer.parseInt(resp.body().substring(at + 9, at + 12));
          from = at + 12;
          if (item[0] > 0) {
            assertThat(status).isEqualTo(200);
            apply(item[0], COUNTERS[(int) item[1]], item[2]);
          } else {
            assertThat(status).isBetween(400, 499);
          }
        }
      }
    }
  }

  private void apply(long post, String counter, long delta) {
    model.computeIfAbsent(post + "/" + counter, k -> new AtomicLong()).addAndGet(delta);
  }

  // ---- generation

  private static final String[] METHODS = {
    "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"
  };
  private static final String[] BAD_POSTS = {
    "0",
    "-1",
    "+1",
    "01",
    "1.5",
    "1e9",
    "abc",
    "9223372036854775808",
    "99999999999999999999",
    "%31",
    "1%00",
    "",
    "1;drop",
    "١٢",
    "0x10",
    " 1"
  };
  private static final String[] BAD_COUNTERS = {
    "Likes", "like", "live2", "", "..", "%2e%2e", "views/", "likes?x=1", "a".repeat(300)
  };
  private static final String[] CONTENT_TYPES = {
    null,
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/merge-patch+json"
  };

  private Probe probe(SplittableRandom r) {
    long post = 1 + r.nextInt(POSTS);
    String counter = COUNTERS[r.nextInt(COUNTERS.length)];
    long delta = r.nextBoolean() ? 1 : -1;
    String good = "{\"action\":\"" + (delta > 0 ? "increment" : "decrement") + "\"}";
    int kind = r.nextInt(100);
    if (kind < 20) { // a valid write
      return req(
          "PUT",
          "/v1/" + post + "/" + counter,
          jsonType(r),
          good,
          Expect.WRITE_OK,
          post,
          counter,
          delta,
          r.nextInt(4) == 0 ? key(r) : null);
    }
    if (kind < 30) { // a valid read
      String path =
          r.nextBoolean()
              ? "/v1/" + post + "/" + counter
              : "/v1/counts?posts=" + post + "," + (post + 1);
      return req("GET", path, null, null, Expect.READ_OK, 0, null, 0, null);
    }
    if (kind < 45) { // a write with a mutated body
      String body = mutate(r, good);
      boolean jsonish = r.nextInt(4) != 0;
      return req(
          "PUT",
          "/v1/" + post + "/" + counter,
          jsonish ? "application/json" : CONTENT_TYPES[r.nextInt(CONTENT_TYPES.length)],
          body,
          Expect.MAYBE_WRITE,
          post,
          counter,
          0,
          null);
    }
    if (kind < 55) { // bad post id or counter
      String p = r.nextBoolean() ? BAD_POSTS[r.nextInt(BAD_POSTS.length)] : Long.toString(post);
      String c =
          p.equals(Long.toString(post)) ? BAD_COUNTERS[r.nextInt(BAD_COUNTERS.length)] : counter;
      return req(
          r.nextBoolean() ? "PUT" : "GET",
          "/v1/" + encodePath(p) + "/" + encodePath(c),
          "application/json",
          good,
          Expect.CLIENT_ERROR,
          0,
          null,
          0,
          null);
    }
    if (kind < 62) { // wrong or unknown method on a real path
      String m = METHODS[2 + r.nextInt(METHODS.length - 2)];
      return req(
          m,
          "/v1/" + post + "/" + counter,
          "application/json",
          m.equals("HEAD") ? null : good,
          Expect.CLIENT_ERROR,
          0,
          null,
          0,
          null);
    }
    if (kind < 68) { // unknown paths
      String[] paths = {
        "/",
        "/v2/1/likes",
        "/v1",
        "/v1/",
        "/v1/1",
        "/v1/1/likes/x",
        "/metrics/x",
        "/health",
        "/v1/counts/x",
        "/%00",
        "/" + "x".repeat(2000)
      };
      String path = paths[r.nextInt(paths.length)];
      return req(
          "GET",
          path,
          null,
          null,
          path.equals("/") ? Expect.ANY : Expect.CLIENT_ERROR,
          0,
          null,
          0,
          null);
    }
    if (kind < 74) { // bad idempotency keys
      String[] keys = {"", " ", "has space", "ü", "k".repeat(256), "a\tb"};
      return req(
          "PUT",
          "/v1/" + post + "/" + counter,
          "application/json",
          good,
          Expect.CLIENT_ERROR,
          0,
          null,
          0,
          keys[r.nextInt(keys.length)]);
    }
    if (kind < 80) { // wrong content type
      return req(
          "PUT",
          "/v1/" + post + "/" + counter,
          r.nextBoolean() ? "text/plain" : "application/xml",
          good,
          Expect.CLIENT_ERROR,
          0,
          null,
          0,
          null);
    }
    if (kind < 90) { // batch writes with some invalid items
      return batch(r);
    }
    if (kind < 95) { // malformed batch bodies and batch reads
      String[] bodies = {
        "",
        "{}",
        "[]",
        "{\"writes\":{}}",
        "{\"writes\":[1]}",
        "{\"writes\":[{}]}x",
        "{\"writes\":[" + "[".repeat(50) + "]}",
        "{\"writes\":[{\"post_id\":1}]",
        "\u0000"
      };
      if (r.nextBoolean()) {
        return req(
            "POST",
            "/v1/counts",
            "application/json",
            bodies[r.nextInt(bodies.length)],
            Expect.CLIENT_ERROR,
            0,
            null,
            0,
            null);
      }
      String[] queries = {
        "",
        "?posts=",
        "?posts=a",
        "?posts=1,1",
        "?posts=1&counters=nope",
        "?posts=" + "1,".repeat(600) + "1",
        "?counters=likes"
      };
      return req(
          "GET",
          "/v1/counts" + queries[r.nextInt(queries.length)],
          null,
          null,
          Expect.CLIENT_ERROR,
          0,
          null,
          0,
          null);
    }
    // random bytes as a body
    byte[] junk = new byte[r.nextInt(300)];
    for (int i = 0; i < junk.length; i++) {
      junk[i] = (byte) r.nextInt(256);
    }
    return req(
        "PUT",
        "/v1/" + post + "/" + counter,
        "application/json",
        new String(junk, StandardCharsets.ISO_8859_1),
        Expect.MAYBE_WRITE,
        post,
        counter,
        0,
        null);
  }

  private Probe batch(SplittableRandom r) {
    int n = 1 + r.nextInt(20);
    List<long[]> items = new ArrayList<>();
    StringBuilder b = new StringBuilder("{\"writes\":[");
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        b.append(',');
      }
      long post = 1 + r.nextInt(POSTS);
      int c = r.nextInt(COUNTERS.length);
      long delta = r.nextBoolean() ? 1 : -1;
      String action = delta > 0 ? "increment" : "decrement";
      switch (r.nextInt(6)) {
        case 0 -> {
          b.append("{\"post_id\":")
              .append("0")
              .append(",\"counter\":\"likes\",\"action\":\"increment\"}");
          items.add(new long[] {0, 0, 0});
        }
        case 1 -> {
          b.append("{\"post_id\":")
              .append(post)
              .append(",\"counter\":\"nope\",\"action\":\"increment\"}");
          items.add(new long[] {0, 0, 0});
        }
        case 2 -> {
          b.append("{\"post_id\":")
              .append(post)
              .append(",\"counter\":\"likes\",\"action\":\"twice\"}");
          items.add(new long[] {0, 0, 0});
        }
        default -> {
          b.append("{\"post_id\":\"")
              .append(post)
              .append("\",\"counter\":\"")
              .append(COUNTERS[c])
              .append("\",\"action\":\"")
              .append(action)
              .append("\"}");
          items.add(new long[] {post, c, delta});
        }
      }
    }
    b.append("]}");
    Probe p =
        req("POST", "/v1/counts", "application/json", b.toString(), Expect.BATCH, 0, null, 0, null);
    return new Probe(p.bytes(), p.method(), Expect.BATCH, 0, null, 0, items);
  }

  private static final String PALETTE = "{}[]\",:\\ \u00e9\u0000a1-e";

  private static String mutate(SplittableRandom r, String s) {
    StringBuilder b = new StringBuilder(s);
    int edits = 1 + r.nextInt(3);
    for (int e = 0; e < edits && b.length() > 0; e++) {
      int at = r.nextInt(b.length());
      switch (r.nextInt(5)) {
        case 0 -> b.deleteCharAt(at);
        case 1 -> b.insert(at, PALETTE.charAt(r.nextInt(PALETTE.length())));
        case 2 -> b.setCharAt(at, (char) (32 + r.nextInt(95)));
        case 3 -> b.setLength(at);
        default -> b.insert(at, " ");
      }
    }
    return b.toString();
  }

  private static String encodePath(String s) {
    StringBuilder b = new StringBuilder();
    for (char ch : s.toCharArray()) {
      if (ch > 32 && ch < 127 && ch != '/' && ch != '?' && ch != '#' && ch != ' ') {
        b.append(ch);
      } else {
        for (byte x : String.valueOf(ch).getBytes(StandardCharsets.UTF_8)) {
          b.append('%').append(String.format("%02X", x));
        }
      }
    }
    return b.toString();
  }

  private static final String[] JSON_TYPES = {
    null,
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "application/merge-patch+json"
  };

  private static String jsonType(SplittableRandom r) {
    return JSON_TYPES[r.nextInt(JSON_TYPES.length)];
  }

  private static String key(SplittableRandom r) {
    return "fz-" + Long.toHexString(r.nextLong()) + Long.toHexString(r.nextLong());
  }

  private static Probe req(
      String method,
      String path,
      String contentType,
      String body,
      Expect expect,
      long post,
      String counter,
      long delta,
      String key) {
    byte[] b = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    StringBuilder h =
        new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: fuzz\r\n");
    if (contentType != null) {
      h.append("Content-Type: ").append(contentType).append("\r\n");
    }
    if (key != null) {
      h.append("Idempotency-Key: ").append(key).append("\r\n");
    }
    if (body != null) {
      h.append("Content-Length: ").append(b.length).append("\r\n");
    }
    h.append("\r\n");
    byte[] head = h.toString().getBytes(StandardCharsets.UTF_8);
    byte[] all = new byte[head.length + b.length];
    System.arraycopy(head, 0, all, 0, head.length);
    System.arraycopy(b, 0, all, head.length, b.length);
    return new Probe(all, method, expect, post, counter, delta, List.of());
  }

  /** A parsed HTTP/1.1 response. */
  record Response(int status, String contentType, String body) {
    static Response read(InputStream in, boolean head) throws IOException {
      String statusLine = line(in);
      if (statusLine == null) {
        throw new IOException("connection closed by the server");
      }
      int status = Integer.parseInt(statusLine.substring(9, 12));
      String type = "";
      int length = 0;
      for (String l; !(l = line(in)).isEmpty(); ) {
        int colon = l.indexOf(':');
        String name = l.substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT);
        String value = l.substring(colon + 1).trim();
        if (name.equals("content-length")) {
          length = Integer.parseInt(value);
        } else if (name.equals("content-type")) {
          type = value;
        }
      }
      byte[] body = head ? new byte[0] : in.readNBytes(length);
      return new Response(status, type, new String(body, StandardCharsets.UTF_8));
    }

    private static String line(InputStream in) throws IOException {
      StringBuilder b = new StringBuilder();
      for (int c; (c = in.read()) != -1; ) {
        if (c == '\n') {
          int len = b.length();
          return len > 0 && b.charAt(len - 1) == '\r' ? b.substring(0, len - 1) : b.toString();
        }
        b.append((char) c);
      }
      return b.isEmpty() ? null : b.toString();
    }
  }
}
