package dev.tally.cluster;

import dev.tally.counter.CounterId;
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
 *   <li>A write with an idempotency key first claims the key in Redis ({@code SET NX}, for {@link
 *       #CLAIM_LEASE}; once answered, the claim holds the answer for the key's whole retention). A
 *       key another node holds is answered from that node's record: replayed if it finished, 409
 *       (retry shortly) while it is in progress, 422 for a different write. If Redis cannot be
 *       asked, the node's own idempotency record still applies (documented).
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

  /**
   * How long a claim stays while its write is being applied. A node that dies between claiming and
   * committing blocks the key elsewhere (409) for at most this long; one that dies between
   * committing and recording the answer leaves a window of this length after which a retry on
   * another node could apply again (a retry on the same node replays from its store).
   */
  static final Duration CLAIM_LEASE = Duration.ofSeconds(60);

  private final Aggregator aggregator;
  private final SlotPusher sync;
  private final FollowedCounters view;
  private final IdempotencyClaims idempotencyClaims;
  private final String writer;
  private final Ack ack;
  private final Duration ackTimeout;
  private final int maxWaiting;
  private final Duration keyRetention;
  private final Counter unclaimed;
  private final Counter remoteReplays;

  public ClusterWriter(
      Aggregator aggregator,
      SlotPusher sync,
      FollowedCounters view,
      IdempotencyClaims claims,
      long writerId,
      Ack ack,
      Duration ackTimeout,
      int maxWaiting,
      Duration keyRetention,
      MeterRegistry registry) {
    this.aggregator = aggregator;
    this.sync = sync;
    this.view = view;
    this.idempotencyClaims = claims;
    this.writer = RedisSlots.writerField(writerId);
    this.ack = ack;
    this.ackTimeout = ackTimeout;
    this.maxWaiting = maxWaiting;
    this.keyRetention = keyRetention;
    this.unclaimed =
        Counter.builder("tally.cluster.idempotency.unclaimed")
            .description(
                "Writes with an Idempotency-Key applied without a cluster-wide claim (Redis"
                    + " unreachable): protected against retries on this node only")
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
      boolean[] all = new boolean[writes.length];
      Arrays.fill(all, true);
      aggregator.submit(
          writes, results -> answer(writes, results, all, new boolean[writes.length], callback));
      return;
    }
    claimAll(writes)
        .whenComplete(
            (claims, error) -> {
              if (error != null) { // never expected: claimAll handles Redis failures itself
                log.error("claiming idempotency keys failed", error);
                WriteResult[] failed = new WriteResult[writes.length];
                Arrays.fill(
                    failed, failure(new TallyException(ErrorKind.INTERNAL, "internal error")));
                callback.done(failed);
                return;
              }
              afterClaims(writes, claims, callback);
            });
  }

  /** What the claim step decided for one write. */
  private record Claim(boolean local, boolean claimedHere, WriteResult answer) {
    static final Claim LOCAL_UNKEYED = new Claim(true, false, null);
  }

  private CompletableFuture<Claim[]> claimAll(Write[] writes) {
    @SuppressWarnings("unchecked")
    CompletableFuture<Claim>[] claims = new CompletableFuture[writes.length];
    // Redis known to be down: do not make every write wait for the command timeout
    boolean down = !sync.homeReachable();
    for (int i = 0; i < writes.length; i++) {
      Write w = writes[i];
      if (w.idempotencyKey() == null) {
        claims[i] = CompletableFuture.completedFuture(Claim.LOCAL_UNKEYED);
        continue;
      }
      if (down) {
        unclaimed.increment();
        claims[i] = CompletableFuture.completedFuture(new Claim(true, false, null));
        continue;
      }
      String mine = pending(w);
      claims[i] =
          idempotencyClaims
              .claim(w.idempotencyKey(), mine, CLAIM_LEASE)
              .toCompletableFuture()
              .handle(
                  (held, error) -> {
                    if (error != null) {
                      unclaimed.increment();
                      return new Claim(true, false, null);
                    }
                    if (held == null) {
                      return new Claim(true, true, null);
                    }
                    return decide(w, held);
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

  /** The claim {@code held} in Redis for {@code w}'s key: whose, and for which write. */
  private Claim decide(Write w, String held) {
    String[] parts = held.split(" ");
    if (parts.length < 3) {
      return new Claim(true, false, null); // not ours to interpret: the local record decides
    }
    if (parts[0].equals(writer)) {
      return new Claim(true, false, null); // this node's own claim: its store knows the outcome
    }
    remoteReplays.increment();
    boolean same =
        parts[1].equals(RedisSlots.counterName(w.counter()))
            && parts[2].equals(Long.toString(w.delta()));
    if (!same) {
      return new Claim(
          false,
          false,
          failure(
              new TallyException(
                  ErrorKind.IDEMPOTENCY_CONFLICT,
                  "this Idempotency-Key was already used for a different write")));
    }
    if (parts.length >= 5) {
      return new Claim(
          false,
          false,
          new WriteResult(
              Outcome.REPLAYED, Long.parseLong(parts[3]), Long.parseLong(parts[4]), null));
    }
    return new Claim(
        false,
        false,
        failure(
            new TallyException(
                ErrorKind.IN_PROGRESS,
                "another node is applying the write of this Idempotency-Key; retry shortly")));
  }

  private void afterClaims(Write[] writes, Claim[] claims, Aggregator.Callback callback) {
    List<Write> local = new ArrayList<>(writes.length);
    for (int i = 0; i < writes.length; i++) {
      if (claims[i].local()) {
        local.add(writes[i]);
      }
    }
    WriteResult[] out = new WriteResult[writes.length];
    boolean[] isLocal = new boolean[writes.length];
    boolean[] claimedHere = new boolean[writes.length];
    for (int i = 0; i < writes.length; i++) {
      out[i] = claims[i].answer();
      isLocal[i] = claims[i].local();
      claimedHere[i] = claims[i].claimedHere();
    }
    if (local.isEmpty()) {
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
            answer(writes, out, isLocal, claimedHere, callback);
          });
    } catch (TallyException e) {
      for (int i = 0; i < writes.length; i++) {
        if (claims[i].local()) {
          out[i] = failure(e);
        }
      }
      answer(writes, out, isLocal, claimedHere, callback);
    }
  }

  /**
   * Completes the answers: waits for the cluster if asked to, adds the other writers' share to the
   * counts of local results, and updates or releases the claims. Called on the committer thread
   * right after the commit, or on a Redis thread.
   */
  private void answer(
      Write[] writes,
      WriteResult[] results,
      boolean[] isLocal,
      boolean[] claimedHere,
      Aggregator.Callback callback) {
    long seq = sync.committedSeq();
    List<CounterId> ids = new ArrayList<>(writes.length);
    for (Write w : writes) {
      ids.add(w.counter());
    }
    boolean succeeded = false;
    for (int i = 0; i < results.length; i++) {
      succeeded |= isLocal[i] && results[i].outcome() != Outcome.FAILED;
    }
    boolean anyLocalSuccess = succeeded;
    CompletionStage<Void> confirmed =
        ack == Ack.CLUSTER && anyLocalSuccess
            ? sync.awaitPushed(seq, ackTimeout, maxWaiting)
            : CompletableFuture.completedFuture(null);
    confirmed
        .handle((ok, error) -> error)
        .thenCompose(
            ackError ->
                (anyLocalSuccess ? others(ids) : CompletableFuture.<long[]>completedFuture(null))
                    .handle(
                        (others, readError) -> {
                          finish(writes, results, isLocal, claimedHere, others, ackError);
                          return null;
                        }))
        .whenComplete(
            (ignored, error) -> {
              if (error != null) {
                log.error("completing cluster writes failed", error);
              }
              callback.done(results);
            });
  }

  /**
   * The other writers' share of {@code ids} for a write's answer, from the view: a write never
   * waits for Redis, nor makes the node follow a counter (that costs a Redis read per counter, as
   * much as the write itself; reads and streams follow what they show). A counter not followed
   * counts only this node's part in the answer (documented).
   */
  private CompletionStage<long[]> others(List<CounterId> ids) {
    long[] out = new long[ids.size()];
    for (int i = 0; i < out.length; i++) {
      FollowedCounters.Share s = view.peek(ids.get(i));
      if (s != null) {
        out[i] = s.others();
      }
    }
    return CompletableFuture.completedFuture(out);
  }

  private void finish(
      Write[] writes,
      WriteResult[] results,
      boolean[] isLocal,
      boolean[] claimedHere,
      long[] others,
      Throwable ackError) {
    for (int i = 0; i < writes.length; i++) {
      WriteResult r = results[i];
      Write w = writes[i];
      if (!isLocal[i]) {
        continue; // answered from another node's claim: already a cluster-wide answer
      }
      if (r.outcome() == Outcome.FAILED) {
        if (claimedHere[i]) {
          idempotencyClaims.release(w.idempotencyKey(), pending(w));
        }
        continue;
      }
      // without a known share (Redis unreachable, never read) the answer is this node's part
      long count = r.count() + (others == null ? 0 : others[i]);
      if (w.idempotencyKey() != null) {
        idempotencyClaims.update(
            w.idempotencyKey(), pending(w) + " " + count + " " + r.updatedAtSecond(), keyRetention);
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
  }

  private String pending(Write w) {
    return writer + " " + RedisSlots.counterName(w.counter()) + " " + w.delta();
  }

  private static WriteResult failure(TallyException e) {
    return new WriteResult(Outcome.FAILED, 0, 0, e);
  }
}
