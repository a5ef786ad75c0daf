package dev.tally.http;

import dev.tally.access.AccessControl;
import dev.tally.access.TrustedProxies;
import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.engine.Aggregator;
import dev.tally.engine.CountReader;
import dev.tally.engine.CountReader.Counts;
import dev.tally.engine.Write;
import dev.tally.engine.WritePath;
import dev.tally.engine.WriteResult;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.http.HttpMetrics.Endpoint;
import dev.tally.loop.Handoff;
import dev.tally.metrics.Health;
import dev.tally.metrics.Metrics;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API: routes requests, validates them, hands writes to the {@link Aggregator} and answers
 * when they are durable. See docs/api.md for the contract.
 *
 * <p>Concurrency: one instance serves every event loop; it holds no per-request state. Handlers
 * never block: writes go to the write path's queue, reads answered from memory are answered at once
 * and others complete through the {@link CountReader} (the disk on the bounded read executor, in a
 * cluster a Redis read for a counter not followed yet), and every answer is written back on the
 * request's own event loop.
 */
public final class HttpApi implements Handler<HttpServerRequest> {

  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);

  /** Largest body of a single write; the API's own bodies are a few dozen bytes. */
  static final int MAX_SINGLE_BODY_BYTES = 4096;

  private static final CharSequence JSON = HttpHeaders.createOptimized("application/json");

  /** The API's OpenAPI 3.1 description (resource openapi.json), served at /openapi.json. */
  private static final Buffer OPENAPI = openApi();

  private static Buffer openApi() {
    try (java.io.InputStream in = HttpApi.class.getResourceAsStream("/openapi.json")) {
      if (in == null) {
        throw new IllegalStateException("openapi.json is missing from the class path");
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static final CharSequence PROMETHEUS =
      HttpHeaders.createOptimized("text/plain; version=0.0.4; charset=utf-8");
  private static final CharSequence IDEMPOTENCY_KEY =
      HttpHeaders.createOptimized("Idempotency-Key");
  private static final CharSequence X_FORWARDED_FOR =
      HttpHeaders.createOptimized("X-Forwarded-For");
  private static final CharSequence REPLAYED = HttpHeaders.createOptimized("Idempotent-Replayed");
  private static final CharSequence CLUSTER_AGE =
      HttpHeaders.createOptimized("Tally-Cluster-Age-Ms");

  private final CounterNames names;
  private final Aggregator aggregator;
  private final WritePath writePath;
  private final CountReader counts;
  private final Executor readExecutor;
  private final Health health;
  private final Metrics metrics;
  private final HttpMetrics httpMetrics;
  private final int maxBodyBytes;
  private final int maxBatchItems;
  private final LiveApi live;
  private final AccessControl access;
  private final java.util.function.Supplier<BackupTaken> backups;

  /** An online backup the node took ({@code POST /admin/backup}): its directory, and when. */
  public record BackupTaken(String path, java.time.Instant createdAt) {}

  private final TrustedProxies proxies;

  /**
   * @param writePath where writes go: the aggregator, or in cluster mode the cluster's writer
   * @param counts what reads answer: the node's own values, or in cluster mode the cluster's
   * @param readExecutor where slow operations (metrics scrapes) run
   */
  public HttpApi(
      CounterNames names,
      Aggregator aggregator,
      WritePath writePath,
      CountReader counts,
      Executor readExecutor,
      Health health,
      Metrics metrics,
      int maxBodyBytes,
      int maxBatchItems,
      LiveApi live,
      AccessControl access,
      TrustedProxies proxies,
      java.util.function.Supplier<BackupTaken> backups) {
    this.names = names;
    this.aggregator = aggregator;
    this.writePath = writePath;
    this.counts = counts;
    this.readExecutor = readExecutor;
    this.health = health;
    this.metrics = metrics;
    this.httpMetrics = new HttpMetrics(metrics.registry());
    this.maxBodyBytes = maxBodyBytes;
    this.maxBatchItems = maxBatchItems;
    this.live = live;
    this.access = access;
    this.proxies = proxies;
    this.backups = backups;
  }

  @Override
  public void handle(HttpServerRequest req) {
    Call call = new Call(req, System.nanoTime());
    try {
      route(call);
    } catch (TallyException e) {
      call.problem(e);
    } catch (RuntimeException | LinkageError e) {
      log.error("unexpected failure handling a request", e);
      call.problem(new TallyException(ErrorKind.INTERNAL, "internal error"));
    }
  }

  private void route(Call call) {
    String path = call.req.path();
    HttpMethod method = call.req.method();
    if (path.startsWith("/v1/")) {
      if (path.equals("/v1/counts")) {
        if (method == HttpMethod.GET) {
          batchReadQuery(call.at(Endpoint.BATCH_READ));
        } else if (method == HttpMethod.POST) {
          batchWrite(call.at(Endpoint.BATCH_WRITE));
        } else {
          call.notAllowed("GET, POST");
        }
        return;
      }
      if (path.equals("/v1/counts/query")) {
        if (method == HttpMethod.POST) {
          batchReadBody(call.at(Endpoint.BATCH_READ));
        } else {
          call.notAllowed("POST");
        }
        return;
      }
      // /v1/{post}/{counter}, cut from the path itself (no copy of the rest of it)
      int slash = path.indexOf('/', 4);
      if (slash > 4 && path.indexOf('/', slash + 1) < 0) {
        String post = path.substring(4, slash);
        String counter = path.substring(slash + 1);
        if (LiveApi.isLiveResource(counter)) {
          if (counter.equals("heartbeat")) {
            access.checkWrite(authorization(call.req), address(call.req), 1);
          } else {
            access.checkRead(authorization(call.req), address(call.req));
          }
          live.resource(call.req, post, counter, call.startNanos);
        } else if (method == HttpMethod.GET) {
          read(call.at(Endpoint.READ), post, counter);
        } else if (method == HttpMethod.PUT) {
          write(call.at(Endpoint.WRITE), post, counter);
        } else {
          call.notAllowed("GET, PUT");
        }
        return;
      }
    } else if (path.equals("/health/live") || path.equals("/health/ready")) {
      call.at(Endpoint.HEALTH);
      if (method != HttpMethod.GET) {
        call.notAllowed("GET");
      } else if (path.equals("/health/live")) {
        call.ok(JSON, "{\"status\":\"UP\"}");
      } else {
        health(call);
      }
      return;
    } else if (path.equals("/metrics")) {
      call.at(Endpoint.METRICS);
      if (method != HttpMethod.GET) {
        call.notAllowed("GET");
      } else {
        scrape(call);
      }
      return;
    } else if (path.equals("/admin/backup")) {
      call.at(Endpoint.OTHER);
      if (method != HttpMethod.POST) {
        call.notAllowed("POST");
      } else {
        backup(call);
      }
      return;
    } else if (path.equals("/openapi.json")) {
      call.at(Endpoint.OTHER);
      if (method != HttpMethod.GET) {
        call.notAllowed("GET");
      } else {
        call.ok(JSON, OPENAPI.copy());
      }
      return;
    } else if (live.page(call.req, path, call.startNanos)) {
      return;
    }
    throw new TallyException(ErrorKind.NOT_FOUND, "no such resource; see docs/api.md");
  }

  // ---- single counter

  private CounterId counterId(String post, String counter) {
    long postId = Requests.postId(post);
    return new CounterId(postId, Requests.counterCode(names, counter));
  }

  private void write(Call call, String post, String counter) {
    CounterId id = counterId(post, counter);
    String key = Requests.idempotencyKey(call.req.getHeader(IDEMPOTENCY_KEY));
    checkContentType(call.req);
    access.checkWrite(authorization(call.req), address(call.req), 1);
    access.checkPost(id.postId(), 1);
    call.body(
        Math.min(MAX_SINGLE_BODY_BYTES, maxBodyBytes),
        body -> {
          Write w = new Write(id, Requests.action(body), key);
          Handoff back = Handoff.toThisLoop();
          writePath.submit(
              new Write[] {w}, results -> back.run(() -> answerWrite(call, results[0])));
        });
  }

  private void answerWrite(Call call, WriteResult r) {
    switch (r.outcome()) {
      case APPLIED -> call.ok(JSON, Json.countBody(r.count(), r.updatedAtSecond()));
      case REPLAYED -> {
        call.req.response().putHeader(REPLAYED, "true");
        call.ok(JSON, Json.countBody(r.count(), r.updatedAtSecond()));
      }
      case FAILED -> call.problem(r.error());
    }
  }

  private void read(Call call, String post, String counter) {
    CounterId id = counterId(post, counter);
    access.checkRead(authorization(call.req), address(call.req));
    List<CounterId> ids = List.of(id);
    Counts c = counts.peek(ids);
    if (c != null) {
      answerRead(call, c);
      return;
    }
    readLater(call, ids, later -> answerRead(call, later));
  }

  /** Reads {@code ids} through the count reader, then calls {@code then} on this event loop. */
  private void readLater(Call call, List<CounterId> ids, Consumer<Counts> then) {
    Handoff back = Handoff.toThisLoop();
    counts
        .read(ids)
        .whenComplete(
            (c, error) ->
                back.run(
                    () -> {
                      if (error == null) {
                        then.accept(c);
                      } else {
                        call.problem(asTallyException(error));
                      }
                    }));
  }

  private static TallyException asTallyException(Throwable t) {
    while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof TallyException e) {
      return e;
    }
    log.error("read failed", t);
    return new TallyException(ErrorKind.INTERNAL, "internal error");
  }

  private void answerRead(Call call, Counts c) {
    clusterAge(call, c);
    call.ok(JSON, Json.countBody(c.counts()[0], c.updatedAtSeconds()[0]));
  }

  /** States how old the other writers' part of the answer may be, when it has one. */
  private static void clusterAge(Call call, Counts c) {
    if (c.stalenessMillis() >= 0) {
      call.req.response().putHeader(CLUSTER_AGE, Long.toString(c.stalenessMillis()));
    }
  }

  // ---- batches

  private void batchReadQuery(Call call) {
    access.checkRead(authorization(call.req), address(call.req));
    Requests.ReadQuery q =
        Requests.readQuery(
            call.req.getParam("posts"), call.req.getParam("counters"), names, maxBatchItems);
    batchRead(call, q);
  }

  private void batchReadBody(Call call) {
    checkContentType(call.req);
    access.checkRead(authorization(call.req), address(call.req));
    call.body(
        maxBodyBytes, body -> batchRead(call, Requests.readQuery(body, names, maxBatchItems)));
  }

  private void batchRead(Call call, Requests.ReadQuery q) {
    List<CounterId> ids = new ArrayList<>(q.size());
    for (long post : q.posts()) {
      for (int code : q.codes()) {
        ids.add(new CounterId(post, code));
      }
    }
    Counts c = counts.peek(ids);
    if (c != null) {
      answerBatchRead(call, q, c);
      return;
    }
    readLater(call, ids, later -> answerBatchRead(call, q, later));
  }

  private void answerBatchRead(Call call, Requests.ReadQuery q, Counts values) {
    clusterAge(call, values);
    StringBuilder sb = new StringBuilder(64 + q.size() * 64).append("{\"counts\":{");
    int i = 0;
    for (int p = 0; p < q.posts().length; p++) {
      if (p > 0) {
        sb.append(',');
      }
      sb.append('"').append(q.posts()[p]).append("\":{");
      for (int c = 0; c < q.codes().length; c++) {
        if (c > 0) {
          sb.append(',');
        }
        sb.append('"').append(names.name(q.codes()[c])).append("\":");
        Json.appendCount(sb, values.counts()[i], values.updatedAtSeconds()[i]);
        i++;
      }
      sb.append('}');
    }
    call.ok(JSON, sb.append("}}").toString());
  }

  private void batchWrite(Call call) {
    checkContentType(call.req);
    String authorization = authorization(call.req);
    String address = address(call.req);
    access.checkWrite(authorization, address, 0);
    call.body(
        maxBodyBytes,
        body -> {
          List<Requests.Item> items = Requests.batchWrites(body, names, maxBatchItems);
          // the client pays for every item; a post over its own limit fails just its items
          access.checkWrite(authorization, address, items.size());
          List<Write> valid = new ArrayList<>(items.size());
          for (int i = 0; i < items.size(); i++) {
            Requests.Item item = items.get(i);
            if (item.write() == null) {
              continue;
            }
            try {
              access.checkPost(item.write().counter().postId(), 1);
              valid.add(item.write());
            } catch (TallyException e) {
              items.set(i, new Requests.Item(null, e));
            }
          }
          if (valid.isEmpty()) {
            answerBatchWrite(call, items, new WriteResult[0]);
            return;
          }
          Handoff back = Handoff.toThisLoop();
          writePath.submit(
              valid.toArray(new Write[0]),
              results -> back.run(() -> answerBatchWrite(call, items, results)));
        });
  }

  private void answerBatchWrite(Call call, List<Requests.Item> items, WriteResult[] results) {
    StringBuilder sb = new StringBuilder(32 + items.size() * 80).append("{\"results\":[");
    int r = 0;
    for (int i = 0; i < items.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      Requests.Item item = items.get(i);
      TallyException error = item.error();
      WriteResult result = null;
      if (error == null) {
        result = results[r++];
        error = result.error();
      }
      if (error != null) {
        sb.append(Problems.body(error.kind(), error.getMessage()));
        continue;
      }
      sb.append("{\"status\":200,");
      if (result.outcome() == WriteResult.Outcome.REPLAYED) {
        sb.append("\"replayed\":true,");
      }
      Json.appendCountFields(sb, result.count(), result.updatedAtSecond()).append('}');
    }
    call.ok(JSON, sb.append("]}").toString());
  }

  // ---- operations

  private void health(Call call) {
    boolean ready = health.ready();
    StringBuilder sb = new StringBuilder("{\"status\":\"").append(ready ? "UP" : "DOWN");
    sb.append("\",\"checks\":{");
    boolean first = true;
    for (Map.Entry<String, Boolean> e : health.details().entrySet()) {
      if (!first) {
        sb.append(',');
      }
      first = false;
      Json.appendString(sb, e.getKey());
      sb.append(':').append(e.getValue());
    }
    sb.append("},\"pending_writes\":").append(aggregator.pendingWrites());
    for (Map.Entry<String, Map<String, Map<String, Object>>> section :
        health.sections().entrySet()) {
      sb.append(',');
      Json.appendString(sb, section.getKey());
      sb.append(":{");
      boolean firstRegion = true;
      for (Map.Entry<String, Map<String, Object>> region : section.getValue().entrySet()) {
        if (!firstRegion) {
          sb.append(',');
        }
        firstRegion = false;
        Json.appendString(sb, region.getKey());
        sb.append(":{");
        boolean firstField = true;
        for (Map.Entry<String, Object> f : region.getValue().entrySet()) {
          if (!firstField) {
            sb.append(',');
          }
          firstField = false;
          Json.appendString(sb, f.getKey());
          sb.append(':');
          if (f.getValue() instanceof String text) {
            Json.appendString(sb, text);
          } else {
            sb.append(f.getValue());
          }
        }
        sb.append('}');
      }
      sb.append('}');
    }
    sb.append('}');
    call.send(ready ? 200 : 503, JSON, Buffer.buffer(sb.toString()));
  }

  /** An online backup of the store (docs/operations.md): as a write, for access control. */
  private void backup(Call call) {
    access.checkWrite(authorization(call.req), address(call.req), 0);
    // on a thread of its own, not a read thread: a copy across file systems may take minutes,
    // and reads of counters not in memory would wait behind it (one backup at a time: Backups)
    offload(
        call,
        r -> Thread.ofPlatform().name("tally-backup").daemon().start(r),
        backups,
        made -> {
          StringBuilder sb = new StringBuilder("{\"path\":");
          Json.appendString(sb, made.path());
          call.ok(
              JSON,
              sb.append(",\"created_at\":\"").append(made.createdAt()).append("\"}").toString());
        });
  }

  private void scrape(Call call) {
    offload(call, readExecutor, metrics::scrape, text -> call.ok(PROMETHEUS, text));
  }

  /** Runs {@code work} on {@code executor}, then {@code then} back on this event loop. */
  private <T> void offload(
      Call call,
      java.util.concurrent.Executor executor,
      java.util.function.Supplier<T> work,
      Consumer<T> then) {
    Handoff back = Handoff.toThisLoop();
    try {
      executor.execute(
          () -> {
            T value;
            try {
              value = work.get();
            } catch (TallyException e) {
              back.run(() -> call.problem(e));
              return;
            } catch (RuntimeException e) {
              log.error("offloaded request failed", e);
              back.run(
                  () -> call.problem(new TallyException(ErrorKind.INTERNAL, "internal error")));
              return;
            }
            back.run(() -> then.accept(value));
          });
    } catch (RejectedExecutionException e) {
      throw new TallyException(ErrorKind.OVERLOADED, "too many reads are waiting; retry shortly");
    }
  }

  private static String authorization(HttpServerRequest req) {
    return req.getHeader(HttpHeaders.AUTHORIZATION);
  }

  /** The client's address: the TCP peer's, or behind a trusted proxy the one it forwards. */
  private String address(HttpServerRequest req) {
    var a = req.remoteAddress();
    String peer = a == null ? "unknown" : a.hostAddress();
    if (proxies.isEmpty()) {
      return peer;
    }
    return proxies.client(peer, req.headers().getAll(X_FORWARDED_FOR));
  }

  private static void checkContentType(HttpServerRequest req) {
    String ct = req.getHeader(HttpHeaders.CONTENT_TYPE);
    if (ct == null) {
      return;
    }
    int semi = ct.indexOf(';');
    String media = (semi < 0 ? ct : ct.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    // curl -d sends form encoding by default; the body is parsed as JSON either way
    if (!media.equals("application/json")
        && !media.endsWith("+json")
        && !media.equals("application/x-www-form-urlencoded")) {
      throw new TallyException(
          ErrorKind.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json");
    }
  }

  /** One request in flight: its endpoint for metrics, its start time, and how to answer it. */
  private final class Call {
    final HttpServerRequest req;
    final long startNanos;
    Endpoint endpoint = Endpoint.OTHER;

    Call(HttpServerRequest req, long startNanos) {
      this.req = req;
      this.startNanos = startNanos;
    }

    Call at(Endpoint e) {
      endpoint = e;
      return this;
    }

    void ok(CharSequence contentType, String body) {
      send(200, contentType, Buffer.buffer(body));
    }

    void ok(CharSequence contentType, Buffer body) {
      send(200, contentType, body);
    }

    void send(int status, CharSequence contentType, Buffer body) {
      Responses.send(req, httpMetrics, endpoint, startNanos, status, contentType, body);
    }

    void problem(TallyException e) {
      Responses.problem(req, httpMetrics, endpoint, startNanos, e);
    }

    void notAllowed(String allow) {
      req.response().putHeader(HttpHeaders.ALLOW, allow);
      throw new TallyException(ErrorKind.METHOD_NOT_ALLOWED, "allowed methods: " + allow);
    }

    /** Collects the body up to {@code limit} bytes, then calls {@code then} on the event loop. */
    void body(int limit, Consumer<byte[]> then) {
      BodyReader.read(req, limit, then, this::problem);
    }
  }
}
