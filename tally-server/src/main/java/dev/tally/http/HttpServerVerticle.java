package dev.tally.http;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One HTTP server on one event loop; the node deploys one per event loop on the same port, and
 * Vert.x spreads connections over them. Lifecycle owned by the Vert.x deployment.
 */
public final class HttpServerVerticle extends VerticleBase {

  private final HttpServerOptions options;
  private final HttpApi api;
  private final ConcurrentLinkedQueue<HttpServer> started;

  public HttpServerVerticle(
      HttpServerOptions options, HttpApi api, ConcurrentLinkedQueue<HttpServer> started) {
    this.options = options;
    this.api = api;
    this.started = started;
  }

  /**
   * Server options shared by every instance: limits, compression, keep-alive, idle timeout, and
   * HTTPS when a PEM certificate and key are given (else null).
   */
  public static HttpServerOptions options(
      String host,
      int port,
      Duration idleTimeout,
      java.nio.file.Path tlsCert,
      java.nio.file.Path tlsKey) {
    HttpServerOptions o =
        new HttpServerOptions()
            .setHost(host)
            .setPort(port)
            .setCompressionSupported(true)
            .setCompressionLevel(1)
            .setMaxInitialLineLength(16 * 1024)
            .setMaxHeaderSize(16 * 1024)
            .setTcpNoDelay(true)
            // tally speaks no WebSocket: keep the extension handler out of every pipeline
            .setPerFrameWebSocketCompressionSupported(false)
            .setPerMessageWebSocketCompressionSupported(false)
            .setIdleTimeout((int) Math.max(1, idleTimeout.toSeconds()))
            .setHandle100ContinueAutomatically(true);
    if (tlsCert != null) {
      o.setSsl(true)
          .setKeyCertOptions(
              new io.vertx.core.net.PemKeyCertOptions()
                  .setCertPath(tlsCert.toString())
                  .setKeyPath(tlsKey.toString()));
    }
    return o;
  }

  @Override
  public Future<?> start() {
    return vertx.createHttpServer(options).requestHandler(api).listen().onSuccess(started::add);
  }
}
