package dev.tally.cluster;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslOptions;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLException;

/**
 * Makes the Lettuce cluster clients of every tally component that talks to Redis ({@link
 * RedisSlots}, the live bus), so they all authenticate and use TLS the same way. Stateless; the
 * caller owns, connects and shuts down each client.
 *
 * <p>Every seed URI carries the user and password (sent with HELLO, or AUTH), TLS and full peer
 * verification. Lettuce copies these settings from the seed that answered to every node it then
 * discovers from CLUSTER NODES, and connects to the address and port each node announces: with TLS,
 * the nodes must run {@code tls-cluster yes} so they announce their TLS ports (docs/security.md).
 */
public final class RedisClients {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RedisClients.class);

  /** How long a background connection waits between attempts. */
  private static final java.time.Duration RECONNECT_PAUSE = java.time.Duration.ofSeconds(1);

  /** How often a background connection says it still cannot reach Redis. */
  private static final java.time.Duration STILL_UNREACHABLE_LOG = java.time.Duration.ofSeconds(30);

  private RedisClients() {}

  /**
   * The client options every tally connection uses: {@code options}' timeout on every command, and
   * a topology refreshed every 10 s and at once on redirects and reconnects (failovers).
   */
  public static RedisClusterClient create(RedisOptions options) {
    return create(
        options,
        ClusterClientOptions.builder()
            .timeoutOptions(io.lettuce.core.TimeoutOptions.enabled(options.timeout()))
            .topologyRefreshOptions(
                io.lettuce.core.cluster.ClusterTopologyRefreshOptions.builder()
                    .enablePeriodicRefresh(java.time.Duration.ofSeconds(10))
                    .enableAllAdaptiveRefreshTriggers()
                    .build()));
  }

  /**
   * A cluster client, not yet connected, for {@code options}, with {@code clientOptions} plus the
   * SSL options TLS needs (the CA of {@link RedisOptions#caFile()}, or the JVM's trust store).
   *
   * @throws IllegalArgumentException if the CA file cannot be read
   */
  public static RedisClusterClient create(
      RedisOptions options, ClusterClientOptions.Builder clientOptions) {
    List<RedisURI> uris = new ArrayList<>(options.seeds().size());
    for (int i = 0; i < options.seeds().size(); i++) {
      RedisURI.Builder uri =
          RedisURI.builder()
              .withHost(options.host(i))
              .withPort(options.port(i))
              .withTimeout(options.timeout())
              .withSsl(options.tls());
      if (options.tls()) {
        // FULL: the certificate chains up to a trusted CA and names the address connected to
        uri.withVerifyPeer(SslVerifyMode.FULL);
      }
      if (options.hasPassword()) {
        // Lettuce keeps the array it is given: a copy per URI, never wiped here
        if (options.user() == null) {
          uri.withPassword(options.password());
        } else {
          uri.withAuthentication(options.user(), options.password());
        }
      }
      uris.add(uri.build());
    }
    if (options.tls()) {
      SslOptions.Builder ssl =
          SslOptions.builder().jdkSslProvider().handshakeTimeout(options.timeout());
      if (options.caFile() != null) {
        ssl.trustManager(PemTrust.load(options.caFile()));
      }
      clientOptions.sslOptions(ssl.build());
    }
    RedisClusterClient client = RedisClusterClient.create(uris);
    client.setOptions(clientOptions.build());
    return client;
  }

  /**
   * {@code e}, a failure to connect, as a {@link RedisRefusedException} saying what to check when
   * Redis refused the credentials or the TLS handshake failed; other failures unchanged.
   */
  public static RuntimeException explain(RuntimeException e, RedisOptions options) {
    String who = "user '" + (options.user() == null ? "default" : options.user()) + "'";
    // Lettuce reports each seed's failure as a cause or a suppressed exception: look at them all
    ArrayDeque<Throwable> todo = new ArrayDeque<>(List.of(e));
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    while (!todo.isEmpty()) {
      Throwable t = todo.poll();
      if (!seen.add(t)) {
        continue;
      }
      if (t.getCause() != null) {
        todo.add(t.getCause());
      }
      todo.addAll(List.of(t.getSuppressed()));
      String m = String.valueOf(t.getMessage());
      if (t instanceof RedisCommandExecutionException
          && (m.startsWith("WRONGPASS") || m.startsWith("NOAUTH") || m.startsWith("NOPERM"))) {
        return new RedisRefusedException(
            "Redis Cluster refused "
                + who
                + ": "
                + m
                + " (check --redis-user, the password and the user's ACL rule)",
            e);
      }
      if (t instanceof SSLException) {
        return new RedisRefusedException(
            "TLS with Redis Cluster failed: "
                + m
                + " (check --redis-ca-file, that the nodes' certificates name the addresses"
                + " they announce, and that the nodes run tls-cluster yes)",
            e);
      }
    }
    return e;
  }

  /**
   * True for a failure that trying again cannot mend: refused credentials or TLS ({@link
   * RedisRefusedException}), or a cluster that holds counters in another layout ({@link
   * IllegalStateException}).
   */
  public static boolean refuses(RuntimeException e) {
    return e instanceof RedisRefusedException || e instanceof IllegalStateException;
  }

  /** A single daemon thread named {@code name} for a component's periodic rounds. */
  static java.util.concurrent.ScheduledExecutorService scheduler(String name) {
    return java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
        r -> {
          Thread t = new Thread(r, name);
          t.setDaemon(true);
          return t;
        });
  }

  /**
   * For a component that started while Redis was unreachable: on a daemon thread named {@code
   * name}, runs {@code attempt} every second until it returns, {@code stopped} turns true, or it
   * fails with a refusal ({@link #refuses}), which goes to {@code onRefusal} and ends the attempts.
   * Says every 30 s that {@code what} still cannot connect.
   */
  static void connectInBackground(
      String name,
      String what,
      java.util.function.BooleanSupplier stopped,
      Runnable attempt,
      java.util.function.Consumer<RuntimeException> onRefusal) {
    Thread.ofPlatform()
        .daemon()
        .name(name)
        .start(
            () -> {
              long since = System.nanoTime();
              long warned = since;
              while (!stopped.getAsBoolean()) {
                try {
                  Thread.sleep(RECONNECT_PAUSE);
                } catch (InterruptedException e) {
                  return;
                }
                try {
                  attempt.run();
                  log.info("{}: connected to Redis", what);
                  return;
                } catch (RuntimeException e) {
                  if (refuses(e)) {
                    log.error(
                        "{}: Redis refuses this node; not trying again: {}", what, e.getMessage());
                    onRefusal.accept(e);
                    return;
                  }
                  if (System.nanoTime() - warned > STILL_UNREACHABLE_LOG.toNanos()) {
                    warned = System.nanoTime();
                    log.warn(
                        "{}: Redis still not reachable after {} s: {}",
                        what,
                        java.time.Duration.ofNanos(warned - since).toSeconds(),
                        e.getMessage());
                  }
                }
              }
            });
  }
}
