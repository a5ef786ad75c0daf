package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.config.TallyConfig;
import dev.tally.testing.TallyClient;
import java.io.ByteArrayInputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The HTTP API of a real node on an ephemeral port, over real sockets. */
class ApiIT {

  @TempDir Path dir;
  private Tally node;
  private TallyClient client;

  @BeforeEach
  void start() {
    node = Tally.start(TallyConfig.defaults().withPortAndDataDir(0, dir), Clock.systemUTC());
    client = new TallyClient(node.port());
  }

  @AfterEach
  void stop() {
    node.close();
  }

  @Test
  void seedApi_incrementDecrementRead() throws Exception {
    HttpResponse<String> r = client.write(812, "likes", "increment", null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).contains("application/json");
    assertThat(r.body())
        .matches("\\{\"count\":1,\"updated_at\":\"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\"}");
    assertThat(TallyClient.countOf(client.write(812, "likes", "increment", null).body()))
        .isEqualTo(2);
    assertThat(TallyClient.countOf(client.write(812, "likes", "decrement", null).body()))
        .isEqualTo(1);
    assertThat(client.count(812, "likes")).isEqualTo(1);
    assertThat(client.get("/v1/813/views").body()).isEqualTo("{\"count\":0,\"updated_at\":null}");
  }

  @Test
  void curlDefaultFormContentType_isAccepted() throws Exception {
    HttpResponse<String> r =
        client.send(
            "PUT",
            "/v1/5/views",
            "{\"action\":\"increment\"}",
            "Content-Type",
            "application/x-www-form-urlencoded");
    assertThat(r.statusCode()).isEqualTo(200);
  }

  @Test
  void gzip_whenTheClientAsks() throws Exception {
    client.write(9, "views", "increment", null);
    var req =
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + node.port() + "/v1/9/views"))
            .header("Accept-Encoding", "gzip")
            .build();
    HttpResponse<byte[]> r =
        java.net.http.HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofByteArray());
    assertThat(r.headers().firstValue("content-encoding")).contains("gzip");
    String body =
        new String(
            new GZIPInputStream(new ByteArrayInputStream(r.body())).readAllBytes(),
            StandardCharsets.UTF_8);
    assertThat(TallyClient.countOf(body)).isEqualTo(1);
  }

  @Test
  void idempotencyKey_overHttp() throws Exception {
    HttpResponse<String> first = client.write(1, "likes", "increment", "abc-1");
    HttpResponse<String> again = client.write(1, "likes", "increment", "abc-1");
    assertThat(again.body()).isEqualTo(first.body());
    assertThat(again.headers().firstValue("idempotent-replayed")).contains("true");
    HttpResponse<String> conflict = client.write(1, "likes", "decrement", "abc-1");
    assertThat(conflict.statusCode()).isEqualTo(422);
    assertThat(conflict.headers().firstValue("content-type")).contains("application/problem+json");
    assertThat(client.count(1, "likes")).isEqualTo(1);
  }

  @ParameterizedTest(name = "{0} {1} → {3}")
  @CsvSource(
      delimiter = '|',
      value = {
        "PUT   | /v1/0/likes           | {\"action\":\"increment\"}   | 400",
        "PUT   | /v1/-5/likes          | {\"action\":\"increment\"}   | 400",
        "PUT   | /v1/abc/likes         | {\"action\":\"increment\"}   | 400",
        "PUT   | /v1/99999999999999999999/likes | {\"action\":\"increment\"} | 400",
        "PUT   | /v1/7/shares          | {\"action\":\"increment\"}   | 404",
        "PUT   | /v1/7/likes           | {\"action\":\"double\"}      | 400",
        "PUT   | /v1/7/likes           | {\"action\":\"increment\"    | 400",
        "PUT   | /v1/7/likes           | ''                           | 400",
        "PUT   | /v1/7/likes           | [1,2,3]                      | 400",
        "PUT   | /v1/7/likes           | {\"action\":\"increment\",\"n\":5} | 400",
        "DELETE| /v1/7/likes           | ''                           | 405",
        "POST  | /v1/7/likes           | {\"action\":\"increment\"}   | 405",
        "GET   | /v1/7/likes/extra     | ''                           | 404",
        "GET   | /nope                 | ''                           | 404",
        "GET   | /v1/counts            | ''                           | 400",
        "POST  | /v1/counts            | {\"writes\":[]}              | 400",
        "POST  | /v1/counts            | {\"writes\":5}               | 400",
      })
  void badInput_isA4xxProblem_andChangesNothing(String method, String path, String body, int status)
      throws Exception {
    String before = client.get("/v1/counts?posts=7").body();
    HttpResponse<String> r = client.send(method.trim(), path.trim(), body.trim());
    assertThat(r.statusCode()).isEqualTo(status);
    assertThat(r.headers().firstValue("content-type")).contains("application/problem+json");
    assertThat(r.body()).contains("\"status\":" + status).contains("\"detail\":");
    assertThat(client.get("/v1/counts?posts=7").body()).isEqualTo(before);
  }

  @Test
  void oversizedBody_is413_andChangesNothing() throws Exception {
    String huge = "{\"action\":\"increment\",\"pad\":\"" + "x".repeat(10_000) + "\"}";
    HttpResponse<String> r = client.send("PUT", "/v1/7/likes", huge);
    assertThat(r.statusCode()).isEqualTo(413);
    assertThat(client.count(7, "likes")).isZero();
  }

  @Test
  void unsupportedContentType_is415() throws Exception {
    HttpResponse<String> r =
        client.send("PUT", "/v1/7/likes", "<like/>", "Content-Type", "application/xml");
    assertThat(r.statusCode()).isEqualTo(415);
    assertThat(client.count(7, "likes")).isZero();
  }

  @Test
  void badIdempotencyKey_is400() throws Exception {
    HttpResponse<String> r = client.write(7, "likes", "increment", "k".repeat(300));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(client.count(7, "likes")).isZero();
  }

  @Test
  void batchWrite_appliesValidItems_andReportsEachItem() throws Exception {
    String body =
        "{\"writes\":["
            + "{\"post_id\":11,\"counter\":\"likes\",\"action\":\"increment\",\"idempotency_key\":\"b1\"},"
            + "{\"post_id\":11,\"counter\":\"likes\",\"action\":\"increment\",\"idempotency_key\":\"b1\"},"
            + "{\"post_id\":12,\"counter\":\"views\",\"action\":\"increment\"},"
            + "{\"post_id\":12,\"counter\":\"bogus\",\"action\":\"increment\"}]}";
    HttpResponse<String> r =
        client.send("POST", "/v1/counts", body, "Content-Type", "application/json");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .startsWith("{\"results\":[{\"status\":200,\"count\":1,")
        .contains("{\"status\":200,\"replayed\":true,\"count\":1,")
        .contains("\"status\":404");
    assertThat(client.count(11, "likes")).isEqualTo(1);
    assertThat(client.count(12, "views")).isEqualTo(1);
  }

  @Test
  void batchWrite_bodyOfManyChunks_isReadWhole() throws Exception {
    // ≈ 75 KB: the server receives it in many chunks, each of which must land in order
    StringBuilder body = new StringBuilder("{\"writes\":[");
    for (int i = 0; i < 1000; i++) {
      body.append(i == 0 ? "" : ",")
          .append("{\"post_id\":")
          .append(31 + i % 2)
          .append(",\"counter\":\"likes\",\"action\":\"increment\",\"idempotency_key\":\"many-")
          .append(i)
          .append("\"}");
    }
    body.append("]}");
    assertThat(body.length()).isGreaterThan(64 * 1024);
    HttpResponse<String> r =
        client.send("POST", "/v1/counts", body.toString(), "Content-Type", "application/json");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(client.count(31, "likes")).isEqualTo(500);
    assertThat(client.count(32, "likes")).isEqualTo(500);
  }

  @Test
  void batchRead_byQueryAndByBody() throws Exception {
    client.write(21, "likes", "increment", null);
    client.write(22, "views", "increment", null);
    client.write(22, "views", "increment", null);
    String q = client.get("/v1/counts?posts=21,22&counters=likes,views").body();
    assertThat(q).startsWith("{\"counts\":{\"21\":{\"likes\":{\"count\":1,");
    assertThat(q)
        .contains("\"22\":{\"likes\":{\"count\":0,\"updated_at\":null},\"views\":{\"count\":2,");
    String b =
        client.send("POST", "/v1/counts/query", "{\"posts\":[22],\"counters\":[\"views\"]}").body();
    assertThat(b).startsWith("{\"counts\":{\"22\":{\"views\":{\"count\":2,");
  }

  @Test
  void concurrentIncrements_onOneCounter_areExact_andEachAnswerIsUnique() throws Exception {
    int clients = 16;
    int each = 250;
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    List<Long> answers = Collections.synchronizedList(new ArrayList<>());
    List<Future<?>> fs = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      TallyClient own = new TallyClient(node.port());
      fs.add(
          pool.submit(
              () -> {
                for (int i = 0; i < each; i++) {
                  HttpResponse<String> r = own.write(777, "likes", "increment", null);
                  assertThat(r.statusCode()).isEqualTo(200);
                  answers.add(TallyClient.countOf(r.body()));
                }
                return null;
              }));
    }
    for (Future<?> f : fs) {
      f.get(120, TimeUnit.SECONDS);
    }
    pool.shutdown();
    int n = clients * each;
    assertThat(client.count(777, "likes")).isEqualTo(n);
    assertThat(answers.stream().sorted().toList())
        .isEqualTo(LongStream.rangeClosed(1, n).boxed().toList());
  }

  @Test
  void restart_onTheSameDataDir_keepsEveryCount() throws Exception {
    for (int i = 0; i < 25; i++) {
      client.write(31, "likes", "increment", "r" + i);
    }
    client.write(31, "views", "decrement", null);
    node.close();
    node = Tally.start(TallyConfig.defaults().withPortAndDataDir(0, dir), Clock.systemUTC());
    client = new TallyClient(node.port());
    assertThat(client.count(31, "likes")).isEqualTo(25);
    assertThat(client.count(31, "views")).isEqualTo(-1);
    // keys survive the restart too
    assertThat(
            client
                .write(31, "likes", "increment", "r3")
                .headers()
                .firstValue("idempotent-replayed"))
        .contains("true");
    assertThat(client.count(31, "likes")).isEqualTo(25);
  }

  @Test
  void operations_healthAndMetrics() throws Exception {
    assertThat(client.get("/health/live").statusCode()).isEqualTo(200);
    HttpResponse<String> ready = client.get("/health/ready");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(ready.body()).contains("\"status\":\"UP\"").contains("\"store\":true");
    client.write(1, "likes", "increment", null);
    client.get("/v1/1/likes");
    HttpResponse<String> m = client.get("/metrics");
    assertThat(m.statusCode()).isEqualTo(200);
    assertThat(m.headers().firstValue("content-type"))
        .hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
    assertThat(m.body())
        .contains("tally_http_requests_seconds_count{endpoint=\"write\",status=\"200\"}")
        .contains("tally_http_requests_seconds_bucket{endpoint=\"read\"")
        .contains("tally_commit_batch_writes_count")
        .contains("tally_commit_duration_seconds_bucket")
        .contains("tally_queue_writes")
        .contains("tally_writes_total{outcome=\"applied\"}")
        .contains("jvm_memory_used_bytes")
        .contains("process_cpu_usage");
  }
}
