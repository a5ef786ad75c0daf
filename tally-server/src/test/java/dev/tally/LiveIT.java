package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.config.TallyConfig;
import dev.tally.testing.Poll;
import dev.tally.testing.SseClient;
import dev.tally.testing.TallyClient;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Live counts on a real node over real sockets: streams, the live gauge, heartbeats, the page. */
class LiveIT {

  private static final Duration SOON = Duration.ofSeconds(2);

  @TempDir Path dir;
  private Tally node;
  private TallyClient client;
  private final List<AutoCloseable> streams = new ArrayList<>();

  private void start(String... args) {
    String[] all = new String[args.length + 2];
    all[0] = "--host";
    all[1] = "127.0.0.1";
    System.arraycopy(args, 0, all, 2, args.length);
    node =
        Tally.start(TallyConfig.parse(all, Map.of()).withPortAndDataDir(0, dir), Clock.systemUTC());
    client = new TallyClient(node.port());
  }

  private SseClient stream(long post) throws Exception {
    SseClient s = SseClient.open(node.port(), post);
    streams.add(s);
    return s;
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable s : streams) {
      s.close();
    }
    if (node != null) {
      node.close();
    }
  }

  private long live(long post) throws Exception {
    return client.count(post, "live");
  }

  /**
   * Polls {@code GET /v1/{post}/live} every 20 ms until it equals {@code want}, and returns it;
   * fails once {@code within} passes.
   */
  private long awaitLive(long post, long want, Duration within) throws Exception {
    return Poll.until(
        "live of post " + post + " is " + want,
        within,
        Duration.ofMillis(20),
        () -> live(post),
        now -> now == want);
  }

  private double metric(String name) throws Exception {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$")
            .matcher(client.get("/metrics").body());
    return m.find() ? Double.parseDouble(m.group(1)) : Double.NaN;
  }

  @Test
  void stream_firstEventHasEveryCounterAndLive_thenANewCountArrivesAfterAPut() throws Exception {
    start();
    client.write(100, "views", "increment", null);
    SseClient s = stream(100);
    assertThat(s.response().statusCode()).isEqualTo(200);
    assertThat(s.response().headers().firstValue("content-type"))
        .contains("text/event-stream; charset=utf-8");
    assertThat(s.response().headers().firstValue("cache-control")).contains("no-store");

    SseClient.Event first = s.next(SOON);
    assertThat(first).isNotNull();
    assertThat(first.data()).contains("\"post_id\":\"100\"", "\"snapshot\":true");
    assertThat(first.count("likes")).isZero();
    assertThat(first.count("views")).isEqualTo(1);
    assertThat(first.count("live")).isEqualTo(1);
    assertThat(first.id()).isNotBlank();

    long t0 = System.nanoTime();
    HttpResponse<String> put = client.write(100, "likes", "increment", null);
    assertThat(put.statusCode()).isEqualTo(200);
    SseClient.Event update = s.awaitCount("likes", 1, SOON);
    assertThat(update).isNotNull();
    assertThat(update.data()).contains("\"snapshot\":false");
    assertThat(Duration.ofNanos(update.receivedNanos() - t0)).isLessThan(Duration.ofSeconds(1));
    assertThat(Long.parseLong(update.id())).isGreaterThanOrEqualTo(Long.parseLong(first.id()));
  }

  @Test
  void reconnect_getsTheCurrentStateAtOnce() throws Exception {
    start();
    SseClient s = stream(101);
    assertThat(s.next(SOON)).isNotNull();
    s.close();
    for (int i = 0; i < 3; i++) {
      client.write(101, "likes", "increment", null);
    }
    SseClient again = stream(101);
    SseClient.Event first = again.next(SOON);
    assertThat(first.count("likes")).isEqualTo(3);
  }

  @Test
  void live_risesWithOpenStreams_andFallsWhenTheyClose() throws Exception {
    start();
    SseClient watcher = stream(102);
    List<SseClient> others = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      others.add(stream(102));
      assertThat(others.get(i).next(SOON)).isNotNull();
    }
    assertThat(live(102)).isEqualTo(4);
    assertThat(watcher.awaitCount("live", 4, SOON)).isNotNull();

    for (SseClient o : others) {
      o.close();
    }

    assertThat(awaitLive(102, 1, SOON)).isEqualTo(1);
    assertThat(watcher.awaitCount("live", 1, SOON)).isNotNull();
    assertThat(metric("tally_live_streams")).isEqualTo(1.0);
  }

  @Test
  void heartbeat_countsTheViewer_untilItsTtlExpires() throws Exception {
    start("--heartbeat-ttl", "1s");
    SseClient watcher = stream(103);
    assertThat(watcher.next(SOON)).isNotNull();

    HttpResponse<String> hb =
        client.send(
            "POST",
            "/v1/103/heartbeat",
            "{\"viewer_id\":\"phone-7\"}",
            "Content-Type",
            "application/json");
    assertThat(hb.statusCode()).isEqualTo(200);
    assertThat(hb.body())
        .startsWith("{\"viewer_id\":\"phone-7\",\"count\":2,")
        .endsWith(",\"ttl_seconds\":1}");
    client.send("POST", "/v1/103/heartbeat", "{\"viewer_id\":\"phone-7\"}"); // same viewer
    assertThat(live(103)).isEqualTo(2);
    assertThat(watcher.awaitCount("live", 2, SOON)).isNotNull();

    // no more heartbeats: gone within the TTL (reads) plus one sweep (stream)
    assertThat(awaitLive(103, 1, Duration.ofSeconds(3))).isEqualTo(1);
    assertThat(watcher.awaitCount("live", 1, Duration.ofSeconds(3))).isNotNull();

    HttpResponse<String> anonymous = client.send("POST", "/v1/104/heartbeat", null);
    assertThat(anonymous.statusCode()).isEqualTo(200);
    assertThat(anonymous.body()).matches("\\{\"viewer_id\":\"[0-9a-f-]{36}\",\"count\":1,.*");
  }

  @Test
  void badRequests_areProblemsAndChangeNothing() throws Exception {
    start("--max-streams", "2");
    record Case(String method, String path, String body, int status) {}
    List<Case> cases =
        List.of(
            new Case("PUT", "/v1/105/live", "{\"action\":\"increment\"}", 405),
            new Case("POST", "/v1/105/live", "{}", 405),
            new Case("POST", "/v1/105/stream", "", 405),
            new Case("GET", "/v1/105/heartbeat", null, 405),
            new Case("GET", "/v1/0/stream", null, 400),
            new Case("GET", "/v1/abc/live", null, 400),
            new Case("POST", "/v1/105/heartbeat", "{\"viewer_id\":\"no spaces\"}", 400),
            new Case("POST", "/v1/105/heartbeat", "{\"viewer\":\"x\"}", 400),
            new Case("POST", "/v1/105/heartbeat", "[1]", 400),
            new Case("POST", "/v1/105/heartbeat", "x".repeat(2000), 413),
            new Case("PUT", "/", "", 405),
            new Case("GET", "/assets/nope.js", null, 404),
            new Case("GET", "/posts/0", null, 404),
            new Case("GET", "/posts/12/comments", null, 404));
    for (Case c : cases) {
      HttpResponse<String> r = client.send(c.method(), c.path(), c.body());
      assertThat(r.statusCode()).as(c.method() + " " + c.path()).isEqualTo(c.status());
      assertThat(r.headers().firstValue("content-type"))
          .as(c.method() + " " + c.path())
          .contains("application/problem+json");
    }
    HttpResponse<String> put = client.send("PUT", "/v1/105/live", "{\"action\":\"increment\"}");
    assertThat(put.headers().firstValue("allow")).contains("GET");
    assertThat(put.body()).contains("cannot be written");
    assertThat(live(105)).isZero();

    stream(106).next(SOON);
    stream(106).next(SOON);
    HttpResponse<String> third = client.get("/v1/106/stream");
    assertThat(third.statusCode()).isEqualTo(503);
    assertThat(third.headers().firstValue("retry-after")).contains("1");
    assertThat(third.body()).contains("urn:tally:problem:overloaded");
    assertThat(live(106)).isEqualTo(2);
  }

  @Test
  void stalledClient_isDropped_whileOthersGetTimelyEventsAndWritesStayFast() throws Exception {
    // many counters make big events, so a client that stops reading falls behind quickly
    String counters =
        IntStream.rangeClosed(1, 30).mapToObj(i -> "counter" + i).collect(Collectors.joining(","));
    start(
        "--counters",
        "likes," + counters,
        "--stream-coalesce",
        "10ms",
        "--stream-buffer-bytes",
        "4096");
    long post = 107;
    SseClient healthy = stream(post);
    assertThat(healthy.next(SOON)).isNotNull();

    try (Socket stalled = new Socket()) {
      stalled.setReceiveBufferSize(1024);
      stalled.connect(new InetSocketAddress("127.0.0.1", node.port()), 5000);
      OutputStream out = stalled.getOutputStream();
      out.write(
          ("GET /v1/" + post + "/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      assertThat(awaitLive(post, 2, SOON)).isEqualTo(2);
      // ... and never reads again

      String batch =
          IntStream.rangeClosed(0, 30)
              .mapToObj(
                  i ->
                      "{\"post_id\":"
                          + post
                          + ",\"counter\":\""
                          + (i == 0 ? "likes" : "counter" + i)
                          + "\",\"action\":\"increment\"}")
              .collect(Collectors.joining(",", "{\"writes\":[", "]}"));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      long slowestWriteNanos = 0;
      int rounds = 0;
      while (metric("tally_live_dropped_total") < 1 && System.nanoTime() < deadline) {
        for (int i = 0; i < 20; i++, rounds++) {
          long t = System.nanoTime();
          assertThat(client.send("POST", "/v1/counts", batch).statusCode()).isEqualTo(200);
          slowestWriteNanos = Math.max(slowestWriteNanos, System.nanoTime() - t);
        }
      }
      assertThat(metric("tally_live_dropped_total")).isEqualTo(1.0);
      assertThat(awaitLive(post, 1, SOON)).isEqualTo(1);
      assertThat(Duration.ofNanos(slowestWriteNanos)).isLessThan(Duration.ofSeconds(1));

      // the healthy subscriber is current: the next write reaches it promptly
      long t0 = System.nanoTime();
      long likes = TallyClient.countOf(client.write(post, "likes", "increment", null).body());
      assertThat(likes).isEqualTo(rounds + 1);
      SseClient.Event e = healthy.awaitCount("likes", likes, SOON);
      assertThat(e).as("healthy subscriber got likes=" + likes).isNotNull();
      assertThat(Duration.ofNanos(e.receivedNanos() - t0)).isLessThan(Duration.ofSeconds(1));
    }
  }

  @Test
  void idleStream_getsKeepAliveComments() throws Exception {
    start("--stream-keepalive", "1s");
    SseClient s = stream(108);
    assertThat(s.next(SOON)).isNotNull();
    Poll.until(
        "a keep-alive comment on the idle stream",
        Duration.ofSeconds(3),
        Duration.ofMillis(50),
        s::keepAlives,
        n -> n > 0);
  }

  @Test
  void close_withOpenStreams_stopsPromptly() throws Exception {
    start();
    stream(109).next(SOON);
    stream(110).next(SOON);
    long t0 = System.nanoTime();
    node.close();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void page_andAssets_haveContentTypesAndCaching() throws Exception {
    start();
    for (String path : List.of("/", "/posts/42")) {
      HttpResponse<String> r = client.get(path);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("content-type")).contains("text/html; charset=utf-8");
      assertThat(r.headers().firstValue("cache-control")).contains("no-cache");
      assertThat(r.body()).contains("id=\"like-button\"", "/assets/app.js");
    }
    HttpResponse<String> js = client.get("/assets/app.js");
    assertThat(js.headers().firstValue("content-type")).contains("text/javascript; charset=utf-8");
    assertThat(js.body()).contains("EventSource");
    assertThat(client.get("/assets/app.css").headers().firstValue("content-type"))
        .contains("text/css; charset=utf-8");
    assertThat(client.get("/favicon.svg").headers().firstValue("content-type"))
        .contains("image/svg+xml");
    String etag = js.headers().firstValue("etag").orElseThrow();
    HttpResponse<String> again = client.send("GET", "/assets/app.js", null, "If-None-Match", etag);
    assertThat(again.statusCode()).isEqualTo(304);
    assertThat(client.get("/assets/app.js").body()).isEqualTo(js.body());
  }
}
