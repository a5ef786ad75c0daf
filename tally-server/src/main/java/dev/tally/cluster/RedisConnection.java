package dev.tally.cluster;

import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One region's Redis Cluster as the node's components share it: one Lettuce cluster client, one
 * command connection and, for the home region, one pub/sub connection. Every component of a region
 * (slot pushes and reads, idempotency claims, the live bus, presence) sends over these.
 * Thread-safe; owned by {@link RedisSlots}, which closes it.
 *
 * <p>Connecting: {@link #open} tries once at start. A refusal (credentials, TLS, another layout:
 * {@link RedisClients#refuses}) throws; an unreachable cluster, when {@code inBackground}, leaves
 * the connection to a background thread that tries every second, and meanwhile every {@link #call}
 * fails with a {@link RedisConnectionException}, which callers treat as Redis being unreachable.
 * Components that need to act once connected (subscribe) register with {@link #whenConnected}.
 *
 * <p>Fields and values are raw bytes: the codec is ISO-8859-1, one char per byte.
 */
public final class RedisConnection implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RedisConnection.class);

  /** Bytes as chars one to one. */
  static final Latin1Codec LATIN1 = Latin1Codec.INSTANCE;

  /** Checks a fresh connection before it is published; throws to refuse it. */
  @FunctionalInterface
  interface Check {
    void check(RedisAdvancedClusterAsyncCommands<String, String> redis);
  }

  private final RedisOptions options;
  private final RedisClusterClient client;
  private final boolean withPubSub;
  private final Check check;
  private final List<Consumer<RedisConnection>> onConnect = new CopyOnWriteArrayList<>();
  private volatile StatefulRedisClusterConnection<String, String> connection;
  private volatile RedisAdvancedClusterAsyncCommands<String, String> commands;
  private volatile StatefulRedisClusterPubSubConnection<String, String> pubsub;
  private volatile String refusal;
  private volatile boolean closed;

  private RedisConnection(RedisOptions options, boolean withPubSub, Check check) {
    this.options = options;
    this.withPubSub = withPubSub;
    this.check = check;
    this.client = RedisClients.create(options);
  }

  /**
   * Connects to the cluster {@code options} name, checking each fresh connection with {@code
   * check}.
   *
   * @param withPubSub also open a pub/sub connection (the home region's live bus)
   * @param inBackground when no seed answers, keep trying in the background instead of throwing
   * @throws RuntimeException a refusal, always; an unreachable cluster unless {@code inBackground}
   */
  static RedisConnection open(
      RedisOptions options, boolean withPubSub, boolean inBackground, Check check) {
    RedisConnection c = new RedisConnection(options, withPubSub, check);
    try {
      c.connect();
    } catch (RuntimeException e) {
      if (!inBackground || RedisClients.refuses(e)) {
        c.client.shutdown();
        throw e;
      }
      log.warn(
          "Redis Cluster at {} is not reachable ({}): serving without it, connecting in the"
              + " background",
          c.seeds(),
          e.getMessage());
      RedisClients.connectInBackground(
          "tally-redis-connect",
          "Redis Cluster at " + c.seeds(),
          () -> c.closed,
          () -> {
            c.connect();
            if (c.closed) {
              c.closeConnections();
            }
          },
          refused -> c.refusal = refused.getMessage());
    }
    return c;
  }

  private String seeds() {
    return String.join(",", options.seeds());
  }

  /** One attempt: connects, checks, then publishes the connections and tells the listeners. */
  private void connect() {
    StatefulRedisClusterConnection<String, String> c;
    StatefulRedisClusterPubSubConnection<String, String> p = null;
    try {
      c = client.connect(LATIN1);
    } catch (RuntimeException e) {
      throw RedisClients.explain(e, options);
    }
    try {
      check.check(c.async());
      if (withPubSub) {
        p = client.connectPubSub(LATIN1);
      }
    } catch (RuntimeException e) {
      c.close();
      throw RedisClients.explain(e, options);
    }
    this.pubsub = p;
    this.commands = c.async();
    this.connection = c;
    for (Consumer<RedisConnection> listener : onConnect) {
      listener.accept(this);
    }
  }

  /**
   * Runs {@code listener} once connected: at once if already connected, else right after the
   * background connection is made (on its thread). For components that subscribe.
   */
  void whenConnected(Consumer<RedisConnection> listener) {
    onConnect.add(listener);
    if (connection != null) {
      listener.accept(this);
    }
  }

  /** {@code call} on the command connection, or a failed stage while there is none yet. */
  <T> CompletionStage<T> call(
      Function<RedisAdvancedClusterAsyncCommands<String, String>, CompletionStage<T>> call) {
    RedisAdvancedClusterAsyncCommands<String, String> redis = this.commands;
    return redis == null ? notConnected() : call.apply(redis);
  }

  /** The command connection, or null while not connected. */
  StatefulRedisClusterConnection<String, String> connection() {
    return connection;
  }

  /** The pub/sub connection, or null while not connected (or not asked for). */
  StatefulRedisClusterPubSubConnection<String, String> pubsub() {
    return pubsub;
  }

  /** The client, for topology refreshes. */
  RedisClusterClient client() {
    return client;
  }

  /** The bound on every command. */
  Duration timeout() {
    return options.timeout();
  }

  /** A failed stage for calls made before the connection exists. */
  <T> CompletableFuture<T> notConnected() {
    String why = refusal;
    return CompletableFuture.failedFuture(
        new RedisConnectionException(
            why != null
                ? "the Redis Cluster refused this node: " + why
                : "not connected to the Redis Cluster at " + seeds() + " yet"));
  }

  /** Closes the connections and the client's threads; commands in flight fail. */
  @Override
  public void close() {
    closed = true;
    closeConnections();
  }

  private void closeConnections() {
    try {
      StatefulRedisClusterPubSubConnection<String, String> p = pubsub;
      StatefulRedisClusterConnection<String, String> c = connection;
      if (p != null) {
        p.close();
      }
      if (c != null) {
        c.close();
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}
