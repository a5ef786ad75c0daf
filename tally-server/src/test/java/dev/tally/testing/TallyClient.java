package dev.tally.testing;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A minimal HTTP client for tests, over the JDK client (HTTP/1.1 keep-alive). Thread-safe. */
public final class TallyClient {

  private static final Pattern COUNT = Pattern.compile("\"count\":(-?\\d+)");

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final int port;
  private final String base;
  private final Duration timeout;

  public TallyClient(int port) {
    this(port, Duration.ofSeconds(10));
  }

  /** A client whose requests give up after {@code timeout}. */
  public TallyClient(int port, Duration timeout) {
    this.port = port;
    this.base = "http://127.0.0.1:" + port;
    this.timeout = timeout;
  }

  /** One client per port, each with requests bounded by {@code timeout}. */
  public static List<TallyClient> onPorts(List<Integer> ports, Duration timeout) {
    return ports.stream().map(p -> new TallyClient(p, timeout)).toList();
  }

  public int port() {
    return port;
  }

  public HttpResponse<String> send(String method, String path, String body, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(timeout);
    if (headers.length > 0) {
      b.headers(headers);
    }
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  public HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return send("GET", path, null);
  }

  /** PUT {"action":…}; {@code key} may be null. */
  public HttpResponse<String> write(long post, String counter, String action, String key)
      throws IOException, InterruptedException {
    String body = "{\"action\":\"" + action + "\"}";
    return key == null
        ? send("PUT", "/v1/" + post + "/" + counter, body, "Content-Type", "application/json")
        : send(
            "PUT",
            "/v1/" + post + "/" + counter,
            body,
            "Content-Type",
            "application/json",
            "Idempotency-Key",
            key);
  }

  public long count(long post, String counter) throws IOException, InterruptedException {
    HttpResponse<String> r = get("/v1/" + post + "/" + counter);
    if (r.statusCode() != 200) {
      throw new IllegalStateException("GET answered " + r.statusCode() + ": " + r.body());
    }
    return countOf(r.body());
  }

  public static long countOf(String json) {
    Matcher m = COUNT.matcher(json);
    if (!m.find()) {
      throw new IllegalArgumentException("no count in " + json);
    }
    return Long.parseLong(m.group(1));
  }
}
