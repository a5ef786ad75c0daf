package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.access.Credentials;
import dev.tally.config.ConfigException;
import dev.tally.config.TallyConfig;
import dev.tally.testing.ManualClock;
import dev.tally.testing.TallyClient;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Authentication, rate limits, input limits, idle connections and TLS on a real node. */
class SecurityIT {

  private static final String SECRET = "a-test-secret-of-at-least-32-bytes-long!";
  private static final String KEY = "k-web-0123456789abcdef";

  @TempDir Path dir;

  private Tally start(String... args) throws Exception {
    return start(Clock.systemUTC(), args);
  }

  private Tally start(Clock clock, String... args) throws Exception {
    Files.writeString(dir.resolve("secret"), SECRET + "\n");
    Files.writeString(dir.resolve("keys"), "# test keys\nweb:" + KEY + "\n");
    List<String> all =
        new ArrayList<>(List.of("--port", "0", "--data-dir", dir.resolve("data").toString()));
    all.addAll(List.of(args));
    return Tally.start(TallyConfig.parse(all.toArray(new String[0]), Map.of()), clock);
  }

  private static String token(String scope, long ttlSeconds) {
    return Credentials.mint(
        SECRET.getBytes(StandardCharsets.UTF_8),
        "user-1",
        scope,
        Instant.now().getEpochSecond() + ttlSeconds);
  }

  private static HttpResponse<String> put(TallyClient c, String auth) throws Exception {
    return auth == null
        ? c.send("PUT", "/v1/1/likes", "{\"action\":\"increment\"}")
        : c.send("PUT", "/v1/1/likes", "{\"action\":\"increment\"}", "Authorization", auth);
  }

  @Test
  void authOff_letsAnyoneWrite() throws Exception {
    try (Tally node = start()) {
      assertThat(put(new TallyClient(node.port()), null).statusCode()).isEqualTo(200);
    }
  }

  @Test
  void authWrites_needsValidWriteCredentials_readsStayPublic() throws Exception {
    try (Tally node =
        start(
            "--auth",
            "writes",
            "--auth-secret-file",
            dir.resolve("secret").toString(),
            "--api-keys-file",
            dir.resolve("keys").toString())) {
      TallyClient c = new TallyClient(node.port());
      HttpResponse<String> none = put(c, null);
      assertThat(none.statusCode()).isEqualTo(401);
      assertThat(none.headers().firstValue("www-authenticate")).contains("Bearer realm=\"tally\"");
      assertThat(none.headers().firstValue("content-type")).contains("application/problem+json");
      assertThat(put(c, "Bearer " + token("write", -1)).statusCode()).as("expired").isEqualTo(401);
      String forged = token("write", 60);
      forged = forged.substring(0, forged.length() - 2) + (forged.endsWith("AA") ? "BB" : "AA");
      assertThat(put(c, "Bearer " + forged).statusCode()).as("forged").isEqualTo(401);
      assertThat(put(c, "Bearer not-a-key-0000000000").statusCode())
          .as("unknown key")
          .isEqualTo(401);
      HttpResponse<String> readOnly = put(c, "Bearer " + token("read", 60));
      assertThat(readOnly.statusCode()).as("read-only token").isEqualTo(403);
      assertThat(c.count(1, "likes")).as("nothing written so far").isZero();

      assertThat(put(c, "Bearer " + token("write", 60)).statusCode()).isEqualTo(200);
      assertThat(put(c, "Bearer " + KEY).statusCode()).isEqualTo(200);
      assertThat(c.count(1, "likes")).isEqualTo(2);
      HttpResponse<String> batch =
          c.send(
              "POST",
              "/v1/counts",
              "{\"writes\":[{\"post_id\":1,\"counter\":\"likes\",\"action\":\"increment\"}]}");
      assertThat(batch.statusCode()).isEqualTo(401);
      assertThat(c.send("POST", "/v1/1/heartbeat", "").statusCode()).isEqualTo(401);
      assertThat(c.count(1, "likes")).isEqualTo(2);
      // a rejected credential never comes back in the answer
      assertThat(put(c, "Bearer not-a-key-0000000000").body()).doesNotContain("not-a-key");
    }
  }

  @Test
  void authAll_needsCredentialsForReadsToo() throws Exception {
    try (Tally node = start("--auth", "all", "--api-keys-file", dir.resolve("keys").toString())) {
      TallyClient c = new TallyClient(node.port());
      assertThat(c.get("/v1/1/likes").statusCode()).isEqualTo(401);
      assertThat(c.get("/v1/counts?posts=1").statusCode()).isEqualTo(401);
      assertThat(c.send("GET", "/v1/1/likes", null, "Authorization", "Bearer " + KEY).statusCode())
          .isEqualTo(200);
      assertThat(c.get("/health/ready").statusCode()).as("operations stay open").isEqualTo(200);
    }
  }

  @Test
  void authOn_withoutAnySecretOrKey_refusesToStart() {
    Assertions.assertThatThrownBy(() -> start("--auth", "writes"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("no token secret or API key");
  }

  @Test
  void clientRateLimit_answers429WithRetryAfter_andChangesNothing() throws Exception {
    ManualClock clock = new ManualClock(Instant.now());
    try (Tally node = start(clock, "--rate-limit-client", "1", "--rate-limit-client-burst", "5")) {
      TallyClient c = new TallyClient(node.port());
      int ok = 0;
      HttpResponse<String> limited = null;
      for (int i = 0; i < 8; i++) {
        HttpResponse<String> r = put(c, null);
        if (r.statusCode() == 200) {
          ok++;
        } else {
          limited = r;
        }
      }
      assertThat(ok).isEqualTo(5);
      assertThat(limited.statusCode()).isEqualTo(429);
      assertThat(limited.headers().firstValue("retry-after"))
          .hasValueSatisfying(v -> assertThat(Integer.parseInt(v)).isPositive());
      assertThat(limited.body()).contains("urn:tally:problem:rate-limited");
      String metrics = c.get("/metrics").body();
      // reads count against the same limit: refused until the advertised delay has passed
      long retryAfter = Integer.parseInt(limited.headers().firstValue("retry-after").orElseThrow());
      assertThat(c.get("/v1/1/likes").statusCode()).isEqualTo(429);
      clock.advance(java.time.Duration.ofSeconds(retryAfter));
      assertThat(c.count(1, "likes")).isEqualTo(5);
      assertThat(metrics).contains("tally_ratelimit_rejected_total{scope=\"client\"}");
    }
  }

  private static int putAs(TallyClient c, String forwardedFor) throws Exception {
    return c.send(
            "PUT", "/v1/2/likes", "{\"action\":\"increment\"}", "X-Forwarded-For", forwardedFor)
        .statusCode();
  }

  @Test
  void behindATrustedProxy_eachForwardedClientHasItsOwnLimit_elseTheHeaderIsIgnored()
      throws Exception {
    String[] limits = {"--rate-limit-client", "0.01", "--rate-limit-client-burst", "2"};
    try (Tally node = start(concat(limits, "--trusted-proxies", "127.0.0.0/8"))) {
      TallyClient c = new TallyClient(node.port());
      assertThat(List.of(putAs(c, "203.0.113.1"), putAs(c, "203.0.113.1"), putAs(c, "203.0.113.1")))
          .containsExactly(200, 200, 429);
      // another client behind the same balancer still has its own burst
      assertThat(putAs(c, "203.0.113.2")).isEqualTo(200);
      // a client cannot escape its limit by prepending a made-up hop of its own
      assertThat(putAs(c, "198.51.100.9, 203.0.113.1")).isEqualTo(429);
    }
    try (Tally node = start(limits)) {
      TallyClient c = new TallyClient(node.port());
      // nobody is trusted: every request is the peer's, whatever the header says
      assertThat(List.of(putAs(c, "203.0.113.1"), putAs(c, "203.0.113.2"), putAs(c, "203.0.113.3")))
          .containsExactly(200, 200, 429);
    }
  }

  private static String[] concat(String[] a, String... b) {
    String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  @Test
  void postRateLimit_failsOnlyTheItemsOfTheHotPost() throws Exception {
    try (Tally node = start("--rate-limit-post", "1", "--rate-limit-post-burst", "2")) {
      TallyClient c = new TallyClient(node.port());
      StringBuilder b = new StringBuilder("{\"writes\":[");
      for (int i = 0; i < 4; i++) {
        b.append("{\"post_id\":9,\"counter\":\"likes\",\"action\":\"increment\"},");
      }
      b.append("{\"post_id\":10,\"counter\":\"likes\",\"action\":\"increment\"}]}");
      HttpResponse<String> r = c.send("POST", "/v1/counts", b.toString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body().split("\"status\":429", -1)).hasSize(3);
      assertThat(c.count(9, "likes")).isEqualTo(2);
      assertThat(c.count(10, "likes")).isEqualTo(1);
    }
  }

  @Test
  void oversizedUrlHeadersAndBrokenHttp_getA4xxAndAClosedConnection_notACrash() throws Exception {
    try (Tally node = start()) {
      for (String[] probe :
          new String[][] {
            {
              "GET /v1/counts?posts=" + "1,".repeat(10_000) + "1 HTTP/1.1\r\nHost: x\r\n\r\n", "414"
            },
            {
              "GET /v1/1/likes HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20_000) + "\r\n\r\n",
              "431"
            },
            {"GARBAGE\r\n\r\n", "400 "},
            {"GET /v1/1/likes HTTP/1.1\r\nHost: x\r\nBad header line\r\n\r\n", "400"}
          }) {
        try (Socket s = new Socket("127.0.0.1", node.port())) {
          s.setSoTimeout(5_000);
          OutputStream out = s.getOutputStream();
          out.write(probe[0].getBytes(StandardCharsets.US_ASCII));
          out.flush();
          String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
          assertThat(answer).matches("(?s)HTTP/1\\.[01] " + probe[1].strip() + " .*");
        }
      }
      assertThat(new TallyClient(node.port()).get("/health/live").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void idleConnections_areClosed_withoutBlockingOthers() throws Exception {
    try (Tally node = start("--idle-timeout", "1s")) {
      try (Socket idle = new Socket("127.0.0.1", node.port())) {
        idle.setSoTimeout(10_000);
        // half a request, then silence: a slow or half-open client
        idle.getOutputStream()
            .write("PUT /v1/1/likes HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
        long t0 = System.nanoTime();
        assertThat(new TallyClient(node.port()).get("/v1/1/likes").statusCode()).isEqualTo(200);
        InputStream in = idle.getInputStream();
        assertThat(in.read()).as("closed by the node").isEqualTo(-1);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isBetween(500L, 8_000L);
      }
    }
  }

  @Test
  void tls_servesHttpsWithAPemCertificate() throws Exception {
    Path cert = dir.resolve("cert.pem");
    Path key = dir.resolve("key.pem");
    Process p =
        new ProcessBuilder(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-keyout",
                key.toString(),
                "-out",
                cert.toString())
            .redirectErrorStream(true)
            .start();
    p.getInputStream().readAllBytes();
    assertThat(p.waitFor()).isZero();
    try (Tally node = start("--tls-cert", cert.toString(), "--tls-key", key.toString())) {
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, new TrustManager[] {new TrustThisTestOnly()}, null);
      HttpClient https =
          HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> r =
          https.send(
              HttpRequest.newBuilder(URI.create("https://localhost:" + node.port() + "/v1/3/likes"))
                  .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"increment\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(TallyClient.countOf(r.body())).isEqualTo(1);
      // plain HTTP on the TLS port gets no answer
      Assertions.assertThatThrownBy(() -> new TallyClient(node.port()).get("/v1/3/likes"))
          .isInstanceOf(java.io.IOException.class);
    }
  }

  @Test
  void tlsCertWithoutKey_isAConfigError() {
    Assertions.assertThatThrownBy(
            () -> TallyConfig.parse(new String[] {"--tls-cert", "x.pem"}, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--tls-key");
  }

  /** Trusts the certificate this test just made; never used outside tests. */
  private static final class TrustThisTestOnly implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {
      if (!chain[0].getSubjectX500Principal().getName().contains("CN=localhost")) {
        throw new IllegalArgumentException("unexpected certificate");
      }
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
