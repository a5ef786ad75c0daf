package dev.tally.cluster;

import io.lettuce.core.RedisCommandExecutionException;
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
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.output.ValueOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
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
   * is up has nothing a failover could lose. Sent to the key's primary directly. A redirect is
   * followed once: {@code MOVED} (the slot has moved) to the named node; {@code ASK} (the slot is
   * moving and the key is not on its old primary) to the importing node, as {@code ASKING} and the
   * claim in one write, so that no other command on that shared connection comes between them. A
   * replica that does not confirm within the command timeout fails the call, as does a second
   * redirect. A failed call may have left the claim in place; the caller's pending set lets {@link
   * ClaimSettler} release it.
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
    return c.getConnectionAsync(primary.getNodeId())
        .thenCompose(node -> claimOn(node, redisKey, claim, ttl, false, replicas))
        .handle(
            (held, e) -> {
              Redirect to = e == null ? null : Redirect.of(e);
              if (to == null) {
                return e == null
                    ? CompletableFuture.completedFuture(held)
                    : CompletableFuture.<String>failedFuture(e);
              }
              return c.getConnectionAsync(to.host(), to.port())
                  .thenCompose(
                      node ->
                          replicasOf(c.getPartitions(), to, node)
                              .thenCompose(n -> claimOn(node, redisKey, claim, ttl, to.ask(), n)));
            })
        .thenCompose(stage -> stage);
  }

  /** SET NX GET of the claim on {@code node} (after ASKING if {@code asking}), then WAIT. */
  private CompletionStage<String> claimOn(
      StatefulRedisConnection<String, String> node,
      String redisKey,
      String claim,
      Duration ttl,
      boolean asking,
      int replicas) {
    CompletionStage<String> set;
    if (asking) {
      CommandArgs<String, String> args =
          new CommandArgs<>(StringCodec.UTF8).addKey(redisKey).addValue(claim);
      new SetArgs().nx().ex(ttl).build(args);
      args.add(CommandType.GET);
      AsyncCommand<String, String, String> ask =
          new AsyncCommand<>(
              new Command<>(CommandType.ASKING, new StatusOutput<>(StringCodec.UTF8)));
      AsyncCommand<String, String, String> setGet =
          new AsyncCommand<>(
              new Command<>(CommandType.SET, new ValueOutput<>(StringCodec.UTF8), args));
      node.dispatch(List.of(ask, setGet));
      set = setGet;
    } else {
      set = node.async().setGet(redisKey, claim, new SetArgs().nx().ex(ttl));
    }
    long waitMillis = redis.timeout().toMillis();
    return set.thenCompose(
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
        });
  }

  /** A MOVED or ASK error reply: where to send the command instead. */
  record Redirect(boolean ask, String host, int port) {
    /** The redirect {@code e} (or what it wraps) carries, or null if it is no redirect. */
    static Redirect of(Throwable e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof RedisCommandExecutionException && t.getMessage() != null) {
          return parse(t.getMessage());
        }
      }
      return null;
    }

    /** {@code "MOVED 3999 127.0.0.1:6381"} or {@code "ASK 3999 127.0.0.1:6381"}; else null. */
    static Redirect parse(String reply) {
      String[] w = reply.trim().split(" ");
      if (w.length != 3 || !(w[0].equals("MOVED") || w[0].equals("ASK"))) {
        return null;
      }
      int colon = w[2].lastIndexOf(':');
      if (colon <= 0) {
        return null;
      }
      try {
        return new Redirect(
            w[0].equals("ASK"),
            w[2].substring(0, colon),
            Integer.parseInt(w[2].substring(colon + 1)));
      } catch (NumberFormatException ex) {
        return null;
      }
    }
  }

  /**
   * Replicas up of the primary a redirect names: from the topology, or, for a primary it does not
   * know yet (one just added), from the node itself ({@code ROLE}: the replicas connected to it).
   */
  private static CompletionStage<Integer> replicasOf(
      Partitions partitions, Redirect to, StatefulRedisConnection<String, String> node) {
    RedisClusterNode known = partitions.getPartition(to.host(), to.port());
    if (known != null) {
      return CompletableFuture.completedFuture(replicasUp(partitions, known));
    }
    return node.async()
        .role()
        .thenApply(
            role -> {
              if (role.size() >= 3 && "master".equals(role.get(0)) && role.get(2) instanceof List) {
                return ((List<?>) role.get(2)).size();
              }
              return 1; // not a primary, or an answer not understood: wait for a replica
            });
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
