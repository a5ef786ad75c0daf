package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.counter.Varint;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.nio.charset.StandardCharsets;
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
 * reads counters' totals. Thread-safe; open from construction (or, made by {@link #connecting},
 * once its background connection is made) until {@link #close()}, after which every call fails.
 *
 * <p>Redis layout: counters are spread over a fixed number of bucket hashes (--redis-buckets), so
 * that each Redis key holds about a hundred counters and its fixed cost (≈ 100 bytes) is shared. A
 * small hash is one listpack, and a counter then costs one field and one value in it:
 *
 * <pre>
 *   key    t:{&lt;bucket&gt;}          bucket = mix(post id) mod buckets, base 36; hash tag = the bucket,
 *                                 so a post's counters share one key and one cluster slot
 *   field  9 bytes                 the counter id: post id (8, big-endian) and code (1)
 *   value  varint                  the counter's last write time over all writers, in seconds
 *                                  since 2020-01-01 (unsigned LEB128)
 *          per writer: 8 bytes     the writer id, then P and N as unsigned LEB128 varints
 * </pre>
 *
 * The total is Σ (P − N) over a value's writers, computed by readers; one writer with small counts
 * costs 14–16 bytes of value. The record format is recorded with the bucket count in {@code
 * tally:layout}. Fields and values are raw bytes, so the connection uses an ISO-8859-1 codec (one
 * char per byte). Every node must use the same bucket count: it is recorded in Redis ({@code
 * tally:layout}) by the first node, and a node with another count refuses to start.
 *
 * <p>A push groups its counters by the primary that serves their buckets and runs one Lua script
 * call per primary and {@link #MAX_COUNTERS_PER_CALL} counters ({@code merge-slots.lua}, flagged
 * {@code allow-cross-slot-keys}; EVALSHA, falling back to EVAL when a node does not have the script
 * cached, e.g. after a failover or restart). The script raises the writer's P and N to the maximum
 * of the stored and pushed values, and the counter's time to the later of the two. Because the
 * merge is a maximum, a push may be retried, duplicated or overtaken by a newer one without
 * changing the result. A call that Redis refuses because a key is not served where it was sent (a
 * topology change, slots migrating) changes nothing; its counters are then pushed one per call,
 * which Lettuce redirects. Slot components must stay below 2<sup>53</sup> so Lua's double
 * arithmetic is exact.
 *
 * <p>Concurrency: all commands go over one thread-safe Lettuce cluster connection; a call sends its
 * commands without waiting for replies (pipelined) and returns at once. Replies complete on
 * Lettuce's I/O threads: callers must not block in the returned stages' callbacks.
 */
public final class RedisSlots implements AutoCloseable {

  /** Largest slot component the merge script handles exactly (Lua numbers are doubles). */
  public static final long MAX_COMPONENT = (1L << 53) - 1;

  /** Buckets when none are configured: about 100 counters per bucket at 6.5 million counters. */
  public static final int DEFAULT_BUCKETS = 65_536;

  /** Key recording the layout (bucket count) every node must share. */
  static final String LAYOUT_KEY = "tally:layout";

  static final LuaScript MERGE = LuaScript.load("merge-slots.lua");

  /** Most counters merged by one script call: bounds how long one call holds a Redis node. */
  static final int MAX_COUNTERS_PER_CALL = 256;

  static final LuaScript READ = LuaScript.load("read-records.lua");

  /** Fewest counters read from Redis by script calls rather than one HGET each. */
  static final int BULK_READ_MIN = 8;

  /** Most counters read by one script call: bounds how long one call holds a Redis node. */
  static final int MAX_COUNTERS_PER_READ = 500;

  /** The record format this code reads and writes; part of the recorded layout. */
  static final int RECORD_FORMAT = 2;

  /** Record times are seconds since this instant (2020-01-01T00:00:00Z), to keep them short. */
  static final long TIME_BASE_SECOND = 1_577_836_800L;

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RedisSlots.class);

  private final RedisConnection redis;
  private final String writerBytes;
  private final long writerId;
  private final int buckets;

  /**
   * Connects to a cluster without authentication or TLS through any of {@code seeds} ("host:port").
   *
   * @param writerId this node's stable writer id
   * @param timeout bound on every command and on connecting
   * @throws io.lettuce.core.RedisException when no seed answers
   */
  public RedisSlots(List<String> seeds, long writerId, Duration timeout) {
    this(RedisOptions.plain(seeds, timeout), writerId, DEFAULT_BUCKETS);
  }

  /** {@link #RedisSlots(RedisOptions, long, int)} with {@link #DEFAULT_BUCKETS}. */
  public RedisSlots(RedisOptions options, long writerId) {
    this(options, writerId, DEFAULT_BUCKETS);
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
  public RedisSlots(RedisOptions options, long writerId, int buckets) {
    this(options, writerId, buckets, false);
  }

  /**
   * Like {@link #RedisSlots(RedisOptions, long, int)}, except that a node may start while Redis is
   * unreachable: when no seed answers, the instance returned keeps connecting in the background
   * (every second) and meanwhile fails every call with a {@link
   * io.lettuce.core.RedisConnectionException}, which callers already handle as Redis being
   * unreachable. A refusal (credentials, TLS, another layout) still throws when Redis answers at
   * once; found later, it ends the attempts and is logged, and calls keep failing with it.
   */
  public static RedisSlots connecting(RedisOptions options, long writerId, int buckets) {
    return new RedisSlots(options, writerId, buckets, true, false);
  }

  /**
   * Like {@link #connecting}, for the home region: its connection also carries the live bus and
   * presence ({@link #connection()}), so it opens a pub/sub connection too.
   */
  public static RedisSlots connectingHome(RedisOptions options, long writerId, int buckets) {
    return new RedisSlots(options, writerId, buckets, true, true);
  }

  private RedisSlots(RedisOptions options, long writerId, int buckets, boolean inBackground) {
    this(options, writerId, buckets, inBackground, true);
  }

  private RedisSlots(
      RedisOptions options, long writerId, int buckets, boolean inBackground, boolean withPubSub) {
    if (buckets < 1 || buckets > MAX_BUCKETS) {
      throw new IllegalArgumentException("buckets must be 1.." + MAX_BUCKETS + ", got " + buckets);
    }
    this.writerBytes = writerBytes(writerId);
    this.writerId = writerId;
    this.buckets = buckets;
    this.redis =
        RedisConnection.open(
            options, withPubSub, inBackground, c -> checkLayout(c, options.timeout()));
  }

  /** The region's shared connection, for the components that use the same Redis Cluster. */
  public RedisConnection connection() {
    return redis;
  }

  /** {@code call} on the connection, or a failed stage while there is none yet. */
  private <T> CompletionStage<T> withRedis(
      java.util.function.Function<
              RedisAdvancedClusterAsyncCommands<String, String>, CompletionStage<T>>
          call) {
    return redis.call(call);
  }

  private <T> CompletableFuture<T> notConnected() {
    return redis.notConnected();
  }

  /** Most buckets: keys stay short and a node's fingerprint work small. */
  public static final int MAX_BUCKETS = 1 << 24;

  /** Records this node's bucket count, or refuses one that differs from the recorded one. */
  private void checkLayout(
      RedisAdvancedClusterAsyncCommands<String, String> redis, Duration timeout) {
    String mine = layout(buckets);
    String recorded;
    try {
      recorded =
          redis
              .setGet(LAYOUT_KEY, mine, new SetArgs().nx())
              .toCompletableFuture()
              .get(timeout.toMillis() * 2, java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new io.lettuce.core.RedisException("cannot read " + LAYOUT_KEY + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new io.lettuce.core.RedisException("interrupted", e);
    }
    boolean retired;
    try {
      retired =
          redis
              .sismember(WriterRetirement.RETIRED_KEY, writerField(writerId))
              .toCompletableFuture()
              .get(timeout.toMillis() * 2, java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new io.lettuce.core.RedisException(
          "cannot read " + WriterRetirement.RETIRED_KEY + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new io.lettuce.core.RedisException("interrupted", e);
    }
    if (retired) {
      throw new IllegalStateException(
          "this node's writer id "
              + writerField(writerId)
              + " was retired (tally retire-writer) and must not write again: start the node on"
              + " a fresh data directory, which makes it a new writer");
    }
    if (recorded != null && !recorded.contains(",record=")) {
      throw new IllegalStateException(
          "this Redis Cluster holds counters in the record format of an older tally ("
              + recorded
              + "): flush it (FLUSHALL on every primary) and every node pushes its counters again"
              + " in the new format (docs/cluster.md, Upgrading)");
    }
    if (recorded != null && !recorded.equals(mine)) {
      throw new IllegalStateException(
          "this Redis Cluster holds counters in "
              + recorded
              + " but this node is set to "
              + mine
              + ": every node must use the same --redis-buckets");
    }
  }

  /** The layout recorded in {@link #LAYOUT_KEY}: bucket count and record format. */
  static String layout(int buckets) {
    return "buckets=" + buckets + ",record=" + RECORD_FORMAT;
  }

  /** The bucket hash holding {@code id}, for {@code buckets} buckets. */
  public static String key(CounterId id, int buckets) {
    long h = id.postId() * 0x9E3779B97F4A7C15L;
    h ^= h >>> 29;
    return bucketKey((int) Math.floorMod(h, (long) buckets));
  }

  /** The hash of bucket {@code bucket}. */
  static String bucketKey(int bucket) {
    return "t:{" + Integer.toString(bucket, 36) + "}";
  }

  /** The bucket hash holding {@code id}. */
  public String key(CounterId id) {
    return key(id, buckets);
  }

  /**
   * A counter's slot as merge-slots.lua takes it, one char per byte: its field (9 bytes), P and N
   * (8 bytes each, big-endian) and the record time (4 bytes, big-endian).
   */
  static String slotArgument(CounterId id, CounterValue v) {
    byte[] b = new byte[CounterId.ENCODED_LENGTH + 20];
    java.nio.ByteBuffer.wrap(b)
        .put(id.toBytes())
        .putLong(v.slot().p())
        .putLong(v.slot().n())
        .putInt((int) Math.min(0xFFFF_FFFFL, recordTime(v.updatedAtSecond())));
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  /** The field of {@code id} in its bucket: its 9 bytes, one char per byte. */
  public static String field(CounterId id) {
    return new String(id.toBytes(), StandardCharsets.ISO_8859_1);
  }

  /** A counter's name in logs and idempotency claims: post and code in base 36. */
  public static String counterName(CounterId id) {
    return Long.toString(id.postId(), 36) + ":" + Integer.toString(id.code(), 36);
  }

  /** A writer's name in logs and claims: its id in hex. */
  public static String writerField(long writerId) {
    return Long.toHexString(writerId);
  }

  /** A writer's id as stored in values: 8 bytes big-endian, one char per byte. */
  static String writerBytes(long writerId) {
    char[] c = new char[8];
    for (int i = 7; i >= 0; i--) {
      c[i] = (char) (writerId & 0xFF);
      writerId >>>= 8;
    }
    return new String(c);
  }

  /** A stored record: the time, then every writer's P and N, in the format the script writes. */
  static String encode(long updatedAtSecond, Map<Long, Slot> writers) {
    StringBuilder sb = new StringBuilder();
    Varint.put(sb, recordTime(updatedAtSecond));
    for (Map.Entry<Long, Slot> e : writers.entrySet()) {
      sb.append(writerBytes(e.getKey()));
      Varint.put(sb, e.getValue().p());
      Varint.put(sb, e.getValue().n());
    }
    return sb.toString();
  }

  /** A write time as records keep it: seconds since {@link #TIME_BASE_SECOND}, never negative. */
  static long recordTime(long epochSecond) {
    return Math.max(0, epochSecond - TIME_BASE_SECOND);
  }

  /** Decodes a stored record (one char per byte). */
  static StoredCounter decode(String value) {
    int[] pos = {0};
    long time = Varint.get(value, pos);
    long[] entries = new long[3 * 2];
    int n = 0;
    while (pos[0] < value.length()) {
      long w = 0;
      for (int k = 0; k < 8; k++) {
        w = (w << 8) | (value.charAt(pos[0]++) & 0xFF);
      }
      if (n + 3 > entries.length) {
        entries = java.util.Arrays.copyOf(entries, entries.length * 2);
      }
      entries[n++] = w;
      entries[n++] = Varint.get(value, pos);
      entries[n++] = Varint.get(value, pos);
    }
    return new StoredCounter(
        time == 0 ? 0 : time + TIME_BASE_SECOND, java.util.Arrays.copyOf(entries, n));
  }

  /**
   * Merges this writer's {@code values} into the counters {@code ids} (same order, same size): one
   * script call per primary and {@link #MAX_COUNTERS_PER_CALL} counters, pipelined. Completes when
   * Redis has applied every merge, or exceptionally with the first failure; a failed push may
   * simply be repeated.
   *
   * @throws IllegalArgumentException if the lists differ in size or a component exceeds {@link
   *     #MAX_COMPONENT}
   */
  public CompletionStage<Void> push(List<CounterId> ids, List<CounterValue> values) {
    if (ids.size() != values.size()) {
      throw new IllegalArgumentException(ids.size() + " ids but " + values.size() + " values");
    }
    for (CounterValue v : values) {
      if (v.slot().p() > MAX_COMPONENT || v.slot().n() > MAX_COMPONENT) {
        throw new IllegalArgumentException("slot component beyond 2^53-1: " + v.slot());
      }
    }
    if (ids.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    StatefulRedisClusterConnection<String, String> c = redis.connection();
    if (c == null) {
      return notConnected();
    }
    return mergeAll(c, ids, values);
  }

  private CompletionStage<Void> mergeAll(
      StatefulRedisClusterConnection<String, String> c,
      List<CounterId> ids,
      List<CounterValue> values) {
    RedisAdvancedClusterAsyncCommands<String, String> redis = c.async();
    String[] keys = keys(ids);
    List<CompletableFuture<Void>> calls = new ArrayList<>();
    for (List<Integer> group : byPrimary(c, keys)) {
      for (int from = 0; from < group.size(); from += MAX_COUNTERS_PER_CALL) {
        List<Integer> chunk =
            group.subList(from, Math.min(group.size(), from + MAX_COUNTERS_PER_CALL));
        CompletableFuture<Void> call = merge(redis, ids, values, keys, chunk);
        // a single counter's call is routed by its own key, which the client redirects itself
        calls.add(
            chunk.size() == 1
                ? call
                : oneByOneIfMisrouted(
                    call, chunk, i -> merge(redis, ids, values, keys, List.of(i))));
      }
    }
    return CompletableFuture.allOf(calls.toArray(CompletableFuture<?>[]::new));
  }

  private String[] keys(List<CounterId> ids) {
    String[] keys = new String[ids.size()];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = key(ids.get(i));
    }
    return keys;
  }

  /**
   * The indexes of {@code keys} grouped by the primary serving each key's slot, as the connection
   * knows the topology; keys of a slot it knows no owner of group together.
   */
  private static java.util.Collection<List<Integer>> byPrimary(
      StatefulRedisClusterConnection<String, String> c, String[] keys) {
    io.lettuce.core.cluster.models.partitions.Partitions partitions = c.getPartitions();
    Map<RedisClusterNode, List<Integer>> byNode = new java.util.HashMap<>();
    for (int i = 0; i < keys.length; i++) {
      RedisClusterNode node = partitions.getPartitionBySlot(SlotHash.getSlot(keys[i]));
      byNode.computeIfAbsent(node, n -> new ArrayList<>()).add(i);
    }
    return byNode.values();
  }

  /** True for Redis's refusals of a call whose keys are not all served by the node it reached. */
  static boolean misrouted(Throwable error) {
    Throwable t = LuaScript.unwrap(error);
    if (!(t instanceof io.lettuce.core.RedisCommandExecutionException)) {
      return false;
    }
    String m = String.valueOf(t.getMessage());
    return m.contains("CROSSSLOT")
        || m.startsWith("MOVED")
        || m.startsWith("ASK")
        || m.startsWith("TRYAGAIN")
        || m.contains("non local key")
        || m.contains("non-local key")
        || m.contains("hash to the same slot");
  }

  private CompletableFuture<Void> merge(
      RedisAdvancedClusterAsyncCommands<String, String> redis,
      List<CounterId> ids,
      List<CounterValue> values,
      String[] allKeys,
      List<Integer> which) {
    // only the first bucket is declared (it routes the call): see merge-slots.lua
    String[] keys = {allKeys[which.get(0)]};
    String[] args = new String[1 + 2 * which.size()];
    args[0] = writerBytes;
    for (int k = 0; k < which.size(); k++) {
      int i = which.get(k);
      args[2 * k + 1] = allKeys[i];
      args[2 * k + 2] = slotArgument(ids.get(i), values.get(i));
    }
    return MERGE.<Long>run(redis, ScriptOutputType.INTEGER, keys, args).thenApply(changed -> null);
  }

  /**
   * The totals of {@code ids} as stored in Redis (0 for a counter Redis has no record of), in the
   * order of {@code ids}.
   */
  public CompletionStage<Map<CounterId, Long>> totals(List<CounterId> ids) {
    return records(ids)
        .thenApply(
            records -> {
              Map<CounterId, Long> totals = new LinkedHashMap<>();
              for (int i = 0; i < ids.size(); i++) {
                totals.put(ids.get(i), records[i].total());
              }
              return totals;
            });
  }

  /**
   * What Redis holds of {@code ids} (same order): every writer's slot and the last write time, or
   * {@link StoredCounter#ABSENT}. A few counters: one HGET each, pipelined; from {@link
   * #BULK_READ_MIN} on, grouped by the primary serving their buckets, one script call per primary
   * and {@link #MAX_COUNTERS_PER_READ} counters ({@code read-records.lua}): a sweep or a refresh of
   * thousands of followed counters then costs both sides a few calls instead of a command each.
   */
  public CompletionStage<StoredCounter[]> records(List<CounterId> ids) {
    return withRedis(redis -> records(redis, ids));
  }

  private CompletionStage<StoredCounter[]> records(
      RedisAdvancedClusterAsyncCommands<String, String> redis, List<CounterId> ids) {
    String[] values = new String[ids.size()];
    String[] keys = keys(ids);
    List<CompletableFuture<Void>> reads = new ArrayList<>();
    if (ids.size() < BULK_READ_MIN) {
      for (int i = 0; i < keys.length; i++) {
        reads.add(hget(redis, ids, keys, values, i));
      }
    } else {
      for (List<Integer> group : byPrimary(redis.getStatefulConnection(), keys)) {
        for (int from = 0; from < group.size(); from += MAX_COUNTERS_PER_READ) {
          reads.add(
              readChunk(
                  redis,
                  ids,
                  keys,
                  values,
                  group.subList(from, Math.min(group.size(), from + MAX_COUNTERS_PER_READ))));
        }
      }
    }
    return CompletableFuture.allOf(reads.toArray(CompletableFuture<?>[]::new))
        .thenApply(
            ignored -> {
              StoredCounter[] records = new StoredCounter[values.length];
              for (int i = 0; i < records.length; i++) {
                records[i] = values[i] == null ? StoredCounter.ABSENT : decode(values[i]);
              }
              return records;
            });
  }

  private CompletableFuture<Void> hget(
      RedisAdvancedClusterAsyncCommands<String, String> redis,
      List<CounterId> ids,
      String[] keys,
      String[] values,
      int i) {
    return redis
        .hget(keys[i], field(ids.get(i)))
        .toCompletableFuture()
        .thenAccept(v -> values[i] = v);
  }

  /** One script call for the counters {@code which}; where not all are served there, one each. */
  private CompletableFuture<Void> readChunk(
      RedisAdvancedClusterAsyncCommands<String, String> redis,
      List<CounterId> ids,
      String[] keys,
      String[] values,
      List<Integer> which) {
    String[] args = new String[2 * which.size()];
    for (int k = 0; k < which.size(); k++) {
      args[2 * k] = keys[which.get(k)];
      args[2 * k + 1] = field(ids.get(which.get(k)));
    }
    CompletableFuture<Void> call =
        READ.<List<Object>>run(
                redis, ScriptOutputType.MULTI, new String[] {keys[which.get(0)]}, args)
            .thenAccept(
                reply -> {
                  for (int k = 0; k < which.size(); k++) {
                    values[which.get(k)] = (String) reply.get(k);
                  }
                });
    return oneByOneIfMisrouted(call, which, i -> hget(redis, ids, keys, values, i));
  }

  /**
   * {@code call}, made for the counters {@code which}; where Redis refused it because not all of
   * them are served where it was sent (a topology change, slots migrating), those counters again,
   * one call each ({@code one}), which the client routes and redirects one by one.
   */
  private static CompletableFuture<Void> oneByOneIfMisrouted(
      CompletableFuture<Void> call,
      List<Integer> which,
      java.util.function.IntFunction<CompletableFuture<Void>> one) {
    return call.handle(
            (ok, error) -> {
              if (error == null) {
                return CompletableFuture.<Void>completedFuture(null);
              }
              if (!misrouted(error)) {
                return CompletableFuture.<Void>failedFuture(LuaScript.unwrap(error));
              }
              List<CompletableFuture<Void>> singles = new ArrayList<>(which.size());
              for (int i : which) {
                singles.add(one.apply(i));
              }
              return CompletableFuture.allOf(singles.toArray(CompletableFuture<?>[]::new));
            })
        .thenCompose(f -> f);
  }

  /** Epoch markers: one in every {@link #MARKER_SPACING}th cluster slot. */
  static final int MARKER_SPACING = 256;

  /**
   * The cluster's data generation as this node can see it: the ids of the primaries that serve
   * slots, sorted, and the values of the epoch markers, random values stored once (created here
   * where missing) in every {@link #MARKER_SPACING}th slot, so every primary serving 256 contiguous
   * slots or more holds some. The fingerprint changes when a primary is replaced (a failover, which
   * may roll back recent writes) or added, when a primary lost its data (flush, restart without
   * persistence: its markers are gone) or when the cluster is a new one; then every writer must
   * push all its slots again. Slots migrating between primaries change nothing: their markers move
   * with them.
   */
  public CompletionStage<String> fingerprint() {
    StatefulRedisClusterConnection<String, String> connection = redis.connection();
    if (connection == null) {
      return notConnected();
    }
    RedisAdvancedClusterAsyncCommands<String, String> redis = connection.async();
    List<String> primaries = new ArrayList<>();
    for (RedisClusterNode node : connection.getPartitions()) {
      if (node.getRole().isUpstream()
          && !node.is(RedisClusterNode.NodeFlag.FAIL)
          && !node.is(RedisClusterNode.NodeFlag.EVENTUAL_FAIL)
          && !node.getSlots().isEmpty()) {
        primaries.add(node.getNodeId());
      }
    }
    if (primaries.isEmpty()) {
      return CompletableFuture.failedFuture(
          new io.lettuce.core.RedisException("no primary serves any slot"));
    }
    java.util.Collections.sort(primaries);
    List<CompletableFuture<String>> markers = new ArrayList<>();
    String fresh = HexFormat.of().toHexDigits(new java.security.SecureRandom().nextLong());
    for (int slot = 0; slot < SlotHash.SLOT_COUNT; slot += MARKER_SPACING) {
      String key = markerKey(slot);
      markers.add(
          redis
              .get(key)
              .toCompletableFuture()
              .thenCompose(
                  value ->
                      value != null
                          ? CompletableFuture.completedFuture(value)
                          : redis
                              .setGet(key, fresh, new SetArgs().nx())
                              .toCompletableFuture()
                              .thenApply(old -> old == null ? fresh : old)));
    }
    // the layout record goes with a flush too: put it back, so a node with another layout is still
    // refused, and stop pushing if another layout took its place meanwhile
    String mine = layout(buckets);
    markers.add(
        redis
            .setGet(LAYOUT_KEY, mine, new SetArgs().nx())
            .toCompletableFuture()
            .thenApply(
                recorded -> {
                  if (recorded != null && !recorded.equals(mine)) {
                    throw new IllegalStateException(
                        "this Redis Cluster now holds counters in "
                            + recorded
                            + " but this node is set to "
                            + mine);
                  }
                  return "";
                }));
    return CompletableFuture.allOf(markers.toArray(CompletableFuture<?>[]::new))
        .thenApply(
            ignored -> {
              StringBuilder sb = new StringBuilder(String.join(",", primaries)).append(';');
              for (CompletableFuture<String> m : markers) {
                sb.append(m.join()).append(',');
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

  /** A failure's message, unwrapped from the futures' wrappers, for logs and problem details. */
  static String describe(Throwable t) {
    while ((t instanceof java.util.concurrent.CompletionException
            || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  /** Closes the region's connection and the client's threads; commands still in flight fail. */
  @Override
  public void close() {
    redis.close();
  }
}
