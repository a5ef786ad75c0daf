package dev.tally.cluster;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import java.time.Duration;
import java.util.concurrent.CompletionStage;

/**
 * Idempotency keys claimed cluster-wide in the home region's Redis, so that a retry on another node
 * is answered from the first node's record instead of applied again ({@link ClusterWriter} decides
 * what a claim means). Thread-safe; stateless beyond the shared connection, which its owner closes.
 *
 * <pre>
 *   key    i:&lt;idempotency key&gt;      one string per key, expiring (SET … EX)
 *   value  &lt;writer hex&gt; &lt;counter&gt; &lt;delta&gt;            while the write is applied (the lease)
 *          &lt;writer hex&gt; &lt;counter&gt; &lt;delta&gt; &lt;count&gt; &lt;second&gt;   once answered (retention)
 * </pre>
 */
public final class IdempotencyClaims {

  private static final String RELEASE =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
          + " return 0";

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

  /** Replaces the claim of {@code key} with {@code value}, now expiring after {@code ttl}. */
  public CompletionStage<Void> update(String key, String value, Duration ttl) {
    return redis.call(
        r -> r.set(claimKey(key), value, new SetArgs().ex(ttl)).thenApply(ignored -> null));
  }

  /** Deletes the claim of {@code key} if it still holds {@code claim}. */
  public CompletionStage<Void> release(String key, String claim) {
    String[] keys = {claimKey(key)};
    return redis.call(
        r -> r.<Long>eval(RELEASE, ScriptOutputType.INTEGER, keys, claim).thenApply(ok -> null));
  }

  /** Redis key of an idempotency key's claim. */
  static String claimKey(String key) {
    return "i:" + key;
  }
}
