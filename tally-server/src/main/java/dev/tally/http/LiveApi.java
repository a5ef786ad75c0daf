package dev.tally.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.CounterValue;
import dev.tally.engine.ReadCache;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import dev.tally.http.HttpMetrics.Endpoint;
import dev.tally.live.LiveHub;
import dev.tally.live.LiveReading;
import dev.tally.live.LiveService;
import dev.tally.live.Sink;
import dev.tally.live.VertxLoop;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live part of the HTTP API: {@code /v1/{postId}/stream} (Server-Sent Events), {@code
 * /v1/{postId}/live}, {@code /v1/{postId}/heartbeat}, and the like-button page with its assets.
 * {@link HttpApi} routes these paths here; every outcome, errors included, is answered here. See
 * docs/api.md.
 *
 * <p>Concurrency: one instance serves every event loop and holds no per-request state beyond the
 * stream's own objects, which stay on the connection's event loop. Nothing blocks: a stream whose
 * counters are not all cached reads them on the bounded read executor and starts back on its loop;
 * in cluster mode, a live count whose other nodes' shares are not known on this node yet is
 * answered after one Redis read, back on the request's context.
 */
public final class LiveApi {

  private static final Logger log = LoggerFactory.getLogger(LiveApi.class);

  private static final int MAX_HEARTBEAT_BODY = 1024;
  private static final Pattern VIEWER_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  private static final Pattern POST_PAGE = Pattern.compile("/posts/[1-9][0-9]{0,18}/?");
  private static final CharSequence JSON = HttpHeaders.createOptimized("application/json");
  private static final CharSequence EVENT_STREAM =
      HttpHeaders.createOptimized("text/event-stream; charset=utf-8");

  private final CounterNames names;
  private final LiveService live;
  private final ReadCache reads;
  private final Executor readExecutor;
  private final int streamBufferBytes;
  private final long heartbeatTtlSeconds;
  private final HttpMetrics httpMetrics;
  private final WebAssets assets = new WebAssets();

  /** One loop per event-loop thread (requests run on per-request duplicates of its context). */
  private final ConcurrentHashMap<Thread, VertxLoop> loops = new ConcurrentHashMap<>();

  public LiveApi(
      CounterNames names,
      LiveService live,
      ReadCache reads,
      Executor readExecutor,
      int streamBufferBytes,
      MeterRegistry registry) {
    this.names = names;
    this.live = live;
    this.reads = reads;
    this.readExecutor = readExecutor;
    this.streamBufferBytes = streamBufferBytes;
    this.heartbeatTtlSeconds = Math.max(1, live.gauge().ttl().toSeconds());
    this.httpMetrics = new HttpMetrics(registry);
  }

  /**
   * Cluster mode: a stream's first event adds the other writers' share (from Redis) to this node's
   * own values; later events carry cluster totals from the live bus.
   */
  public void useClusterShares(
      java.util.function.Function<List<CounterId>, java.util.concurrent.CompletionStage<long[]>>
          others) {
    this.clusterShares = others;
  }

  private volatile java.util.function.Function<
          List<CounterId>, java.util.concurrent.CompletionStage<long[]>>
      clusterShares;

  /** True for the reserved names under {@code /v1/{postId}/} that this class serves. */
  static boolean isLiveResource(String name) {
    return CounterNames.RESERVED.contains(name);
  }

  /** Serves {@code /v1/{post}/{resource}} for a resource of {@link #isLiveResource}. */
  void resource(HttpServerRequest req, String post, String resource, long startNanos) {
    Endpoint endpoint =
        switch (resource) {
          case "stream" -> Endpoint.STREAM;
          case "heartbeat" -> Endpoint.HEARTBEAT;
          default -> Endpoint.LIVE;
        };
    try {
      HttpMethod method = req.method();
      switch (resource) {
        case "stream" -> {
          allow(req, method == HttpMethod.GET, "GET", "a stream is opened with GET");
          stream(req, Requests.postId(post), startNanos);
        }
        case "heartbeat" -> {
          allow(req, method == HttpMethod.POST, "POST", "send heartbeats with POST");
          heartbeat(req, Requests.postId(post), startNanos);
        }
        default -> {
          allow(
              req,
              method == HttpMethod.GET,
              "GET",
              "live is the number of viewers right now and cannot be written; open a stream or"
                  + " send heartbeats to be counted");
          whenRead(
              live.read(Requests.postId(post)),
              r ->
                  send(
                      req,
                      endpoint,
                      startNanos,
                      200,
                      JSON,
                      Json.countBody(r.count(), r.updatedAtSecond())));
        }
      }
    } catch (TallyException e) {
      problem(req, endpoint, startNanos, e);
    } catch (RuntimeException e) {
      log.error("unexpected failure handling a request", e);
      problem(req, endpoint, startNanos, new TallyException(ErrorKind.INTERNAL, "internal error"));
    }
  }

  /**
   * Serves the page ({@code /}, {@code /posts/{postId}}) and its files ({@code /assets/…}, {@code
   * /favicon.svg}); false when {@code path} is none of these.
   */
  boolean page(HttpServerRequest req, String path, long startNanos) {
    WebAssets.Asset asset;
    if (path.equals("/") || POST_PAGE.matcher(path).matches()) {
      asset = assets.page();
    } else if (path.startsWith("/assets/") || path.equals("/favicon.svg")) {
      asset = assets.asset(path);
    } else if (path.startsWith("/posts/") || path.equals("/posts")) {
      asset = null;
    } else {
      return false;
    }
    try {
      if (req.method() != HttpMethod.GET && req.method() != HttpMethod.HEAD) {
        req.response().putHeader(HttpHeaders.ALLOW, "GET, HEAD");
        throw new TallyException(ErrorKind.METHOD_NOT_ALLOWED, "allowed methods: GET, HEAD");
      }
      if (asset == null) {
        throw new TallyException(ErrorKind.NOT_FOUND, "no such page or file");
      }
      HttpServerResponse resp = req.response();
      resp.putHeader(HttpHeaders.CACHE_CONTROL, asset.cacheControl())
          .putHeader(HttpHeaders.ETAG, asset.etag())
          .putHeader("X-Content-Type-Options", "nosniff");
      String inm = req.getHeader(HttpHeaders.IF_NONE_MATCH);
      if (inm != null && inm.contains(asset.etag())) {
        httpMetrics.done(req, Endpoint.PAGE, 304, System.nanoTime() - startNanos);
        resp.setStatusCode(304).end();
        return true;
      }
      resp.setStatusCode(200).putHeader(HttpHeaders.CONTENT_TYPE, asset.contentType());
      httpMetrics.done(req, Endpoint.PAGE, 200, System.nanoTime() - startNanos);
      if (req.method() == HttpMethod.HEAD) {
        resp.putHeader(HttpHeaders.CONTENT_LENGTH, Integer.toString(asset.body().length())).end();
      } else {
        resp.end(asset.body().copy());
      }
    } catch (TallyException e) {
      problem(req, Endpoint.PAGE, startNanos, e);
    }
    return true;
  }

  // ---- stream

  private void stream(HttpServerRequest req, long postId, long startNanos) {
    Context ctx = Vertx.currentContext();
    HttpServerResponse resp = req.response();
    HttpConnection conn = req.connection();
    LiveHub.Subscription sub =
        live.hub()
            .open(
                postId,
                loops.computeIfAbsent(Thread.currentThread(), t -> new VertxLoop(ctx)),
                new SseSink(resp, conn));
    resp.setStatusCode(200)
        .setChunked(true)
        .putHeader(HttpHeaders.CONTENT_TYPE, EVENT_STREAM)
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-store")
        // events are small and must not wait in a compressor's buffer
        .putHeader(HttpHeaders.CONTENT_ENCODING, HttpHeaders.IDENTITY)
        .putHeader("X-Accel-Buffering", "no")
        // a stream's connection is never reused: without this, a browser that leaves the page may
        // keep the socket open to drain it for reuse, and the viewer would still count as live
        .putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE);
    resp.setWriteQueueMaxSize(streamBufferBytes);
    resp.closeHandler(v -> sub.close());
    resp.exceptionHandler(
        e -> {
          log.debug("stream failed: {}", e.toString());
          sub.close();
        });
    // a stopping node ends its streams, so the graceful stop does not wait for them
    conn.shutdownHandler(
        v -> {
          sub.close();
          if (!resp.ended()) {
            resp.end();
          }
        });
    List<String> counterNames = live.hub().counterNames();
    List<CounterId> ids = new ArrayList<>(counterNames.size());
    List<CounterValue> cached = new ArrayList<>(counterNames.size());
    for (String name : counterNames) {
      CounterId id = new CounterId(postId, names.code(name).orElseThrow());
      ids.add(id);
      CounterValue v = reads.peek(id);
      if (v != null) {
        cached.add(v);
      }
    }
    if (cached.size() == ids.size()) {
      startStream(sub, ids, cached, startNanos, ctx);
      return;
    }
    try {
      readExecutor.execute(
          () -> {
            List<CounterValue> values;
            try {
              values = reads.readAll(ids);
            } catch (RuntimeException e) {
              TallyException te =
                  e instanceof TallyException t
                      ? t
                      : new TallyException(ErrorKind.UNAVAILABLE, "cannot read the counts now");
              ctx.runOnContext(
                  v -> {
                    sub.close();
                    problem(req, Endpoint.STREAM, startNanos, te);
                  });
              return;
            }
            ctx.runOnContext(v -> startStream(sub, ids, values, startNanos, ctx));
          });
    } catch (RejectedExecutionException e) {
      sub.close();
      throw new TallyException(ErrorKind.OVERLOADED, "too many reads are waiting; retry shortly");
    }
  }

  private void startStream(
      LiveHub.Subscription sub,
      List<CounterId> ids,
      List<CounterValue> own,
      long startNanos,
      Context ctx) {
    var others = clusterShares;
    if (others == null) {
      begin(sub, own, startNanos);
      return;
    }
    // if Redis cannot be asked, start from this node's part: the bus's re-read heals it
    others
        .apply(ids)
        .whenComplete(
            (shares, error) ->
                ctx.runOnContext(
                    v -> begin(sub, error == null ? withShares(own, shares) : own, startNanos)));
  }

  /** {@code own} with each counter's count raised by the other writers' share. */
  private static List<CounterValue> withShares(List<CounterValue> own, long[] shares) {
    List<CounterValue> out = new ArrayList<>(own.size());
    for (int i = 0; i < own.size(); i++) {
      CounterValue v = own.get(i);
      long s = shares[i];
      dev.tally.counter.Slot slot =
          s >= 0
              ? new dev.tally.counter.Slot(v.slot().p() + s, v.slot().n())
              : new dev.tally.counter.Slot(v.slot().p(), v.slot().n() - s);
      out.add(new CounterValue(slot, v.updatedAtSecond()));
    }
    return out;
  }

  private void begin(LiveHub.Subscription sub, List<CounterValue> values, long startNanos) {
    if (sub.closed()) {
      return;
    }
    sub.start(values);
    httpMetrics.record(Endpoint.STREAM, 200, System.nanoTime() - startNanos);
  }

  /** An SSE response as a {@link Sink}: bounded by the connection's write queue. */
  private static final class SseSink implements Sink {
    private final HttpServerResponse resp;
    private final HttpConnection conn;

    SseSink(HttpServerResponse resp, HttpConnection conn) {
      this.resp = resp;
      this.conn = conn;
    }

    @Override
    public boolean writable() {
      return !resp.writeQueueFull() && !resp.closed();
    }

    @Override
    public void write(String text) {
      resp.write(text);
    }

    @Override
    public void close() {
      conn.close();
    }
  }

  // ---- heartbeat

  private void heartbeat(HttpServerRequest req, long postId, long startNanos) {
    checkContentType(req);
    body(
        req,
        startNanos,
        body -> {
          String viewer = viewerId(body);
          if (viewer == null) {
            viewer = UUID.randomUUID().toString();
          }
          LiveReading counted = live.heartbeat(postId, viewer);
          String viewerId = viewer;
          whenRead(
              live.sharesKnown(postId)
                  ? CompletableFuture.completedFuture(counted)
                  : live.read(postId),
              r -> {
                StringBuilder sb = new StringBuilder(128).append("{\"viewer_id\":");
                Json.appendString(sb, viewerId);
                sb.append(',');
                int len = sb.length();
                Json.appendCount(sb, r.count(), r.updatedAtSecond());
                sb.deleteCharAt(len); // merge the count object into this one
                sb.setLength(sb.length() - 1);
                sb.append(",\"ttl_seconds\":").append(heartbeatTtlSeconds).append('}');
                send(req, Endpoint.HEARTBEAT, startNanos, 200, JSON, Buffer.buffer(sb.toString()));
              });
        });
  }

  /**
   * Runs {@code answer} with the reading: at once when it is ready (always in single-node mode),
   * else back on this request's context once the other nodes' viewers were read from Redis.
   */
  private static void whenRead(CompletionStage<LiveReading> reading, Consumer<LiveReading> answer) {
    CompletableFuture<LiveReading> f = reading.toCompletableFuture();
    if (f.isDone()) {
      answer.accept(f.join());
      return;
    }
    Context ctx = Vertx.currentContext();
    f.thenAccept(r -> ctx.runOnContext(v -> answer.accept(r)));
  }

  /** The {@code viewer_id} of a heartbeat body, or null when the body is empty or has none. */
  static String viewerId(byte[] body) {
    boolean blank = true;
    for (byte b : body) {
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        blank = false;
        break;
      }
    }
    if (blank) {
      return null;
    }
    String viewer = null;
    try (JsonParser p = Json.parser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw badHeartbeat();
      }
      for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
        if (t != JsonToken.FIELD_NAME || !"viewer_id".equals(p.currentName())) {
          throw badHeartbeat();
        }
        if (p.nextToken() != JsonToken.VALUE_STRING) {
          throw badHeartbeat();
        }
        viewer = p.getText();
        if (!VIEWER_ID.matcher(viewer).matches()) {
          throw new TallyException(
              ErrorKind.BAD_REQUEST, "viewer_id must be 1-64 characters of A-Z, a-z, 0-9, _ or -");
        }
      }
      if (p.nextToken() != null) {
        throw badHeartbeat();
      }
    } catch (IOException e) {
      throw badHeartbeat();
    }
    return viewer;
  }

  private static TallyException badHeartbeat() {
    return new TallyException(
        ErrorKind.BAD_REQUEST,
        "a heartbeat body is empty or {\"viewer_id\":\"…\"} and nothing else");
  }

  // ---- answers

  private static void allow(HttpServerRequest req, boolean allowed, String methods, String why) {
    if (!allowed) {
      req.response().putHeader(HttpHeaders.ALLOW, methods);
      throw new TallyException(
          ErrorKind.METHOD_NOT_ALLOWED, why + " (allowed methods: " + methods + ")");
    }
  }

  private static void checkContentType(HttpServerRequest req) {
    String ct = req.getHeader(HttpHeaders.CONTENT_TYPE);
    if (ct == null) {
      return;
    }
    int semi = ct.indexOf(';');
    String media = (semi < 0 ? ct : ct.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    if (!media.equals("application/json")
        && !media.endsWith("+json")
        && !media.equals("application/x-www-form-urlencoded")
        && !media.equals("text/plain")) {
      throw new TallyException(
          ErrorKind.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json");
    }
  }

  /** Collects a small body, then runs {@code then} on the event loop, answering its errors. */
  private void body(HttpServerRequest req, long startNanos, Consumer<byte[]> then) {
    BodyReader.read(
        req, MAX_HEARTBEAT_BODY, then, e -> problem(req, Endpoint.HEARTBEAT, startNanos, e));
  }

  private void send(
      HttpServerRequest req,
      Endpoint endpoint,
      long startNanos,
      int status,
      CharSequence contentType,
      Buffer body) {
    Responses.send(req, httpMetrics, endpoint, startNanos, status, contentType, body);
  }

  private void problem(
      HttpServerRequest req, Endpoint endpoint, long startNanos, TallyException e) {
    HttpServerResponse resp = req.response();
    if (!resp.headWritten()) {
      // a stream that failed before its first event answers as a plain problem
      resp.headers().remove(HttpHeaders.CACHE_CONTROL).remove(HttpHeaders.CONTENT_ENCODING);
      resp.setChunked(false);
    }
    Responses.problem(req, httpMetrics, endpoint, startNanos, e);
  }
}
