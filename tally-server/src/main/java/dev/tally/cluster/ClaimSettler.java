package dev.tally.cluster;

import dev.tally.store.IdempotencyRecord;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ValueScanCursor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Settles the idempotency claims this node left pending (strict idempotency): the ones a crash, a
 * kill or a failed Redis update left behind. With {@code --idempotency strict} a pending claim
 * never expires before the key's retention and no other node takes it over, so the node that made
 * it must settle it, from its own durable record:
 *
 * <ul>
 *   <li>the node's store holds the key (the write was committed): the claim gets the recorded
 *       answer, and retries elsewhere replay it;
 *   <li>it does not (the write was never committed): the claim is released, and a retry anywhere
 *       applies the write once.
 * </ul>
 *
 * Which claims to look at: before claiming, a node adds the keys to its pending set ({@code
 * tally:pending:{writer}}) and removes them once their claims are settled. This settler reads the
 * set at start and then every {@code interval}, skipping keys a write of this process still holds
 * ({@link InFlight}). A pending set lost with Redis data leaves its claims pending until the keys'
 * retention ends: retries elsewhere are refused (409) meanwhile, never applied twice.
 *
 * <p>Thread-safe; runs on a thread of its own.
 */
public final class ClaimSettler implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ClaimSettler.class);
  private static final int PAGE = 500;

  /**
   * The keys writes of this process are applying, so that the settler leaves them alone, and the
   * keys the settler is settling, so that a write of them waits (409) until it is done.
   */
  public static final class InFlight {
    private static final int SETTLING = -1;
    private final ConcurrentHashMap<String, Integer> keys = new ConcurrentHashMap<>();

    /** A write takes {@code key}; false while the settler holds it. */
    boolean enter(String key) {
      Integer now = keys.compute(key, (k, n) -> n == null ? 1 : n == SETTLING ? n : n + 1);
      return now != SETTLING;
    }

    /** A write that {@link #enter entered} is done with {@code key}. */
    void leave(String key) {
      keys.computeIfPresent(key, (k, n) -> n <= 1 ? null : n - 1);
    }

    boolean trySettle(String key) {
      return keys.putIfAbsent(key, SETTLING) == null;
    }

    void settled(String key) {
      keys.remove(key, SETTLING);
    }

    int size() {
      return keys.size();
    }
  }

  private final IdempotencyClaims claims;
  private final String writer;
  private final InFlight inFlight;
  private final Function<List<String>, List<IdempotencyRecord>> records;
  private final Clock clock;
  private final Duration interval;
  private final ScheduledExecutorService scheduler = RedisClients.scheduler("tally-claim-settler");
  private final Counter settled;
  private final Counter released;

  /**
   * @param records the node's own idempotency records of some keys, in order, null where unknown
   */
  public ClaimSettler(
      IdempotencyClaims claims,
      long writerId,
      InFlight inFlight,
      Function<List<String>, List<IdempotencyRecord>> records,
      Clock clock,
      Duration interval,
      MeterRegistry registry) {
    this.claims = claims;
    this.writer = RedisSlots.writerField(writerId);
    this.inFlight = inFlight;
    this.records = records;
    this.clock = clock;
    this.interval = interval;
    this.settled =
        Counter.builder("tally.cluster.idempotency.settled")
            .description(
                "Pending idempotency claims this node settled afterwards from its own record")
            .tag("outcome", "answered")
            .register(registry);
    this.released =
        Counter.builder("tally.cluster.idempotency.settled")
            .description(
                "Pending idempotency claims this node settled afterwards from its own record")
            .tag("outcome", "released")
            .register(registry);
  }

  /** Starts the rounds: the first at once, then one every interval. */
  public void start() {
    scheduler.scheduleWithFixedDelay(
        this::roundQuietly, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void roundQuietly() {
    try {
      round().toCompletableFuture().get(interval.toMillis() * 10, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      log.debug("settling pending idempotency claims failed; next round in {}", interval, e);
    }
  }

  /** One round over the whole pending set; completes with the number of claims settled. */
  public CompletionStage<Integer> round() {
    return page(ScanCursor.INITIAL, 0);
  }

  private CompletionStage<Integer> page(ScanCursor cursor, int settledSoFar) {
    return claims
        .scanPending(writer, cursor, PAGE)
        .thenCompose(
            (ValueScanCursor<String> page) ->
                settleAll(page.getValues())
                    .thenCompose(
                        n ->
                            page.isFinished()
                                ? CompletableFuture.completedFuture(settledSoFar + n)
                                : page(page, settledSoFar + n)));
  }

  private CompletionStage<Integer> settleAll(List<String> keys) {
    List<String> mine = new ArrayList<>(keys.size());
    for (String key : keys) {
      if (inFlight.trySettle(key)) {
        mine.add(key);
      }
    }
    if (mine.isEmpty()) {
      return CompletableFuture.completedFuture(0);
    }
    CompletableFuture<Integer> outcome;
    try {
      outcome = settleHeld(mine);
    } catch (RuntimeException e) {
      outcome = CompletableFuture.failedFuture(e);
    }
    // whatever happened, the keys are the writes' again
    return outcome.whenComplete((n, error) -> mine.forEach(inFlight::settled));
  }

  /** Settles the keys the settler holds, then drops the settled ones from the pending set. */
  private CompletableFuture<Integer> settleHeld(List<String> mine) {
    List<CompletableFuture<Boolean>> each = new ArrayList<>(mine.size());
    for (String key : mine) {
      each.add(settle(key).toCompletableFuture());
    }
    return CompletableFuture.allOf(each.toArray(new CompletableFuture<?>[0]))
        .handle((ignored, error) -> null)
        .thenCompose(
            ignored -> {
              List<String> done = new ArrayList<>(mine.size());
              int n = 0;
              for (int i = 0; i < mine.size(); i++) {
                CompletableFuture<Boolean> f = each.get(i);
                if (!f.isCompletedExceptionally()) {
                  done.add(mine.get(i));
                  n += f.join() ? 1 : 0;
                }
              }
              int count = n;
              CompletionStage<Void> removed =
                  done.isEmpty()
                      ? CompletableFuture.completedFuture(null)
                      : claims.removePending(writer, done);
              return removed.thenApply(ok -> count);
            });
  }

  /** Settles one key the settler holds; completes with whether it changed the claim. */
  private CompletionStage<Boolean> settle(String key) {
    return claims
        .get(key)
        .thenCompose(
            held -> {
              if (held == null) {
                return CompletableFuture.completedFuture(false);
              }
              String[] parts = held.split(" ");
              if (parts.length != 3 || !parts[0].equals(writer)) {
                return CompletableFuture.completedFuture(false); // answered, or another's
              }
              IdempotencyRecord record = records.apply(List.of(key)).get(0);
              boolean committed =
                  record != null
                      && RedisSlots.counterName(record.counter()).equals(parts[1])
                      && Long.toString(record.delta()).equals(parts[2]);
              if (!committed) {
                return claims
                    .release(key, held)
                    .thenApply(
                        changed -> {
                          if (changed) {
                            released.increment();
                          }
                          return changed;
                        });
              }
              long now = clock.instant().getEpochSecond();
              Duration ttl = Duration.ofSeconds(Math.max(1, record.expiresAtSecond() - now));
              String answer = held + " " + record.count() + " " + record.updatedAtSecond();
              return claims
                  .settle(key, held, answer, ttl)
                  .thenApply(
                      changed -> {
                        if (changed) {
                          settled.increment();
                        }
                        return changed;
                      });
            });
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
