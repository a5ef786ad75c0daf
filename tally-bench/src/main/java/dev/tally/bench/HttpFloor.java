package dev.tally.bench;

import dev.tally.http.HttpServerVerticle;
import dev.tally.loop.NetTransport;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * tally's HTTP stack with nothing behind it: a Vert.x server with a node's own server options on
 * one event loop, answering a PUT or POST with a count body once the request body is read, and any
 * other request at once. No routing, no engine, no disk: what an HTTP request alone costs on this
 * machine, so the ceiling a node's single writes and reads could reach, measured beside Redis and
 * the node in the same run ({@code bench/floor.sh}).
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar dev.tally.bench.HttpFloor --port 18182 [--host 127.0.0.1]
 * </pre>
 */
public final class HttpFloor implements AutoCloseable {

  /** A node's answer to a write, byte for byte the same length. */
  private static final byte[] BODY =
      "{\"count\":1,\"updated_at\":\"2026-11-23T06:09:06Z\"}".getBytes(StandardCharsets.US_ASCII);

  private static final CharSequence JSON = HttpHeaders.createOptimized("application/json");

  private final Vertx vertx;
  private final HttpServer server;

  private HttpFloor(Vertx vertx, HttpServer server) {
    this.vertx = vertx;
    this.server = server;
  }

  /** Starts the server on {@code host}:{@code port} (0: any free port). */
  public static HttpFloor start(String host, int port) throws Exception {
    // the node's own choice of socket transport (--transport auto), so that the floor stays the
    // node's HTTP stack
    Vertx vertx =
        Vertx.builder()
            .withTransport(NetTransport.AUTO.pick().vertx())
            .with(new VertxOptions().setEventLoopPoolSize(1))
            .build();
    try {
      HttpServer server =
          vertx
              .createHttpServer(
                  HttpServerVerticle.options(host, port, Duration.ofSeconds(60), null, null))
              .requestHandler(HttpFloor::handle)
              .listen()
              .await(10, TimeUnit.SECONDS);
      return new HttpFloor(vertx, server);
    } catch (Exception | Error e) {
      vertx.close();
      throw e;
    }
  }

  private static void handle(HttpServerRequest req) {
    if (req.method() == HttpMethod.PUT || req.method() == HttpMethod.POST) {
      req.body().onSuccess(body -> answer(req)).onFailure(e -> req.connection().close());
    } else {
      answer(req);
    }
  }

  private static void answer(HttpServerRequest req) {
    req.response().putHeader(HttpHeaders.CONTENT_TYPE, JSON).end(Buffer.buffer(BODY));
  }

  public int port() {
    return server.actualPort();
  }

  @Override
  public void close() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  public static void main(String[] args) throws Exception {
    var o = LoadGenerator.parse(args);
    String host = o.getOrDefault("host", "127.0.0.1");
    int port = Integer.parseInt(o.getOrDefault("port", "18182"));
    HttpFloor floor = start(host, port);
    System.out.println("http floor listening on " + host + ":" + floor.port());
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    floor.close();
                  } catch (Exception e) {
                    // exiting anyway
                  }
                }));
    Thread.currentThread().join();
  }
}
