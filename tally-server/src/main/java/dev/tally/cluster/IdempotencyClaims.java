package dev.tally.cluster;

import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.ValueScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Idempotency keys claimed cluster-wide in the home region's Redis, so that a retry on another node
 * is answered from the first node's record instead of applied again ({@link ClusterWriter} decides
 * what a claim means). Thread-safe; stateless beyond the shared connection, which its owner closes.
 *
 * <pre>
 *   key    i:&lt;idempotency key&gt;      one string per key, expiring (SET … EX)
 *   value  &lt;writer hex&gt; &lt;counter&gt; &lt;delta&gt;            while the write is applied (pending)
 *          &lt;writer hex&gt; &lt;counter&gt; &lt;delta&gt; &lt;count&gt; &lt;second&gt;   once answered (retention)
 *
 *   key    tally:pending:{&lt;writer hex&gt;}   set of the keys a writer may hold pending claims of
 *                                     (strict idempotency; see {@link ClaimSettler})
 * </pre>
 */
public final class IdempotencyClaims {

  private static final String RELEASE =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
          + " return 0";

  private static final String SETTLE =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then"
          + " redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end return 0";

  private final RedisConnection redis;

  public IdempotencyClaims(RedisConnection redis) {
    this.redis = redis;
  }

  /**
   * Claims {@code key} for {@code claim} unless someone holds it: completes with null when this
   * call claimed it (for {@code ttl}), else with the value already stored.
   */
  public CompletionStage<String> claim(String key, String claim, Duration ttl) {
    return redis.call(r -> r.setGet(claimKey(key), claim, new SetArgs().nx().ex(ttl)));
  }

  /**
   * Like {@link #claim}, but a claim made here completes only once a replica of its primary holds
   * it too ({@code WAIT 1}), so that a failover cannot forget it; a primary without a replica that
   * is up has nothing a failover could lose. Sent to the key's primary directly: a redirect (the
   * slot moving) fails the call instead of being followed, as does a replica that does not confirm
   * within the command timeout. A failed call may have left the claim in place; the caller's
   * pending set lets {@link ClaimSettler} release it.
   */
  public CompletionStage<String> claimReplicated(String key, String claim, Duration ttl) {
    StatefulRedisClusterConnection<String, String> c = redis.connection();
    if (c == null) {
      return redis.notConnected();
    }
    String redisKey = claimKey(key);
    Partitions partitions = c.getPartitions();
    RedisClusterNode primary = partitions.getMasterBySlot(SlotHash.getSlot(redisKey));
    if (primary == null) {
      return CompletableFuture.failedFuture(
          new IllegalStateException("no primary known for the slot of " + redisKey));
    }
    int replicas = replicasUp(partitions, primary);
    long waitMillis = redis.timeout().toMillis();
    return c.getConnectionAsync(primary.getNodeId())
        .thenCompose(
            (StatefulRedisConnection<String, String> node) ->
                node.async()
                    .setGet(redisKey, claim, new SetArgs().nx().ex(ttl))
                    .thenCompose(
                        held -> {
                          if (held != null || replicas == 0) {
                            return CompletableFuture.completedFuture(held);
                          }
                          return node.async()
                              .waitForReplication(1, waitMillis)
                              .thenApply(
                                  acked -> {
                                    if (acked < 1) {
                                      throw new IllegalStateException(
                                          "no replica confirmed the claim of "
                                              + redisKey
                                              + " within "
                                              + waitMillis
                                              + " ms");
                                    }
                                    return null;
                                  });
                        }));
  }

  private static int replicasUp(Partitions partitions, RedisClusterNode primary) {
    int n = 0;
    for (RedisClusterNode node : partitions) {
      if (primary.getNodeId().equals(node.getSlaveOf())
          && !node.is(RedisClusterNode.NodeFlag.FAIL)
          && !node.is(RedisClusterNode.NodeFlag.EVENTUAL_FAIL)) {
        n++;
      }
    }
    return n;
  }

  /**
   * Replaces the claim of {@code key} with {@code value} (for {@code ttl}) only if it still holds
   * {@code pending}: completes with whether it did.
   */
  public CompletionStage<Boolean> settle(String key, String pending, String value, Duration ttl) {
    String[] keys = {claimKey(key)};
    long seconds = Math.max(1, ttl.toSeconds());
    return redis.call(
        r ->
            r.<Long>eval(
                    SETTLE, ScriptOutputType.INTEGER, keys, pending, value, Long.toString(seconds))
                .thenApply(n -> n == 1L));
  }

  /**
   * Deletes the claim of {@code key} if it still holds {@code claim}: completes with whether it
   * did.
   */
  public CompletionStage<Boolean> release(String key, String claim) {
    String[] keys = {claimKey(key)};
    return redis.call(
        r -> r.<Long>eval(RELEASE, ScriptOutputType.INTEGER, keys, claim).thenApply(n -> n == 1L));
  }

  /** The claim held for {@code key}, or null. */
  public CompletionStage<String> get(String key) {
    return redis.call(r -> r.get(claimKey(key)));
  }

  /** Notes that {@code writer} is about to claim {@code keys} (strict idempotency). */
  public CompletionStage<Void> addPending(String writer, List<String> keys) {
    String[] members = keys.toArray(new String[0]);
    return redis.call(r -> r.sadd(pendingKey(writer), members).thenApply(ignored -> null));
  }

  /** Forgets {@code keys} from {@code writer}'s pending set: their claims are settled. */
  public CompletionStage<Void> removePending(String writer, List<String> keys) {
    String[] members = keys.toArray(new String[0]);
    return redis.call(r -> r.srem(pendingKey(writer), members).thenApply(ignored -> null));
  }

  /**
   * One page of {@code writer}'s pending set, from {@code cursor} (start with {@link
   * ScanCursor#INITIAL}).
   */
  public CompletionStage<ValueScanCursor<String>> scanPending(
      String writer, ScanCursor cursor, int count) {
    return redis.call(r -> r.sscan(pendingKey(writer), cursor, ScanArgs.Builder.limit(count)));
  }

  /** Redis key of an idempotency key's claim. */
  static String claimKey(String key) {
    return "i:" + key;
  }

  /** Redis key of a writer's pending set: one slot per writer (hash tag). */
  static String pendingKey(String writer) {
    return "tally:pending:{" + writer + "}";
  }
}
