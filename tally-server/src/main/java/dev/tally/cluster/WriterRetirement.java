package dev.tally.cluster;

import io.lettuce.core.ScriptOutputType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Folds a retired writer's shares into each counter's base entry, so that writers that come and go
 * (replaced or autoscaled nodes, each a new writer) do not grow every counter they wrote for good.
 * Thread-safe; stateless beyond the connection its caller owns. Run by {@code tally retire-writer}
 * (docs/cluster.md, "Retiring writers").
 *
 * <pre>
 *   tally:retired        set of retired writer ids (hex): a node with one of them refuses to start
 *   t:{bucket} "\0r"+id  an empty fence field in every bucket where the writer was folded: the
 *                        merge script refuses its pushes there (RETIRED), so a folded writer
 *                        never writes again
 *   base entry           writer id 0 in a record: Σ P and Σ N of the writers folded into it
 * </pre>
 *
 * <p>Why the merge stays order-free: a retired writer is fenced first (the set), then bucket by
 * bucket its entry is removed and added to the base in one script, atomically with the fence of
 * that bucket. Before the fold a push of the writer max-merges into its entry, which the fold then
 * moves; after it, the push is refused. So each of its increments is counted once, in its entry or
 * in the base. Nodes' followed views learn the set ({@link FollowedCounters#retired}) and take a
 * retired writer's share from Redis's records only.
 */
public final class WriterRetirement {

  /** The set of retired writers (hex ids). */
  public static final String RETIRED_KEY = "tally:retired";

  /** The writer id of the base entry; no node has it. */
  public static final long BASE_WRITER = 0;

  static final LuaScript FOLD = LuaScript.load("fold-writer.lua");

  /** Buckets folded per batch of pipelined script calls. */
  private static final int BATCH = 512;

  private final RedisConnection redis;
  private final int buckets;

  /**
   * @param redis a region's connection
   * @param buckets the layout's bucket count (--redis-buckets)
   */
  public WriterRetirement(RedisConnection redis, int buckets) {
    this.redis = redis;
    this.buckets = buckets;
  }

  /** The writers retired so far. */
  public CompletionStage<Set<Long>> retired() {
    return redis
        .call(r -> r.smembers(RETIRED_KEY))
        .thenApply(
            members -> {
              Set<Long> out = new HashSet<>();
              for (String m : members) {
                try {
                  out.add(Long.parseUnsignedLong(m, 16));
                } catch (NumberFormatException e) {
                  // not ours to interpret
                }
              }
              return out;
            });
  }

  /**
   * Retires {@code writer}: fences it, then folds its shares in every bucket. Safe to run again
   * (after a failure part way, it finishes the job). Blocks the calling thread.
   *
   * @return how many counter records held a share of the writer
   * @throws IllegalArgumentException for the base writer's id
   */
  public long retire(long writer) throws Exception {
    if (writer == BASE_WRITER) {
      throw new IllegalArgumentException("writer 0 is the base entry, not a node");
    }
    long timeout = redis.timeout().toMillis() * 4;
    redis
        .call(r -> r.sadd(RETIRED_KEY, RedisSlots.writerField(writer)))
        .toCompletableFuture()
        .get(timeout, java.util.concurrent.TimeUnit.MILLISECONDS);
    String me = RedisSlots.writerBytes(writer);
    String base = RedisSlots.writerBytes(BASE_WRITER);
    long folded = 0;
    for (int from = 0; from < buckets; from += BATCH) {
      List<CompletableFuture<Long>> calls = new ArrayList<>(BATCH);
      for (int b = from; b < Math.min(buckets, from + BATCH); b++) {
        String[] keys = {RedisSlots.bucketKey(b)};
        calls.add(
            redis
                .<Long>call(r -> FOLD.run(r, ScriptOutputType.INTEGER, keys, me, base))
                .toCompletableFuture());
      }
      CompletableFuture.allOf(calls.toArray(CompletableFuture<?>[]::new))
          .get(timeout, java.util.concurrent.TimeUnit.MILLISECONDS);
      for (CompletableFuture<Long> c : calls) {
        folded += c.join();
      }
    }
    return folded;
  }
}
