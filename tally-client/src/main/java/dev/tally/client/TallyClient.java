package dev.tally.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * A client of one tally endpoint (a node, or HAProxy in front of a cluster).
 *
 * <p>Every write carries an idempotency key, made up for it (a random UUID) unless the caller gives
 * one, and is retried under that same key ({@link Backoff}) when no answer came (connection refused
 * or reset, timeout), on 5xx, on 429 (honouring {@code Retry-After}) and on 409 (another node is
 * still applying the key): a retry is answered from the first attempt's record, so it never counts
 * twice. A write that still fails throws {@link TallyProblemException} with the key, which the
 * caller may use to try again later. Reads are retried the same way. Other problems (400, 404, 422,
 * …) are thrown at once.
 *
 * <p>Thread-safe; share one instance. {@link #close} releases its connections.
 *
 * <pre>{@code
 * try (TallyClient tally = TallyClient.builder(URI.create("http://localhost:8080")).build()) {
 *   Count likes = tally.increment(812, "likes");
 *   Map<Long, Map<String, Count>> page = tally.read(List.of(812L, 813L), List.of("likes"));
 * }
 * }</pre>
 */
public final class TallyClient implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final URI base;
  private final HttpClient http;
  private final Duration requestTimeout;
  private final Backoff backoff;
  private final String authorization;

  private TallyClient(Builder b) {
    String s = b.base.toString();
    this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(b.connectTimeout)
            .build();
    this.requestTimeout = b.requestTimeout;
    this.backoff = b.backoff;
    this.authorization = b.token == null ? null : "Bearer " + b.token;
  }

  /** A builder for a client of {@code baseUri}, e.g. {@code http://localhost:8080}. */
  public static Builder builder(URI baseUri) {
    return new Builder(baseUri);
  }

  // ---- single counters

  /** Adds one to the counter; returns its count right after this write. */
  public Count increment(long postId, String counter) {
    return write(postId, counter, Action.INCREMENT, null);
  }

  /** Takes one from the counter; returns its count right after this write. */
  public Count decrement(long postId, String counter) {
    return write(postId, counter, Action.DECREMENT, null);
  }

  /**
   * Applies {@code action} once under {@code idempotencyKey} (a fresh UUID when null): a repeat of
   * the same key returns the first answer again and changes nothing.
   */
  public Count write(long postId, String counter, Action action, String idempotencyKey) {
    String key = idempotencyKey != null ? idempotencyKey : UUID.randomUUID().toString();
    HttpRequest request =
        request(path(postId, counter))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"" + action.wire + "\"}"))
            .build();
    try {
      return count(send(request));
    } catch (TallyProblemException e) {
      throw e.withKey(key);
    }
  }

  /** The counter's count ({@code 0}, never written: {@code updatedAt} null). */
  public Count get(long postId, String counter) {
    return count(send(request(path(postId, counter)).GET().build()));
  }

  // ---- batches

  /**
   * The counts of {@code counters} (all the node's counters when empty) of each post, in one
   * request: post id → counter → count. At most the node's {@code --max-batch-items} pairs.
   */
  public Map<Long, Map<String, Count>> read(Collection<Long> postIds, Collection<String> counters) {
    ObjectNode body = JSON.createObjectNode();
    ArrayNode posts = body.putArray("posts");
    postIds.forEach(posts::add);
    if (!counters.isEmpty()) {
      ArrayNode names = body.putArray("counters");
      counters.forEach(names::add);
    }
    JsonNode answer =
        send(
            request("/v1/counts/query")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build());
    Map<Long, Map<String, Count>> out = new LinkedHashMap<>();
    answer
        .path("counts")
        .properties()
        .forEach(
            post -> {
              Map<String, Count> byName = new LinkedHashMap<>();
              post.getValue()
                  .properties()
                  .forEach(c -> byName.put(c.getKey(), count(c.getValue())));
              out.put(Long.parseLong(post.getKey()), byName);
            });
    return out;
  }

  /**
   * Applies each write once, in one request where possible; returns one result per write, in order,
   * each with the write as sent (its key included). Items without a key get one. Items answered
   * with a retriable problem (503, 429, 409, …) are sent again, alone, under their keys, as long as
   * the {@link Backoff} allows; the rest are reported as they came. A request that gets no answer
   * is sent again whole; if it never gets one, every item not yet answered reports that problem
   * with its key. At most the node's {@code --max-batch-items} writes.
   *
   * @throws TallyProblemException when the request itself is refused (e.g. 413, 401)
   */
  public List<BatchResult> write(List<BatchWrite> writes) {
    List<BatchWrite> keyed = new ArrayList<>(writes.size());
    for (BatchWrite w : writes) {
      keyed.add(
          w.idempotencyKey() != null
              ? w
              : new BatchWrite(w.postId(), w.counter(), w.action(), UUID.randomUUID().toString()));
    }
    BatchResult[] results = new BatchResult[keyed.size()];
    List<Integer> pending = new ArrayList<>();
    for (int i = 0; i < keyed.size(); i++) {
      pending.add(i);
    }
    for (int attempt = 1; !pending.isEmpty(); attempt++) {
      ObjectNode body = JSON.createObjectNode();
      ArrayNode items = body.putArray("writes");
      for (int i : pending) {
        BatchWrite w = keyed.get(i);
        items
            .addObject()
            .put("post_id", w.postId())
            .put("counter", w.counter())
            .put("action", w.action().wire)
            .put("idempotency_key", w.idempotencyKey());
      }
      JsonNode answer;
      try {
        answer =
            send(
                request("/v1/counts")
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build());
      } catch (TallyProblemException e) {
        if (!e.retriable()) {
          throw e; // the request itself is wrong (too many items, credentials): nothing applied
        }
        // retried to the end: each item left reports it with its key, for a later retry
        for (int i : pending) {
          BatchWrite w = keyed.get(i);
          results[i] = new BatchResult(w, null, false, e.withKey(w.idempotencyKey()));
        }
        break;
      }
      JsonNode list = answer.path("results");
      List<Integer> again = new ArrayList<>();
      Duration wait = null;
      for (int k = 0; k < pending.size(); k++) {
        int i = pending.get(k);
        BatchWrite w = keyed.get(i);
        JsonNode r = list.path(k);
        int status = r.path("status").asInt(0);
        if (status == 200) {
          results[i] = new BatchResult(w, count(r), r.path("replayed").asBoolean(false), null);
          continue;
        }
        TallyProblemException p = problem(r, status, null).withKey(w.idempotencyKey());
        results[i] = new BatchResult(w, null, false, p);
        if (p.retriable() && attempt < backoff.maxAttempts()) {
          again.add(i);
          wait = later(wait, p.retryAfter());
        }
      }
      if (!again.isEmpty()) {
        sleep(backoff.delay(attempt, wait));
      }
      pending = again;
    }
    return List.of(results);
  }

  // ---- live counts

  /**
   * Streams {@code postId}'s live counts (Server-Sent Events) to {@code onEvent}, on a thread of
   * its own, until the subscription is closed. A dropped stream is opened again (after the node's
   * {@code retry}, or with backoff while it keeps failing), and starts with a fresh snapshot.
   * {@code onError} hears of each failed or lost connection (it may be null).
   */
  public Subscription subscribe(
      long postId, Consumer<LiveEvent> onEvent, Consumer<Throwable> onError) {
    Objects.requireNonNull(onEvent, "onEvent");
    return new Subscription(this, postId, onEvent, onError);
  }

  HttpResponse<java.util.stream.Stream<String>> openStream(long postId)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + "/v1/" + postId + "/stream"))
            .header("Accept", "text/event-stream")
            .GET();
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofLines());
  }

  Backoff backoff() {
    return backoff;
  }

  @Override
  public void close() {
    http.close();
  }

  // ---- plumbing

  private static String path(long postId, String counter) {
    Objects.requireNonNull(counter, "counter");
    return "/v1/" + postId + "/" + URLEncoder.encode(counter, StandardCharsets.UTF_8);
  }

  private HttpRequest.Builder request(String path) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(requestTimeout)
            .header("Accept", "application/json");
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return b;
  }

  /** Sends {@code request}, retried per {@link #backoff}; the answer's JSON body, or a problem. */
  private JsonNode send(HttpRequest request) {
    for (int attempt = 1; ; attempt++) {
      TallyProblemException failure;
      try {
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) {
          return JSON.readTree(r.body());
        }
        failure = problem(parse(r.body()), r.statusCode(), retryAfter(r));
      } catch (IOException e) {
        failure =
            new TallyProblemException(
                TallyProblemException.TRANSPORT,
                "No answer",
                0,
                request.method() + " " + request.uri() + ": " + e,
                null,
                null,
                e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new TallyProblemException(
            TallyProblemException.TRANSPORT, "Interrupted", 0, "interrupted", null, null, e);
      }
      if (!failure.retriable() || attempt >= backoff.maxAttempts()) {
        throw failure;
      }
      sleep(backoff.delay(attempt, failure.retryAfter()));
    }
  }

  private static JsonNode parse(String body) {
    try {
      return body == null || body.isEmpty() ? JSON.createObjectNode() : JSON.readTree(body);
    } catch (IOException e) {
      return JSON.createObjectNode(); // e.g. HAProxy's HTML error page
    }
  }

  private static TallyProblemException problem(JsonNode p, int status, Duration retryAfter) {
    String type = p.path("type").asText("about:blank");
    String title = p.path("title").asText("HTTP " + status);
    String detail = p.path("detail").asText(title);
    return new TallyProblemException(type, title, status, detail, retryAfter, null, null);
  }

  private static Duration retryAfter(HttpResponse<?> r) {
    return r.headers()
        .firstValue("Retry-After")
        .map(
            v -> {
              try {
                return Duration.ofSeconds(Long.parseLong(v.trim()));
              } catch (NumberFormatException e) {
                return null; // an HTTP date: tally sends seconds; fall back to the backoff
              }
            })
        .orElse(null);
  }

  static Count count(JsonNode n) {
    JsonNode at = n.path("updated_at");
    return new Count(n.path("count").asLong(), at.isTextual() ? Instant.parse(at.asText()) : null);
  }

  private static Duration later(Duration a, Duration b) {
    if (a == null) {
      return b;
    }
    return b == null || a.compareTo(b) >= 0 ? a : b;
  }

  static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TallyProblemException(
          TallyProblemException.TRANSPORT, "Interrupted", 0, "interrupted", null, null, e);
    }
  }

  /** Settings of a {@link TallyClient}. */
  public static final class Builder {
    private final URI base;
    private Duration connectTimeout = Duration.ofSeconds(2);
    private Duration requestTimeout = Duration.ofSeconds(5);
    private Backoff backoff = Backoff.DEFAULT;
    private String token;

    private Builder(URI base) {
      this.base = Objects.requireNonNull(base, "baseUri");
    }

    /** How long to wait for a connection (default 2 s). */
    public Builder connectTimeout(Duration d) {
      this.connectTimeout = Objects.requireNonNull(d);
      return this;
    }

    /** How long one attempt may wait for its answer (default 5 s); then it counts as failed. */
    public Builder requestTimeout(Duration d) {
      this.requestTimeout = Objects.requireNonNull(d);
      return this;
    }

    /** Retries of failed requests (default {@link Backoff#DEFAULT}; {@link Backoff#NONE}: none). */
    public Builder backoff(Backoff b) {
      this.backoff = Objects.requireNonNull(b);
      return this;
    }

    /** A bearer token, for nodes that require one ({@code --auth}; see docs/security.md). */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    public TallyClient build() {
      return new TallyClient(this);
    }
  }
}
