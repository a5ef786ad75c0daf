package dev.tally.resp;

import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One RESP listener on one event loop; the node deploys one per event loop on the same port, and
 * Vert.x spreads connections over them. Lifecycle owned by the Vert.x deployment.
 */
public final class RespServerVerticle extends VerticleBase {

  /** Most arguments of one command (MGET's keys, say). */
  static final int MAX_ARGS = 1_000;

  /** Largest bulk string: keys and amounts are short; this bounds a connection's buffer. */
  static final int MAX_BULK_BYTES = 64 * 1024;

  /** Longest inline command line. */
  static final int MAX_INLINE_BYTES = 64 * 1024;

  /** Most commands of one connection waiting for their replies before it stops reading. */
  static final int MAX_PIPELINE = 1_024;

  private final NetServerOptions options;
  private final RespCommands commands;
  private final ConcurrentLinkedQueue<NetServer> started;

  public RespServerVerticle(
      NetServerOptions options, RespCommands commands, ConcurrentLinkedQueue<NetServer> started) {
    this.options = options;
    this.commands = commands;
    this.started = started;
  }

  /** Options shared by every instance. */
  public static NetServerOptions options(String host, int port) {
    return new NetServerOptions().setHost(host).setPort(port).setTcpNoDelay(true);
  }

  @Override
  public Future<?> start() {
    return vertx
        .createNetServer(options)
        .connectHandler(
            socket ->
                new RespConnection(
                        socket,
                        commands,
                        new RespDecoder(MAX_ARGS, MAX_BULK_BYTES, MAX_INLINE_BYTES),
                        MAX_PIPELINE)
                    .start())
        .listen()
        .onSuccess(started::add);
  }
}
