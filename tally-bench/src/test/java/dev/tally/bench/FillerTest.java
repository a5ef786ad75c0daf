package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class FillerTest {

  private static final Pattern POST = Pattern.compile("\"post_id\":(\\d+)");

  /** A stand-in for a node's batch write: answers each item with {@code status.of(post)}. */
  private interface ItemStatus {
    int of(long post);
  }

  private static HttpServer server(Set<Long> applied, ItemStatus status) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    s.createContext(
        "/v1/counts",
        (HttpExchange ex) -> {
          String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
          StringBuilder out = new StringBuilder("{\"results\":[");
          Matcher m = POST.matcher(body);
          for (int i = 0; m.find(); i++) {
            long post = Long.parseLong(m.group(1));
            int st = status.of(post);
            if (st == 200) {
              assertThat(applied.add(post)).as("post %d written twice", post).isTrue();
            }
            out.append(i > 0 ? "," : "")
                .append(
                    st == 200
                        ? "{\"status\":200,\"count\":1,\"updated_at\":\"2030-01-01T00:00:00Z\"}"
                        : "{\"type\":\"urn:tally:problem:x\",\"title\":\"x\",\"status\":"
                            + st
                            + "}");
          }
          byte[] b = out.append("]}").toString().getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, b.length);
          ex.getResponseBody().write(b);
          ex.close();
        });
    s.start();
    return s;
  }

  @Test
  void everyPostIsWrittenOnceAndTurnedAwayItemsAreSentAgain() throws Exception {
    Set<Long> applied = ConcurrentHashMap.newKeySet();
    Set<Long> refusedOnce = ConcurrentHashMap.newKeySet();
    // every 7th post is turned away (503) the first time it is sent
    HttpServer s = server(applied, post -> post % 7 == 0 && refusedOnce.add(post) ? 503 : 200);
    try {
      Filler.Result r =
          Filler.fill(
              URI.create("http://127.0.0.1:" + s.getAddress().getPort()),
              10,
              2_345,
              "likes",
              100,
              3,
              Duration.ofSeconds(5));
      assertThat(applied).hasSize(2_345);
      assertThat(applied).allMatch(p -> p >= 10 && p < 10 + 2_345);
      assertThat(r.counters()).isEqualTo(2_345);
      assertThat(r.retriedItems()).isEqualTo(refusedOnce.size()).isPositive();
      assertThat(r.requests()).isGreaterThan(24);
      assertThat(Filler.json(r)).startsWith("{\"counters\":2345,");
    } finally {
      s.stop(0);
    }
  }

  @Test
  void anItemThatFailsOtherwiseStopsTheFill() throws Exception {
    HttpServer s = server(ConcurrentHashMap.newKeySet(), post -> post == 5 ? 400 : 200);
    try {
      assertThatThrownBy(
              () ->
                  Filler.fill(
                      URI.create("http://127.0.0.1:" + s.getAddress().getPort()),
                      1,
                      50,
                      "likes",
                      10,
                      1,
                      Duration.ofSeconds(5)))
          .isInstanceOf(Filler.FillException.class)
          .hasMessageContaining("post 5 answered 400");
    } finally {
      s.stop(0);
    }
  }

  @Test
  void theBodyIsABatchWriteOfIncrements() {
    assertThat(Filler.body("likes", List.of(3L, 4L)))
        .isEqualTo(
            "{\"writes\":[{\"post_id\":3,\"counter\":\"likes\",\"action\":\"increment\"},"
                + "{\"post_id\":4,\"counter\":\"likes\",\"action\":\"increment\"}]}");
  }
}
