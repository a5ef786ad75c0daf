package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.live.LiveHub;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live bus: carries the slots each node pushes to every other node over sharded pub/sub, where
 * they keep the {@link FollowedCounters} view (and through it the streams) current. Thread-safe;
 * made by the node on its home region's {@link RedisConnection}, {@link #start started} before HTTP
 * serves, {@link #close closed} before the connection. See ADR 0004 and ADR 0006.
 *
 * <p>Publishing ({@link BusPublisher}). The pusher hands each slot the home Redis accepted to
 * {@link #pushed}: it waits in its channel's bounded pending map, coalesced per counter, and a
 * flush every {@link Settings#publishInterval} sends what waits as SPUBLISH messages. A node with
 * remote regions publishes on each of their buses too ({@link #publishIn}): the slots it pushed to
 * a remote region's Redis reach that region's nodes as their own region's slots do, so after a
 * partition heals they learn the backlog as it is pushed, not at the next sweep.
 *
 * <p>Receiving. Every node subscribes to all {@link #BUCKETS} channels and merges the slots into
 * its view, which keeps those of the counters it follows; its own messages it skips. A gap notice
 * makes it read its followed counters of that channel from Redis again.
 *
 * <pre>
 *   channel  live:{&lt;bucket&gt;}        bucket = a fixed hash of the post id, 0..15; the hash
 *                                   tag spreads the 16 channels over the cluster's shards
 *   message  2,&lt;writer hex&gt;[,gap];&lt;post b36&gt;,&lt;code b36&gt;,&lt;P b36&gt;,&lt;N b36&gt;,&lt;second b36&gt;;…
 *            e.g. "2,3f2a9c;mk,1,mk,0,tpx3k0"
 *   probe    2,&lt;writer hex&gt;,p&lt;number b36&gt;.&lt;highest number Redis had accepted when sent, b36&gt;
 *            e.g. "2,3f2a9c,p1c.1b"
 * </pre>
 *
 * <p>Healing and freshness. Pub/sub delivers at most once: a message sent while a shard fails over
 * is lost, and Lettuce does not move sharded subscriptions to a promoted replica. So each channel
 * gets a numbered probe from this node every {@link Settings#probePeriod} it is silent, and at
 * least every {@link #PROBE_EVERY_MILLIS}. Redis delivers a channel's messages in the order it
 * accepted them, so when this node hears its own probe n, which says probe k was accepted before n
 * was sent, and it never heard k, its subscription lost messages: the channel's followed counters
 * are read again ({@code tally_live_bus_losses_total}). A probe that is merely late (a busy
 * machine, a slow shard) is no loss. A channel silent for {@link Settings#resubscribeAfter} is
 * subscribed again (after a topology refresh), and its followed counters read again. A channel
 * heard at time T has delivered everything published on it before T: that is the freshness reads
 * state ({@link #stalenessMillis}). The counters of posts with streams here are also read again
 * when a post starts being watched, after a resubscription and every {@link Settings#resyncPeriod},
 * which hands them to the streams.
 *
 * <p>Concurrency: {@link #pushed} runs on the pusher thread and takes short locks (each channel's
 * pending map); received messages run on the client's I/O threads; flushes and checks run on one
 * scheduler thread and only send commands, whose replies complete on I/O threads. Nothing here
 * blocks except {@link #start} and {@link #close}, each for at most the timeout.
 */
public final class LiveBus implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(LiveBus.class);

  /** Channels the slots are spread over; every node must use the same number. */
  public static final int BUCKETS = 16;

  /** Most slots in one message (about 25 bytes each). */
  static final int MAX_ENTRIES_PER_MESSAGE = 2048;

  /** First field of every message: the format's version. */
  static final String VERSION = "2";

  /** Every followed counter is read from Redis again within this time (anti-entropy). */
  static final long SWEEP_CYCLE_MILLIS = 30_000;

  /** Most followed counters read again per probe period by the sweep (2,000 a second). */
  static final int SWEEP_MAX_PER_TICK = 500;

  /** Times the channels that lost slots are read again after the first read. */
  static final int FOLLOW_UPS = 2;

  /** Time between those reads. */
  static final long FOLLOW_UP_MILLIS = 5_000;

  /** Third header field of a message announcing that notifications of its channel were lost. */
  static final String GAP = "gap";

  /** First character of a probe's third header field. */
  static final char PROBE = 'p';

  /** A busy channel, never silent, still gets one of this node's probes this often. */
  static final long PROBE_EVERY_MILLIS = 1_000;

  /**
   * Tuning; {@link #defaults()} is what a node uses.
   *
   * @param publishInterval how long pushed slots coalesce before they are published
   * @param probePeriod how often a channel silent for that long is probed: it bounds the stated
   *     staleness of an idle channel
   * @param resubscribeAfter how long a channel may stay silent before it is subscribed again
   * @param resyncPeriod how often the counters of every post with streams here are read again
   * @param maxPending most slots waiting to be published, in equal shares per channel; beyond its
   *     share a channel drops the slot updated longest ago and owes a gap notice
   * @param maxInFlightPerChannel most messages of one channel published and not yet answered
   */
  public record Settings(
      Duration publishInterval,
      Duration probePeriod,
      Duration resubscribeAfter,
      Duration resyncPeriod,
      int maxPending,
      int maxInFlightPerChannel) {

    public Settings {
      if (publishInterval.toMillis() < 1 || probePeriod.toMillis() < 10) {
        throw new IllegalArgumentException("publish interval or probe period too short");
      }
      if (resubscribeAfter.compareTo(probePeriod.multipliedBy(2)) < 0) {
        throw new IllegalArgumentException("resubscribe only after two probe periods at least");
      }
      if (maxPending < 1 || maxInFlightPerChannel < 1) {
        throw new IllegalArgumentException("bounds must be positive");
      }
    }

    public static Settings defaults() {
      return new Settings(
          Duration.ofMillis(50),
          Duration.ofMillis(250),
          Duration.ofSeconds(3),
          Duration.ofSeconds(10),
          100_000,
          4);
    }
  }

  private final RedisConnection redis;
  private final FollowedCounters view;
  private final LiveHub hub;
  private final Clock clock;
  private final Settings settings;
  private final String writer;
  private final long writerId;
  private final String[] channels = new String[BUCKETS];
  private final Map<String, Integer> bucketOfChannel = new HashMap<>();
  private final long timeoutMillis;
  private final ScheduledExecutorService scheduler = RedisClients.scheduler("tally-live-bus");
  private final BusPublisher home;
  // one per remote region, flushed with the home one; added before start
  private final List<BusPublisher> remotes = new java.util.concurrent.CopyOnWriteArrayList<>();
  private final MeterRegistry registry;
  private final AtomicIntegerArray probing = new AtomicIntegerArray(BUCKETS);
  // this node's probes per channel: last number sent and when (scheduler thread), highest number
  // Redis accepted, highest number heard back
  private final long[] probeSent = new long[BUCKETS];
  private final long[] probeSentMillis = new long[BUCKETS];
  private final AtomicLongArray probeAccepted = new AtomicLongArray(BUCKETS);
  private final AtomicLongArray probeHeard = new AtomicLongArray(BUCKETS);
  private final AtomicLongArray lastHeardMillis = new AtomicLongArray(BUCKETS);
  private final long[] lastSubscribeMillis = new long[BUCKETS]; // scheduler thread
  private volatile boolean started;
  // channels whose followed counters must be read again (lost slots); retried until a read succeeds
  private final Set<Integer> refreshDue = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.atomic.AtomicBoolean refreshing =
      new java.util.concurrent.atomic.AtomicBoolean();
  // channels read again a while after a loss (scheduler thread, and the refresh's completion)
  private final Set<Integer> laterDue = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.concurrent.ConcurrentHashMap<Integer, long[]> followUps =
      new java.util.concurrent.ConcurrentHashMap<>();
  private volatile WriterRetirement retirements;
  private volatile boolean resyncAll;
  private volatile boolean closed;
  private Set<Long> knownWatched = new HashSet<>(); // scheduler thread
  private long nextResyncMillis; // scheduler thread
  private int lastStaleLogged; // scheduler thread
  private long lastStaleLogMillis; // scheduler thread

  private final Counter received;
  private final Counter gaps;
  private final Counter losses;
  private final Counter resubscribes;
  private final Counter resyncFailures;
  private final Counter malformed;

  /**
   * @param redis the home region's connection (with pub/sub)
   * @param region the home region's name
   * @param writerId this node's writer id: the sender of its messages
   * @param view where received slots go
   * @param hub the streams, whose watched posts are read again from time to time
   */
  public LiveBus(
      RedisConnection redis,
      String region,
      long writerId,
      FollowedCounters view,
      LiveHub hub,
      Clock clock,
      MeterRegistry registry,
      Settings settings) {
    this.redis = redis;
    this.view = view;
    this.hub = hub;
    this.clock = clock;
    this.settings = settings;
    this.writer = Long.toHexString(writerId);
    this.writerId = writerId;
    this.timeoutMillis = redis.timeout().toMillis();
    for (int b = 0; b < BUCKETS; b++) {
      channels[b] = channel(b);
      bucketOfChannel.put(channels[b], b);
    }
    this.registry = registry;
    this.home = publisher(redis, region);
    io.micrometer.core.instrument.Gauge.builder(
            "tally.cluster.view.age", this, bus -> bus.longestStalenessMillis() / 1000.0)
        .description(
            "How old the other nodes' shares of followed counters may be, at most over all bus"
                + " channels (the bound reads state in Tally-Cluster-Age-Ms); -0.001 before the"
                + " bus started")
        .baseUnit("seconds")
        .register(registry);
    this.received =
        Counter.builder("tally.live.bus.slots.received")
            .description("Counter slots received from other nodes")
            .register(registry);
    this.gaps =
        Counter.builder("tally.live.bus.gaps.received")
            .description("Gap notices received: followed counters of the channel read again")
            .register(registry);
    this.losses =
        Counter.builder("tally.live.bus.losses")
            .description(
                "Own probes a channel lost while it delivered a later one: its followed counters"
                    + " read again")
            .register(registry);
    this.resubscribes =
        Counter.builder("tally.live.bus.resubscribes")
            .description("Bus channels subscribed again after they fell silent")
            .register(registry);
    this.resyncFailures = Presence.failures(registry, "resync");
    this.malformed =
        Counter.builder("tally.live.bus.malformed")
            .description("Bus messages ignored because they could not be read")
            .register(registry);
  }

  /**
   * Where retired writers are learned, every resync period, for the view ({@link
   * FollowedCounters#retired}).
   */
  public void watchRetirements(WriterRetirement retirements) {
    this.retirements = retirements;
  }

  /**
   * Subscribes to every channel (waiting up to the timeout; a channel that fails is retried by the
   * periodic check; while Redis is unreachable, once connected) and starts publishing and checking.
   */
  public void start() {
    long now = clock.millis();
    for (int b = 0; b < BUCKETS; b++) {
      lastHeardMillis.set(b, now);
      lastSubscribeMillis[b] = now;
    }
    started = true;
    CompletableFuture<Void> subscribed = new CompletableFuture<>();
    redis.whenConnected(
        c -> {
          StatefulRedisClusterPubSubConnection<String, String> p = c.pubsub();
          p.setNodeMessagePropagation(true);
          p.addListener(
              new RedisClusterPubSubAdapter<>() {
                @Override
                public void smessage(RedisClusterNode node, String channel, String message) {
                  onMessage(channel, message);
                }
              });
          List<CompletableFuture<Void>> subs = new ArrayList<>(BUCKETS);
          for (int b = 0; b < BUCKETS; b++) {
            subs.add(p.async().ssubscribe(channels[b]).toCompletableFuture());
          }
          resyncAll = true; // nothing was heard before: the streams get fresh counts
          CompletableFuture.allOf(subs.toArray(CompletableFuture<?>[]::new))
              .whenComplete((v, e) -> subscribed.complete(null));
        });
    try {
      subscribed.get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while subscribing", e);
    } catch (Exception e) {
      log.warn("live bus: not every channel is subscribed yet, retrying: {}", e.toString());
    }
    nextResyncMillis = now + settings.resyncPeriod().toMillis();
    long publish = settings.publishInterval().toMillis();
    long probe = settings.probePeriod().toMillis();
    scheduler.scheduleWithFixedDelay(
        () -> guarded("publishing pushed slots", this::flush),
        publish,
        publish,
        TimeUnit.MILLISECONDS);
    scheduler.scheduleWithFixedDelay(
        () -> guarded("checking the live bus", this::checkBus),
        probe,
        probe,
        TimeUnit.MILLISECONDS);
  }

  private void guarded(String what, Runnable task) {
    if (closed) {
      return;
    }
    try {
      task.run();
    } catch (RuntimeException e) {
      log.error("{} failed", what, e);
    }
  }

  // ---- bus: publishing

  /**
   * Pusher thread: slots of this node that its home Redis accepted; queued for the other nodes.
   * Never blocks.
   */
  public void pushed(List<CounterId> ids, List<CounterValue> values) {
    home.pushed(ids, values);
  }

  /**
   * Publishes on a remote region's bus too: the returned consumer takes the slots this node pushed
   * to that region's Redis (its pusher), and the nodes whose home that region is learn them within
   * a publish interval, as from their own region's nodes. Call before {@link #start}.
   *
   * @param redis the remote region's connection; publishing needs no subscription
   */
  public java.util.function.BiConsumer<List<CounterId>, List<CounterValue>> publishIn(
      String region, RedisConnection redis) {
    BusPublisher p = publisher(redis, region);
    remotes.add(p);
    return p::pushed;
  }

  private BusPublisher publisher(RedisConnection connection, String region) {
    return new BusPublisher(
        connection,
        writerId,
        region,
        settings.maxPending(),
        settings.maxInFlightPerChannel(),
        registry);
  }

  /** Scheduler thread: publishes what waits, in the home region and every remote one. */
  private void flush() {
    home.flush();
    for (BusPublisher p : remotes) {
      p.flush();
    }
  }

  /**
   * Scheduler thread: a numbered message without slots, so that this node hears the channel even
   * when nothing happens, and learns whether it lost messages. One probe per channel at a time.
   */
  private void probe(int bucket, long now) {
    if (probing.compareAndSet(bucket, 0, 1)) {
      long number = ++probeSent[bucket];
      probeSentMillis[bucket] = now;
      String tag =
          PROBE + Long.toString(number, 36) + '.' + Long.toString(probeAccepted.get(bucket), 36);
      home.probe(bucket, tag)
          .whenComplete(
              (n, e) -> {
                if (e == null) {
                  probeAccepted.accumulateAndGet(bucket, number, Math::max);
                }
                probing.set(bucket, 0);
              });
    }
  }

  /** I/O thread: this node's own probe came back; were earlier ones lost on the way? */
  private void heardOwnProbe(int bucket, String tag) {
    int dot = tag.indexOf('.');
    long number = Long.parseLong(tag, 1, dot, 36);
    long acceptedBefore = Long.parseLong(tag, dot + 1, tag.length(), 36);
    long heard = probeHeard.getAndAccumulate(bucket, number, Math::max);
    if (acceptedBefore > heard) {
      losses.increment();
      refreshDue.add(bucket);
      log.debug(
          "live bus: probe {} of {} was lost, probe {} arrived",
          acceptedBefore,
          channels[bucket],
          number);
    }
  }

  // ---- bus: receiving

  /** Redis I/O thread: one message of a bus channel. */
  void onMessage(String channel, String message) {
    Integer bucket = bucketOfChannel.get(channel);
    if (bucket == null) {
      return;
    }
    lastHeardMillis.set(bucket, clock.millis());
    try {
      deliver(bucket, message);
    } catch (RuntimeException e) {
      malformed.increment();
      log.debug("live bus: ignoring a malformed message on {}: {}", channel, e.toString());
    }
  }

  private void deliver(int bucket, String message) {
    int end = message.indexOf(';');
    String header = end < 0 ? message : message.substring(0, end);
    String[] h = header.split(",", -1);
    if (h.length < 2 || h.length > 3 || !h[0].equals(VERSION)) {
      throw new IllegalArgumentException("unknown header " + header);
    }
    boolean probe = h.length == 3 && !h[2].isEmpty() && h[2].charAt(0) == PROBE;
    if (h[1].equals(writer)) {
      if (probe) {
        heardOwnProbe(bucket, h[2]);
      }
      return; // this node's own slots: it holds them already
    }
    long from = Long.parseUnsignedLong(h[1], 16);
    if (h.length == 3 && !probe) {
      if (!h[2].equals(GAP)) {
        throw new IllegalArgumentException("unknown header " + header);
      }
      gaps.increment();
      refreshDue.add(bucket);
    }
    if (end < 0) {
      return; // a probe, or a gap notice alone
    }
    int pos = end + 1;
    int entries = 0;
    long[] f = new long[5];
    while (pos <= message.length()) {
      int next = message.indexOf(';', pos);
      if (next < 0) {
        next = message.length();
      }
      int k = 0;
      int start = pos;
      for (int c = pos; c <= next && k < 5; c++) {
        if (c == next || message.charAt(c) == ',') {
          f[k++] = Long.parseLong(message, start, c, 36);
          start = c + 1;
        }
      }
      if (k != 5 || start != next + 1) {
        throw new IllegalArgumentException("bad entry at " + pos);
      }
      view.merge(new CounterId(f[0], (int) f[1]), from, f[2], f[3], f[4]);
      entries++;
      pos = next + 1;
    }
    received.increment(entries);
  }

  /**
   * How old the other writers' shares of {@code postId}'s counters may be here: the time since this
   * node last heard the post's channel (everything published on it before was delivered), plus the
   * publish interval (how long a pushed slot waits to be published); -1 before the bus started.
   */
  public long stalenessMillis(long postId) {
    if (!started) {
      return -1;
    }
    long silent = Math.max(0, clock.millis() - lastHeardMillis.get(bucket(postId)));
    return silent + settings.publishInterval().toMillis();
  }

  /** The largest {@link #stalenessMillis} over all channels; -1 before the bus started. */
  public long longestStalenessMillis() {
    if (!started) {
      return -1;
    }
    long oldest = Long.MAX_VALUE;
    for (int b = 0; b < BUCKETS; b++) {
      oldest = Math.min(oldest, lastHeardMillis.get(b));
    }
    return Math.max(0, clock.millis() - oldest) + settings.publishInterval().toMillis();
  }

  /**
   * Scheduler thread, every probe period: probes channels silent for a probe period, and subscribes
   * again those silent for {@link Settings#resubscribeAfter} (then reads their followed counters
   * again).
   */
  private void checkBus() {
    long now = clock.millis();
    resync(now);
    refreshLost();
    view.sweep(settings.probePeriod().toMillis(), SWEEP_CYCLE_MILLIS, SWEEP_MAX_PER_TICK)
        .whenComplete(
            (v, e) -> {
              if (e != null) {
                resyncFailures.increment();
              }
            });
    long resubscribe = settings.resubscribeAfter().toMillis();
    long probe = settings.probePeriod().toMillis();
    List<Integer> stale = new ArrayList<>();
    for (int b = 0; b < BUCKETS; b++) {
      long silent = now - lastHeardMillis.get(b);
      if (silent >= probe || now - probeSentMillis[b] >= PROBE_EVERY_MILLIS) {
        probe(b, now);
      }
      if (silent > resubscribe && now - lastSubscribeMillis[b] > resubscribe) {
        lastSubscribeMillis[b] = now;
        stale.add(b);
      }
    }
    StatefulRedisClusterPubSubConnection<String, String> pubsub = redis.pubsub();
    if (stale.isEmpty() || pubsub == null) {
      return; // (not connected yet: the connection subscribes every channel once made)
    }
    resubscribes.increment(stale.size());
    if (stale.size() != lastStaleLogged || now - lastStaleLogMillis > 60_000) {
      lastStaleLogged = stale.size();
      lastStaleLogMillis = now;
      log.info(
          "live bus: {} channel(s) silent for {} ms, subscribing again", stale.size(), resubscribe);
    }
    // the shard may have failed over: learn the new owners first
    redis
        .client()
        .refreshPartitionsAsync()
        .handle((v, e) -> null)
        .thenCompose(
            v -> {
              List<CompletableFuture<Void>> subs = new ArrayList<>(stale.size());
              for (int b : stale) {
                subs.add(pubsub.async().ssubscribe(channels[b]).toCompletableFuture());
              }
              return CompletableFuture.allOf(subs.toArray(CompletableFuture<?>[]::new));
            })
        .whenComplete(
            (v, e) -> {
              if (e != null) {
                log.debug("live bus: subscribing again failed, will retry: {}", e.toString());
              } else {
                // slots published while the channel was lost are missed
                resyncAll = true;
                refreshDue.addAll(stale);
              }
            });
  }

  /**
   * Scheduler thread: reads again the followed counters of the channels that lost slots (a gap
   * notice, a silence, a resubscription), one read at a time; a failed read puts them back. After a
   * loss the same channels are read again {@link #FOLLOW_UPS} times, {@link #FOLLOW_UP_MILLIS}
   * apart: around a failover, writers push what the new primary lost a few seconds later, and those
   * slots' notices may be lost too while subscriptions move.
   */
  private void refreshLost() {
    long now = clock.millis();
    for (Map.Entry<Integer, long[]> f : followUps.entrySet()) {
      long[] dueAndLeft = f.getValue();
      if (dueAndLeft[0] <= now) {
        laterDue.add(f.getKey());
        if (--dueAndLeft[1] <= 0) {
          followUps.remove(f.getKey(), dueAndLeft);
        } else {
          dueAndLeft[0] = now + FOLLOW_UP_MILLIS;
        }
      }
    }
    if ((refreshDue.isEmpty() && laterDue.isEmpty()) || !refreshing.compareAndSet(false, true)) {
      return;
    }
    Set<Integer> lost = new HashSet<>(refreshDue);
    refreshDue.removeAll(lost);
    Set<Integer> again = new HashSet<>(laterDue);
    laterDue.removeAll(again);
    Set<Integer> buckets = new HashSet<>(lost);
    buckets.addAll(again);
    view.refresh(id -> buckets.contains(bucket(id.postId())))
        .whenComplete(
            (v, e) -> {
              if (e != null) {
                refreshDue.addAll(lost);
                laterDue.addAll(again);
                resyncFailures.increment();
                log.debug(
                    "live bus: reading lost slots again failed, will retry: {}", e.toString());
              } else {
                long due = clock.millis() + FOLLOW_UP_MILLIS;
                for (int b : lost) {
                  followUps.put(b, new long[] {due, FOLLOW_UPS});
                }
              }
              refreshing.set(false);
            });
  }

  /**
   * Reads again from Redis the counters of posts with streams here, so the streams catch up with
   * anything the bus lost: the newly watched each period, all of them after a channel was
   * subscribed again and every resync period.
   */
  private void resync(long now) {
    Set<Long> watched = new HashSet<>(hub.watchedPosts());
    List<Long> posts = new ArrayList<>();
    if (resyncAll || now >= nextResyncMillis) {
      resyncAll = false;
      nextResyncMillis = now + settings.resyncPeriod().toMillis();
      posts.addAll(watched);
      WriterRetirement r = retirements;
      if (r != null) {
        r.retired()
            .thenCompose(view::retired)
            .whenComplete(
                (v, e) -> {
                  if (e != null) {
                    resyncFailures.increment();
                  }
                });
      }
    } else {
      for (Long postId : watched) {
        if (!knownWatched.contains(postId)) {
          posts.add(postId);
        }
      }
    }
    knownWatched = watched;
    List<CounterId> ids = new ArrayList<>();
    for (long postId : posts) {
      ids.addAll(hub.counterIds(postId));
    }
    if (!ids.isEmpty()) {
      view.resync(ids)
          .whenComplete(
              (v, e) -> {
                if (e != null) {
                  resyncFailures.increment();
                }
              });
    }
  }

  /**
   * Stops publishing and checking; slots not yet published are dropped (their next push, or the
   * others' resync, carries them). The shared connection stays open for its owner to close.
   */
  @Override
  public void close() {
    closed = true;
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- layout

  /** The bus bucket of a post: the same on every node. */
  static int bucket(long postId) {
    return (int) ((postId * 0x9E3779B97F4A7C15L) >>> 60); // top 4 bits: 0..15
  }

  /** The channel of a bucket; the hash tag decides the shard it lives on. */
  static String channel(int bucket) {
    return "live:{" + bucket + "}";
  }
}
