package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The publishing half of the live bus in one region: announces the slots this node pushed to that
 * region's Redis Cluster on the region's bus channels, so the nodes whose home it is learn them at
 * once. The home region's publisher belongs to the {@link LiveBus}; each remote region gets one
 * too, fed by the pusher of that region, so that slots pushed across regions (a backlog after a
 * partition heals, or every write in steady state) reach that region's followed views within a
 * publish interval instead of the next anti-entropy sweep. Thread-safe.
 *
 * <p>{@link #pushed} (a pusher thread) puts each slot into its channel's pending map, coalesced per
 * counter (the newest slot wins: slots only grow) and bounded: when a channel has its share of
 * {@code maxPending} waiting, the slot updated longest ago is dropped and counted, and the channel
 * owes its subscribers a gap notice. {@link #flush} (the bus's scheduler thread) sends what waits
 * as SPUBLISH messages, one per channel with waiting slots (more if over {@link
 * LiveBus#MAX_ENTRIES_PER_MESSAGE}), except on a channel with {@code maxInFlightPerChannel}
 * messages unanswered: the slots of a slow or failed shard's channels wait, coalescing, while the
 * other channels go on. A publish that fails also owes a gap notice. Message format: {@link
 * LiveBus}.
 */
final class BusPublisher {

  private static final Logger log = LoggerFactory.getLogger(BusPublisher.class);

  /** One message being built: header, then entries of one bucket. */
  private static final class Message {
    final int bucket;
    final StringBuilder text;
    int entries;

    Message(int bucket, String writer, boolean gap) {
      this.bucket = bucket;
      this.text = new StringBuilder(256).append(LiveBus.VERSION).append(',').append(writer);
      if (gap) {
        text.append(',').append(LiveBus.GAP);
      }
    }
  }

  /** One channel's slots waiting to be published, oldest update first; guarded by itself. */
  private static final class Pending {
    LinkedHashMap<CounterId, CounterValue> waiting = new LinkedHashMap<>();
    boolean gap; // notifications of this channel were dropped or failed: tell the subscribers
  }

  private final RedisConnection redis;
  private final String writer;
  private final String region;
  private final String[] channels = new String[LiveBus.BUCKETS];
  private final Pending[] pending = new Pending[LiveBus.BUCKETS];
  private final int maxPendingPerChannel;
  private final int maxInFlightPerChannel;
  private final AtomicIntegerArray inFlight = new AtomicIntegerArray(LiveBus.BUCKETS);

  private final Counter published;
  private final Counter messages;
  private final Counter dropped;
  private final Counter failures;

  /**
   * @param redis the region's connection; publishing needs no subscription
   * @param writerId this node's writer id: the sender of its messages
   * @param region the region whose bus this is, the {@code region} tag of the meters
   */
  BusPublisher(
      RedisConnection redis,
      long writerId,
      String region,
      int maxPending,
      int maxInFlightPerChannel,
      MeterRegistry registry) {
    if (maxPending < 1 || maxInFlightPerChannel < 1) {
      throw new IllegalArgumentException("bounds must be positive");
    }
    this.redis = redis;
    this.writer = Long.toHexString(writerId);
    this.region = region;
    for (int b = 0; b < LiveBus.BUCKETS; b++) {
      channels[b] = LiveBus.channel(b);
      pending[b] = new Pending();
    }
    this.maxPendingPerChannel = Math.max(1, maxPending / LiveBus.BUCKETS);
    this.maxInFlightPerChannel = maxInFlightPerChannel;
    this.published =
        Counter.builder("tally.live.bus.slots.published")
            .description("Pushed counter slots published to the nodes of a region")
            .tag("region", region)
            .register(registry);
    this.messages =
        Counter.builder("tally.live.bus.messages.published")
            .description("Messages published to the nodes of a region (slots and probes)")
            .tag("region", region)
            .register(registry);
    this.dropped =
        Counter.builder("tally.live.bus.dropped")
            .description(
                "Slots dropped unpublished because too many were waiting (a gap notice follows)")
            .tag("region", region)
            .register(registry);
    this.failures = Presence.failures(registry, "publish");
    Gauge.builder("tally.live.bus.pending", this, BusPublisher::pendingCount)
        .description("Slots waiting to be published")
        .tag("region", region)
        .register(registry);
  }

  /** The region whose bus this publishes on. */
  String region() {
    return region;
  }

  /** Pusher thread: slots of this node that the region's Redis accepted. Never blocks. */
  void pushed(List<CounterId> ids, List<CounterValue> values) {
    int evicted = 0;
    for (int i = 0; i < ids.size(); i++) {
      CounterId id = ids.get(i);
      Pending box = pending[LiveBus.bucket(id.postId())];
      CounterValue v = values.get(i);
      synchronized (box) {
        // put back last: the eldest entry is the one updated longest ago
        CounterValue before = box.waiting.remove(id);
        if (before != null) {
          // merged, not replaced: a pusher may hand over an older slot after a newer one (after an
          // outage it pushes the outbox's counters with their stored values, then its in-memory
          // set, whose values can be older); publishing only the older one would leave the other
          // nodes behind until the anti-entropy sweep
          v = before.merge(v);
        } else if (box.waiting.size() >= maxPendingPerChannel) {
          Iterator<CounterId> eldest = box.waiting.keySet().iterator();
          eldest.next();
          eldest.remove();
          box.gap = true;
          evicted++;
        }
        box.waiting.put(id, v);
      }
    }
    if (evicted > 0) {
      dropped.increment(evicted);
    }
  }

  int pendingCount() {
    int n = 0;
    for (Pending box : pending) {
      synchronized (box) {
        n += box.waiting.size();
      }
    }
    return n;
  }

  /**
   * One thread at a time: publishes what waits, except on channels with too many messages
   * unanswered, whose slots keep waiting (and coalescing).
   */
  void flush() {
    for (int b = 0; b < LiveBus.BUCKETS; b++) {
      if (inFlight.get(b) >= maxInFlightPerChannel) {
        continue;
      }
      Pending box = pending[b];
      LinkedHashMap<CounterId, CounterValue> batch;
      boolean gap;
      synchronized (box) {
        if (box.waiting.isEmpty() && !box.gap) {
          continue;
        }
        batch = box.waiting;
        gap = box.gap;
        box.waiting = new LinkedHashMap<>();
        box.gap = false;
      }
      Message m = new Message(b, writer, gap);
      for (Map.Entry<CounterId, CounterValue> e : batch.entrySet()) {
        CounterId id = e.getKey();
        CounterValue v = e.getValue();
        StringBuilder t = m.text;
        base36(t.append(';'), id.postId());
        base36(t.append(','), id.code());
        base36(t.append(','), v.slot().p());
        base36(t.append(','), v.slot().n());
        base36(t.append(','), v.updatedAtSecond());
        if (++m.entries == LiveBus.MAX_ENTRIES_PER_MESSAGE) {
          publish(m);
          m = new Message(b, writer, false);
        }
      }
      if (m.entries > 0 || gap) {
        publish(m);
      }
    }
  }

  /**
   * Appends {@code v} as {@link Long#toString(long, int)} in base 36 would, without making that
   * string: a message carries five numbers a slot.
   */
  static void base36(StringBuilder to, long v) {
    if (v < 0) {
      to.append(Long.toString(v, 36));
      return;
    }
    int at = to.length();
    do {
      to.append(Character.forDigit((int) (v % 36), 36));
      v /= 36;
    } while (v > 0);
    // the digits went in least significant first
    for (int i = at, j = to.length() - 1; i < j; i++, j--) {
      char c = to.charAt(i);
      to.setCharAt(i, to.charAt(j));
      to.setCharAt(j, c);
    }
  }

  private void publish(Message m) {
    published.increment(m.entries);
    inFlight.incrementAndGet(m.bucket);
    send(m.bucket, m.text.toString())
        .whenComplete(
            (n, e) -> {
              inFlight.decrementAndGet(m.bucket);
              if (e != null) {
                // the subscribers missed these slots: they must read the channel's counters again
                Pending box = pending[m.bucket];
                synchronized (box) {
                  box.gap = true;
                }
              }
            });
  }

  /**
   * A message without slots: the subscribers (this node among them) hear the channel; {@code tag}
   * is its third header field (see {@link LiveBus}).
   */
  CompletionStage<Long> probe(int bucket, String tag) {
    return send(bucket, LiveBus.VERSION + ',' + writer + ',' + tag);
  }

  private CompletionStage<Long> send(int bucket, String text) {
    messages.increment();
    CompletionStage<Long> sent = redis.call(r -> r.spublish(channels[bucket], text));
    return sent.whenComplete(
        (n, e) -> {
          if (e != null) {
            failures.increment();
            log.debug(
                "live bus: publish to {} of region {} failed: {}",
                channels[bucket],
                region,
                e.toString());
          }
        });
  }
}
