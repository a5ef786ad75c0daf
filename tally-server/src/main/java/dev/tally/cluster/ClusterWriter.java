package dev.tally.cluster;

import dev.tally.engine.Aggregator;
import dev.tally.engine.Write;
import dev.tally.engine.WritePath;
import dev.tally.engine.WriteResult;
import dev.tally.engine.WriteResult.Outcome;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write path of a cluster member, in front of the local {@link Aggregator}.
 *
 * <ol>
 *   <li>A write with an idempotency key first claims the key in Redis ({@code SET NX}; pending for
 *       the claim lease, or for the key's retention in strict mode; once answered, the claim holds
 *       the answer for the key's whole retention). A key another node holds is answered from that
 *       node's record: replayed if it finished, 409 (retry shortly) while it is in progress, 422
 *       for a different write. If the key cannot be claimed, strict mode refuses the write (503)
 *       and available mode applies it with the node's own idempotency record only (documented).
 *   <li>The aggregator commits locally and durably. The answer's count is this node's own part plus
 *       the other writers' share as this node follows it ({@link FollowedCounters}): never a Redis
 *       round trip. A counter the node does not follow (never read or streamed here) is answered
 *       with this node's part only.
 *   <li>With {@code --ack cluster} the answer also waits until the home Redis holds the commit.
 *   <li>The claim is then updated with the answer (so a retry elsewhere repeats it), or released if
 *       the write failed.
 * </ol>
 *
 * Thread-safe; callbacks come from the committer or Redis I/O threads and only hand off.
 */
public final class ClusterWriter implements WritePath {

  private static final Logger log = LoggerFactory.getLogger(ClusterWriter.class);

  /** When a write counts as acknowledged. */
  public enum Ack {
    /** After the node's local durable commit. */
    LOCAL,
    /** After the home region's Redis also holds the pushed slot. */
    CLUSTER
  }

  /** What a keyed write does when its key cannot be claimed cluster-wide. */
  public enum Idempotency {
    /**
     * Refuse the write (503, retry shortly); pending claims never expire before the key's retention
     * nor are taken over, and each node settles its own ({@link ClaimSettler}): no retry pattern
     * applies a key's write twice.
     */
    STRICT,
    /**
     * Apply the write with the node's own record only (a retry on another node during the outage
     * may apply twice); a pending claim expires after the lease.
     */
    AVAILABLE
  }

  /**
   * Tuning; see {@code TallyConfig} for the documented keys.
   *
   * @param claimLease how long a pending claim stays with {@link Idempotency#AVAILABLE}: a node
   *     that dies between committing and recording the answer leaves a window of this length after
   *     which a retry on another node could apply again (a retry on the same node replays from its
   *     store)
   */
  public record Settings(
      Ack ack,
      Duration ackTimeout,
      int maxWaiting,
      Duration keyRetention,
      Idempotency idempotency,
      Duration claimLease) {

    public Settings {
      if (maxWaiting < 1 || !ackTimeout.isPositive() || !keyRetention.isPositive()) {
        throw new IllegalArgumentException(
            "need maxWaiting >= 1 and a positive ack timeout and key retention");
      }
      if (!claimLease.isPositive()) {
        throw new IllegalArgumentException("the claim lease must be > 0");
      }
    }
  }

  private final Aggregator aggregator;
  private final SlotPusher sync;
  private final FollowedCounters view;
  private final IdempotencyClaims idempotencyClaims;
  private final ClaimSettler.InFlight inFlight;
  private final String writer;
  private final Settings settings;
  private final boolean strict;
  private final Counter unclaimed;
  private final Counter refused;
  private final Counter remoteReplays;

  public ClusterWriter(
      Aggregator aggregator,
      SlotPusher sync,
      FollowedCounters view,
      IdempotencyClaims claims,
      ClaimSettler.InFlight inFlight,
      long writerId,
      Settings settings,
      MeterRegistry registry) {
    this.aggregator = aggregator;
    this.sync = sync;
    this.view = view;
    this.idempotencyClaims = claims;
    this.inFlight = inFlight;
    this.writer = RedisSlots.writerField(writerId);
    this.settings = settings;
    this.strict = settings.idempotency() == Idempotency.STRICT;
    this.unclaimed =
        Counter.builder("tally.cluster.idempotency.unclaimed")
            .description(
                "Writes with an Idempotency-Key applied without a cluster-wide claim (Redis"
                    + " unreachable, --idempotency available): protected against retries on this"
                    + " node only")
            .register(registry);
    this.refused =
        Counter.builder("tally.cluster.idempotency.refused")
            .description(
                "Writes with an Idempotency-Key refused (503) because the key could not be claimed"
                    + " cluster-wide (--idempotency strict)")
            .register(registry);
    this.remoteReplays =
        Counter.builder("tally.cluster.idempotency.remote")
            .description("Writes whose Idempotency-Key another node holds (replayed or refused)")
            .register(registry);
  }

  @Override
  public void submit(Write[] writes, Aggregator.Callback callback) {
    boolean keyed = false;
    for (Write w : writes) {
      keyed |= w.idempotencyKey() != null;
    }
    if (!keyed) {
      Claim[] none = new Claim[writes.length];
      Arrays.fill(none, Claim.LOCAL);
      aggregator.submit(writes, results -> answer(writes, results, none, callback));
      return;
    }
    // strict: the keys this submission holds in inFlight, left once it is answered
    List<String> entered = new ArrayList<>();
    Aggregator.Callback done =
        strict
            ? results -> {
              entered.forEach(inFlight::leave);
              callback.done(results);
            }
            : callback;
    claimAll(writes, entered)
        .whenComplete(
            (claims, error) -> {
              if (error != null) { // never expected: claimAll handles Redis failures itself
                log.error("claiming idempotency keys failed", error);
                WriteResult[] failed = new WriteResult[writes.length];
                Arrays.fill(
                    failed, failure(new TallyException(ErrorKind.INTERNAL, "internal error")));
                done.done(failed);
                return;
              }
              afterClaims(writes, claims, done);
            });
  }

  /**
   * What the claim step decided for one write.
   *
   * @param local the write goes to this node's aggregator
   * @param claimedHere this call made the claim (a failed write releases it)
   * @param answer the answer when not local (another node's record, or a refusal)
   * @param othersClaim strict: the key is claimed by another node, so this node's pending set needs
   *     no entry for it (every other answer without a local write leaves the set alone: the settler
   *     decides)
   */
  private record Claim(
      boolean local, boolean claimedHere, WriteResult answer, boolean othersClaim) {
    /**
     * Applied here with no claim of this call's to settle (unkeyed, or the local record decides).
     */
    static final Claim LOCAL = new Claim(true, false, null, false);

    static final Claim CLAIMED = new Claim(true, true, null, false);

    static Claim refused(WriteResult answer) {
      return new Claim(false, false, answer, false);
    }

    static Claim others(WriteResult answer) {
      return new Claim(false, false, answer, true);
    }
  }

  private CompletableFuture<Claim[]> claimAll(Write[] writes, List<String> entered) {
    @SuppressWarnings("unchecked")
    CompletableFuture<Claim>[] claims = new CompletableFuture[writes.length];
    // Redis known to be down: do not make every write wait for the command timeout
    boolean down = !sync.homeReachable();
    Claim[] fixed = new Claim[writes.length];
    for (int i = 0; i < writes.length; i++) {
      String key = writes[i].idempotencyKey();
      if (key == null) {
        fixed[i] = Claim.LOCAL;
      } else if (down) {
        fixed[i] = unclaimable("Redis is unreachable");
      } else if (strict && !inFlight.enter(key)) {
        fixed[i] =
            Claim.refused(
                failure(
                    new TallyException(
                        ErrorKind.IN_PROGRESS,
                        "this node is settling the claim of this Idempotency-Key; retry shortly")));
      } else if (strict) {
        entered.add(key);
      }
    }
    CompletionStage<Void> noted =
        strict && !entered.isEmpty()
            ? idempotencyClaims.addPending(writer, entered)
            : CompletableFuture.completedFuture(null);
    for (int i = 0; i < writes.length; i++) {
      if (fixed[i] != null) {
        claims[i] = CompletableFuture.completedFuture(fixed[i]);
        continue;
      }
      Write w = writes[i];
      String mine = pending(w);
      CompletionStage<String> held =
          strict
              ? noted.thenCompose(
                  ok ->
                      idempotencyClaims.claimReplicated(
                          w.idempotencyKey(), mine, settings.keyRetention()))
              : idempotencyClaims.claim(w.idempotencyKey(), mine, settings.claimLease());
      claims[i] =
          held.toCompletableFuture()
              .handle(
                  (holder, error) -> {
                    if (error != null) {
                      log.debug("claiming an Idempotency-Key failed", error);
                      return unclaimable("Redis did not take the claim");
                    }
                    return holder == null ? Claim.CLAIMED : decide(w, holder);
                  });
    }
    return CompletableFuture.allOf(claims)
        .thenApply(
            ignored -> {
              Claim[] out = new Claim[claims.length];
              for (int i = 0; i < out.length; i++) {
                out[i] = claims[i].join();
              }
              return out;
            });
  }

  /**
   * A key that cannot be claimed now: strict refuses the write, available applies it with the
   * node's own record only.
   */
  private Claim unclaimable(String why) {
    if (strict) {
      refused.increment();
      return Claim.refused(
          failure(
              new TallyException(
                  ErrorKind.UNAVAILABLE,
                  "the Idempotency-Key cannot be claimed cluster-wide now ("
                      + why
                      + "); retry shortly")));
    }
    unclaimed.increment();
    return Claim.LOCAL;
  }

  /** The claim {@code held} in Redis for {@code w}'s key: whose, and for which write. */
  private Claim decide(Write w, String held) {
    String[] parts = held.split(" ");
    if (parts.length < 3) {
      return Claim.LOCAL; // not ours to interpret: the local record decides
    }
    if (parts[0].equals(writer)) {
      return Claim.LOCAL; // this node's own claim: its store knows the outcome
    }
    remoteReplays.increment();
    boolean same =
        parts[1].equals(RedisSlots.counterName(w.counter()))
            && parts[2].equals(Long.toString(w.delta()));
    if (!same) {
      return Claim.others(
          failure(
              new TallyException(
                  ErrorKind.IDEMPOTENCY_CONFLICT,
                  "this Idempotency-Key was already used for a different write")));
    }
    if (parts.length >= 5) {
      return Claim.others(
          new WriteResult(
              Outcome.REPLAYED, Long.parseLong(parts[3]), Long.parseLong(parts[4]), null));
    }
    return Claim.others(
        failure(
            new TallyException(
                ErrorKind.IN_PROGRESS,
                "another node is applying the write of this Idempotency-Key; retry shortly")));
  }

  private void afterClaims(Write[] writes, Claim[] claims, Aggregator.Callback callback) {
    List<Write> local = new ArrayList<>(writes.length);
    WriteResult[] out = new WriteResult[writes.length];
    for (int i = 0; i < writes.length; i++) {
      if (claims[i].local()) {
        local.add(writes[i]);
      }
      out[i] = claims[i].answer();
    }
    if (local.isEmpty()) {
      finish(writes, out, claims, null, null);
      callback.done(out);
      return;
    }
    Write[] localWrites = local.toArray(new Write[0]);
    try {
      aggregator.submit(
          localWrites,
          results -> {
            for (int i = 0, r = 0; i < writes.length; i++) {
              if (claims[i].local()) {
                out[i] = results[r++];
              }
            }
            answer(writes, out, claims, callback);
          });
    } catch (TallyException e) {
      for (int i = 0; i < writes.length; i++) {
        if (claims[i].local()) {
          out[i] = failure(e);
        }
      }
      answer(writes, out, claims, callback);
    }
  }

  /**
   * Completes the answers: waits for the cluster if asked to, adds the other writers' share to the
   * counts of local results, and updates or releases the claims. Called on the committer thread
   * right after the commit, or on a Redis thread.
   */
  private void answer(
      Write[] writes, WriteResult[] results, Claim[] claims, Aggregator.Callback callback) {
    long seq = sync.committedSeq();
    boolean succeeded = false;
    for (int i = 0; i < results.length; i++) {
      succeeded |= claims[i].local() && results[i].outcome() != Outcome.FAILED;
    }
    boolean anyLocalSuccess = succeeded;
    if (settings.ack() != Ack.CLUSTER || !anyLocalSuccess) {
      // nothing to wait for: answered here, on the committer, without a chain of stages per
      // submission (a single write is a submission of its own)
      try {
        finish(writes, results, claims, anyLocalSuccess ? others(writes) : null, null);
      } catch (RuntimeException e) {
        log.error("completing cluster writes failed", e);
      }
      callback.done(results);
      return;
    }
    sync.awaitPushed(seq, settings.ackTimeout(), settings.maxWaiting())
        .handle((ok, error) -> error)
        .thenAccept(ackError -> finish(writes, results, claims, others(writes), ackError))
        .whenComplete(
            (ignored, error) -> {
              if (error != null) {
                log.error("completing cluster writes failed", error);
              }
              callback.done(results);
            });
  }

  /**
   * The other writers' share of the writes' counters for their answers, from the view: a write
   * never waits for Redis, nor makes the node follow a counter (that costs a Redis read per
   * counter, as much as the write itself; reads and streams follow what they show). A counter not
   * followed counts only this node's part in the answer (documented).
   */
  private long[] others(Write[] writes) {
    long[] out = new long[writes.length];
    for (int i = 0; i < out.length; i++) {
      FollowedCounters.Share s = view.peek(writes[i].counter());
      if (s != null) {
        out[i] = s.others();
      }
    }
    return out;
  }

  /**
   * Settles the claims of the answered writes: a local success records its answer in the claim, a
   * local failure releases the claim it made. Each is a compare-and-set on the pending value, so a
   * claim is only ever replaced by the node that holds it. In strict mode, the keys whose claims
   * are known to be settled then leave the node's pending set; the others stay for {@link
   * ClaimSettler}.
   */
  private void finish(
      Write[] writes, WriteResult[] results, Claim[] claims, long[] others, Throwable ackError) {
    List<String> settled = strict ? new ArrayList<>() : null;
    List<CompletableFuture<Boolean>> settling = strict ? new ArrayList<>() : null;
    List<String> settlingKeys = strict ? new ArrayList<>() : null;
    for (int i = 0; i < writes.length; i++) {
      WriteResult r = results[i];
      Write w = writes[i];
      String key = w.idempotencyKey();
      if (!claims[i].local()) {
        // answered from another node's claim, or refused
        if (strict && claims[i].othersClaim()) {
          settled.add(key);
        }
        continue;
      }
      CompletionStage<Boolean> change = null;
      if (r.outcome() == Outcome.FAILED) {
        if (key != null && (claims[i].claimedHere() || strict)) {
          change = idempotencyClaims.release(key, pending(w));
        }
      } else {
        // without a known share (Redis unreachable, never read) the answer is this node's part
        long count = r.count() + (others == null ? 0 : others[i]);
        if (key != null) {
          change =
              idempotencyClaims.settle(
                  key,
                  pending(w),
                  pending(w) + " " + count + " " + r.updatedAtSecond(),
                  settings.keyRetention());
        }
        if (ackError != null) {
          results[i] =
              failure(
                  TallyException.in(
                      ackError, ErrorKind.NOT_CONFIRMED, "Redis has not confirmed the write"));
        } else {
          results[i] = new WriteResult(r.outcome(), count, r.updatedAtSecond(), null);
        }
      }
      if (strict && change != null) {
        settling.add(change.toCompletableFuture());
        settlingKeys.add(key);
      }
    }
    if (strict) {
      CompletableFuture.allOf(settling.toArray(new CompletableFuture<?>[0]))
          .handle((ok, error) -> null)
          .thenCompose(
              ignored -> {
                for (int i = 0; i < settling.size(); i++) {
                  CompletableFuture<Boolean> f = settling.get(i);
                  if (!f.isCompletedExceptionally() && f.join()) {
                    settled.add(settlingKeys.get(i));
                  }
                }
                return settled.isEmpty()
                    ? CompletableFuture.completedFuture(null)
                    : idempotencyClaims.removePending(writer, settled);
              })
          .exceptionally(
              error -> {
                log.debug("forgetting settled claims failed; the settler will", error);
                return null;
              });
    }
  }

  private String pending(Write w) {
    return writer + " " + RedisSlots.counterName(w.counter()) + " " + w.delta();
  }

  private static WriteResult failure(TallyException e) {
    return new WriteResult(Outcome.FAILED, 0, 0, e);
  }
}
