package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.Slot;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * One node's view of the counters' shared state in Redis Cluster: pushes this writer's PN slots and
 * reads counters' totals. Thread-safe; open from construction until {@link #close()}, after which
 * every call fails.
 *
 * <p>Redis key layout (one hash per counter; post ids and codes in base 36, the writer id in hex):
 *
 * <pre>
 *   key  t:{&lt;postId&gt;}:&lt;code&gt;          e.g. post 812, code 1 → "t:{mk}:1"
 *        └┬┘ └────┬────┘ └─┬──┘
 *         │   hash tag:    counter code, so all counters of a post share one cluster slot
 *         │   the post
 *         └ tally namespace
 *   ┌───────────┬──────────────────────────────────────────────────┐
 *   │ field     │ value                                            │
 *   ├───────────┼──────────────────────────────────────────────────┤
 *   │ t         │ total = Σ (P − N) over all writer fields         │
 *   │ &lt;writer&gt;  │ "P:N", or just "P" when N = 0  (writer id, hex)   │
 *   └───────────┴──────────────────────────────────────────────────┘
 * </pre>
 *
 * Hex writer ids never spell {@code t}, so the total's field cannot clash with a writer's. A small
 * hash is stored by Redis as one listpack, so a counter costs one key plus a few bytes per writer.
 *
 * <p>A push runs a Lua script per counter (EVALSHA, falling back to EVAL when a node does not have
 * the script cached, e.g. after a failover or restart) that raises the writer's P and N to the
 * maximum of the stored and pushed values and adds the increase to {@code t}. Because the merge is
 * a maximum, a push may be retried, duplicated or overtaken by a newer one without changing the
 * result. Slot components must stay below 2<sup>53</sup> so Lua's double arithmetic is exact.
 *
 * <p>Concurrency: all commands go over one thread-safe Lettuce cluster connection; a call sends its
 * commands without waiting for replies (pipelined, one command per counter) and returns at once.
 * Replies complete on Lettuce's I/O threads: callers must not block in the returned stages'
 * callbacks.
 */
public final class RedisSlots implements AutoCloseable {

  /** Largest slot component the merge script handles exactly (Lua numbers are doubles). */
  public static final long MAX_COMPONENT = (1L << 53) - 1;

  /** Field of a counter's hash that holds its total. */
  public static final String TOTAL_FIELD = "t";

  static final String SCRIPT = loadScript();
  static final String SCRIPT_SHA = sha1Hex(SCRIPT);

  private final RedisClusterClient client;
  private final StatefulRedisClusterConnection<String, String> connection;
  private final RedisAdvancedClusterAsyncCommands<String, String> redis;
  private final String writerField;

  /**
   * Connects to a cluster without authentication or TLS through any of {@code seeds} ("host:port").
   *
   * @param writerId this node's stable writer id
   * @param timeout bound on every command and on connecting
   * @throws io.lettuce.core.RedisException when no seed answers
   */
  public RedisSlots(List<String> seeds, long writerId, Duration timeout) {
    this(RedisOptions.plain(seeds, timeout), writerId);
  }

  /**
   * Connects to the cluster as {@code options} say: through any of its seeds, authenticating as its
   * user and over TLS if asked, the same for every node it discovers ({@link RedisClients}).
   *
   * @param writerId this node's stable writer id
   * @throws RedisRefusedException when the cluster refuses the credentials or the TLS handshake
   *     fails (the message says which and what to check; it never holds the password): retrying
   *     cannot help
   * @throws io.lettuce.core.RedisConnectionException when no seed answers
   */
  public RedisSlots(RedisOptions options, long writerId) {
    this.writerField = writerField(writerId);
    this.client =
        RedisClients.create(
            options,
            ClusterClientOptions.builder()
                .timeoutOptions(TimeoutOptions.enabled(options.timeout()))
                .topologyRefreshOptions(
                    ClusterTopologyRefreshOptions.builder()
                        .enablePeriodicRefresh(Duration.ofSeconds(10))
                        .enableAllAdaptiveRefreshTriggers()
                        .build()));
    try {
      this.connection = client.connect();
    } catch (RuntimeException e) {
      client.shutdown();
      throw RedisClients.explain(e, options);
    }
    this.redis = connection.async();
  }

  /** The Redis key of a counter's hash. */
  public static String key(CounterId id) {
    return "t:{" + Long.toString(id.postId(), 36) + "}:" + Integer.toString(id.code(), 36);
  }

  /** The hash field under which {@code writerId}'s slot is stored. */
  public static String writerField(long writerId) {
    return Long.toHexString(writerId);
  }

  /** The stored form of a slot: "P:N", or "P" when N is 0. */
  public static String encode(Slot slot) {
    return slot.n() == 0 ? Long.toString(slot.p()) : slot.p() + ":" + slot.n();
  }

  /**
   * Merges this writer's {@code slots} into the counters {@code ids} (same order, same size): one
   * script call per counter, pipelined. Completes with each counter's total right after its merge
   * (same order) when Redis has applied every merge, or exceptionally with the first failure; a
   * failed push may simply be repeated.
   *
   * @throws IllegalArgumentException if the lists differ in size or a component exceeds {@link
   *     #MAX_COMPONENT}
   */
  public CompletionStage<long[]> push(List<CounterId> ids, List<Slot> slots) {
    if (ids.size() != slots.size()) {
      throw new IllegalArgumentException(ids.size() + " ids but " + slots.size() + " slots");
    }
    for (Slot s : slots) {
      if (s.p() > MAX_COMPONENT || s.n() > MAX_COMPONENT) {
        throw new IllegalArgumentException("slot component beyond 2^53-1: " + s);
      }
    }
    if (ids.isEmpty()) {
      return CompletableFuture.completedFuture(new long[0]);
    }
    @SuppressWarnings("unchecked")
    CompletableFuture<Long>[] merges = new CompletableFuture[ids.size()];
    for (int i = 0; i < ids.size(); i++) {
      merges[i] = merge(key(ids.get(i)), slots.get(i));
    }
    return CompletableFuture.allOf(merges)
        .thenApply(
            ignored -> {
              long[] totals = new long[merges.length];
              for (int i = 0; i < totals.length; i++) {
                totals[i] = merges[i].join();
              }
              return totals;
            });
  }

  private CompletableFuture<Long> merge(String key, Slot slot) {
    String[] keys = {key};
    String p = Long.toString(slot.p());
    String n = Long.toString(slot.n());
    CompletableFuture<Long> first =
        redis
            .<Long>evalsha(SCRIPT_SHA, ScriptOutputType.INTEGER, keys, writerField, p, n)
            .toCompletableFuture();
    return first
        .handle(
            (total, error) -> {
              if (error == null) {
                return CompletableFuture.completedFuture(total);
              }
              if (unwrap(error) instanceof RedisNoScriptException) {
                // the node has not cached the script (new, restarted or promoted): EVAL caches it
                return evalNow(keys, p, n);
              }
              return CompletableFuture.<Long>failedFuture(unwrap(error));
            })
        .thenCompose(f -> f);
  }

  private CompletableFuture<Long> evalNow(String[] keys, String p, String n) {
    return redis
        .<Long>eval(SCRIPT, ScriptOutputType.INTEGER, keys, writerField, p, n)
        .toCompletableFuture();
  }

  /**
   * The totals of {@code ids} as stored in Redis (0 for a counter Redis has no hash for), in the
   * order of {@code ids}.
   */
  public CompletionStage<Map<CounterId, Long>> totals(List<CounterId> ids) {
    List<CompletableFuture<String>> gets = new ArrayList<>(ids.size());
    for (CounterId id : ids) {
      gets.add(redis.hget(key(id), TOTAL_FIELD).toCompletableFuture());
    }
    return CompletableFuture.allOf(gets.toArray(CompletableFuture<?>[]::new))
        .thenApply(
            ignored -> {
              Map<CounterId, Long> totals = new LinkedHashMap<>();
              for (int i = 0; i < ids.size(); i++) {
                String v = gets.get(i).join();
                totals.put(ids.get(i), v == null ? 0L : Long.parseLong(v));
              }
              return totals;
            });
  }

  /**
   * What Redis holds of {@code ids} (same order): each counter's total and this writer's own part
   * of it, so that {@code total - own} is the other writers' share. One HMGET per counter,
   * pipelined.
   */
  public CompletionStage<View[]> views(List<CounterId> ids) {
    @SuppressWarnings("unchecked")
    CompletableFuture<List<KeyValue<String, String>>>[] gets = new CompletableFuture[ids.size()];
    for (int i = 0; i < gets.length; i++) {
      gets[i] = redis.hmget(key(ids.get(i)), TOTAL_FIELD, writerField).toCompletableFuture();
    }
    return CompletableFuture.allOf(gets)
        .thenApply(
            ignored -> {
              View[] views = new View[gets.length];
              for (int i = 0; i < views.length; i++) {
                List<KeyValue<String, String>> kv = gets[i].join();
                long total = kv.get(0).hasValue() ? Long.parseLong(kv.get(0).getValue()) : 0;
                Slot own = kv.get(1).hasValue() ? decode(kv.get(1).getValue()) : Slot.ZERO;
                views[i] = new View(total, own);
              }
              return views;
            });
  }

  /** A counter as Redis holds it: the total over all writers, and this writer's slot. */
  public record View(long total, Slot own) {

    /** The other writers' share of the total. */
    public long others() {
      return total - own.value();
    }
  }

  /** The slot of a stored writer field ("P:N" or "P"). */
  static Slot decode(String stored) {
    int colon = stored.indexOf(':');
    return colon < 0
        ? new Slot(Long.parseLong(stored), 0)
        : new Slot(
            Long.parseLong(stored.substring(0, colon)),
            Long.parseLong(stored.substring(colon + 1)));
  }

  /**
   * The cluster's data generation as this node can see it: for every primary, its node id and its
   * epoch marker (a random value stored once in one of its slots, created here if missing), sorted.
   * The fingerprint changes when a primary is replaced (failover, which may roll back recent
   * writes), when a primary lost its data (flush, restart without persistence) or when the cluster
   * is a new one; then every writer must push all its slots again.
   */
  public CompletionStage<String> fingerprint() {
    List<RedisClusterNode> primaries = new ArrayList<>();
    for (RedisClusterNode node : connection.getPartitions()) {
      if (node.getRole().isUpstream()
          && !node.is(RedisClusterNode.NodeFlag.FAIL)
          && !node.is(RedisClusterNode.NodeFlag.EVENTUAL_FAIL)
          && !node.getSlots().isEmpty()) {
        primaries.add(node);
      }
    }
    if (primaries.isEmpty()) {
      return CompletableFuture.failedFuture(
          new io.lettuce.core.RedisException("no primary serves any slot"));
    }
    primaries.sort(java.util.Comparator.comparing(RedisClusterNode::getNodeId));
    List<CompletableFuture<String>> markers = new ArrayList<>(primaries.size());
    String fresh = HexFormat.of().toHexDigits(new java.security.SecureRandom().nextLong());
    for (RedisClusterNode node : primaries) {
      String key = markerKey(node.getSlots().get(0));
      markers.add(
          redis
              .setGet(key, fresh, new SetArgs().nx())
              .toCompletableFuture()
              .thenApply(old -> old == null ? fresh : old));
    }
    return CompletableFuture.allOf(markers.toArray(CompletableFuture<?>[]::new))
        .thenApply(
            ignored -> {
              StringBuilder sb = new StringBuilder();
              for (int i = 0; i < primaries.size(); i++) {
                sb.append(primaries.get(i).getNodeId())
                    .append('=')
                    .append(markers.get(i).join())
                    .append(';');
              }
              return sb.toString();
            });
  }

  private static final java.util.concurrent.ConcurrentHashMap<Integer, String> MARKERS =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** A key that hashes to {@code slot}: found by trying tags, remembered per slot. */
  static String markerKey(int slot) {
    return MARKERS.computeIfAbsent(
        slot,
        s -> {
          for (long i = 0; ; i++) {
            String key = "tally:epoch:{" + Long.toString(i, 36) + "}";
            if (SlotHash.getSlot(key) == s) {
              return key;
            }
          }
        });
  }

  /**
   * Claims idempotency key {@code key} for {@code claim} unless someone holds it: completes with
   * null when this call claimed it (for {@code ttl}), else with the value already stored.
   */
  public CompletionStage<String> claim(String key, String claim, Duration ttl) {
    return redis
        .setGet(claimKey(key), claim, new SetArgs().nx().ex(ttl))
        .toCompletableFuture()
        .thenApply(old -> old);
  }

  /** Replaces the claim of {@code key} with {@code value}, now expiring after {@code ttl}. */
  public CompletionStage<Void> updateClaim(String key, String value, Duration ttl) {
    return redis
        .set(claimKey(key), value, new SetArgs().ex(ttl))
        .toCompletableFuture()
        .thenApply(ignored -> null);
  }

  /** Deletes the claim of {@code key} if it still holds {@code claim}. */
  public CompletionStage<Void> releaseClaim(String key, String claim) {
    String[] keys = {claimKey(key)};
    return redis
        .<Long>eval(RELEASE, ScriptOutputType.INTEGER, keys, claim)
        .toCompletableFuture()
        .thenApply(ignored -> null);
  }

  private static final String RELEASE =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
          + " return 0";

  /** Redis key of an idempotency key's claim. */
  static String claimKey(String key) {
    return "i:" + key;
  }

  /** Closes the connection and the client's threads; commands still in flight fail. */
  @Override
  public void close() {
    try {
      connection.close();
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private static Throwable unwrap(Throwable t) {
    while (t instanceof java.util.concurrent.CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static String loadScript() {
    try (InputStream in = RedisSlots.class.getResourceAsStream("merge-slot.lua")) {
      if (in == null) {
        throw new IllegalStateException("merge-slot.lua missing from the classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String sha1Hex(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JVM", e);
    }
  }
}
