package dev.tally.cluster;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.live.ClusterViewers;
import dev.tally.live.LiveGauge;
import dev.tally.live.LiveHub;
import dev.tally.live.LiveService;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live counts across the nodes of a cluster, over Redis Cluster: carries the slots each node pushes
 * to every other node (sharded pub/sub), where they keep the {@link FollowedCounters} view and the
 * streams current, and sums the nodes' live viewers (a presence hash per post). Thread-safe;
 * created by the node after its {@link LiveService}, {@link #start started} before HTTP serves,
 * {@link #close closed} before the service. See ADR 0004.
 *
 * <p>Bus. The pusher hands each slot Redis accepted to {@link #pushed}: it goes into its channel's
 * pending map, coalesced per counter (the newest slot wins: slots only grow) and bounded: when a
 * channel has its share of {@link Settings#maxPending} waiting, the slot updated longest ago is
 * dropped and counted, and the channel owes its subscribers a gap notice. A flush every {@link
 * Settings#publishInterval} sends what waits as SPUBLISH messages, one per channel with waiting
 * slots (more if over {@link #MAX_ENTRIES_PER_MESSAGE}), except on a channel with {@link
 * Settings#maxInFlightPerChannel} messages unanswered: the slots of a slow or failed shard's
 * channels wait in their bounded maps, coalescing, while the other channels go on. A publish that
 * fails also owes a gap notice. Every node subscribes to all {@link #BUCKETS} channels and merges
 * the slots into its {@link FollowedCounters} (which passes changed counts of watched posts to the
 * streams); its own messages it skips. A gap notice makes the receivers read their followed
 * counters of that channel from Redis again.
 *
 * <pre>
 *   channel  live:{&lt;bucket&gt;}        bucket = a fixed hash of the post id, 0..63; the hash
 *                                   tag spreads the 64 channels over the cluster's shards
 *   message  2,&lt;writer hex&gt;[,gap];&lt;post b36&gt;,&lt;code b36&gt;,&lt;P b36&gt;,&lt;N b36&gt;,&lt;second b36&gt;;…
 *            e.g. "2,3f2a9c;mk,1,mk,0,tpx3k0"  (no entries: a probe)
 * </pre>
 *
 * <p>Presence. Every {@link Settings#reportPeriod}, for each post with viewers here (and once with
 * 0 after they leave) a script records this node's count in the post's hash, and returns the other
 * nodes' fresh shares, which go to {@link LiveGauge#remoteShares}; posts asked about here ({@link
 * #asked}) are read the same way for a while. So reads of {@code live} are answered from memory, at
 * most about two periods behind, and a node that stops reporting drops out when its share expires
 * (three periods), on the Redis server's clock.
 *
 * <pre>
 *   key    lv:{&lt;post b36&gt;}      same hash tag as the post's counters (t:{&lt;post b36&gt;}:&lt;code&gt;)
 *   field  &lt;writer hex&gt;  →  "&lt;viewers&gt;:&lt;expires at, server ms&gt;"
 * </pre>
 *
 * <p>Healing. Pub/sub delivers at most once: a message sent while a shard fails over is lost, and
 * Lettuce does not move sharded subscriptions to a promoted replica. So each period every channel
 * silent for a period gets a probe from this node, and a channel silent for three periods is
 * subscribed again (after a topology refresh); after that, and every {@link Settings#resyncPeriod}
 * anyway, the totals of every post with streams here are read from Redis and handed to the hub,
 * which sends only what changed. That also heals totals dropped from a full pending map, and two
 * nodes' totals of one counter arriving in the opposite order of their pushes.
 *
 * <p>Concurrency: {@link #totals} runs on the pusher's Redis I/O threads and takes short locks
 * (each channel's pending map); received messages run on this client's I/O threads and only read;
 * flushes, reports and checks run on one scheduler thread and only send commands, whose replies
 * complete on I/O threads. Nothing here blocks except {@link #start} and {@link #close}, each for
 * at most the timeout.
 */
public final class RedisLive implements ClusterViewers, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RedisLive.class);

  /** Channels the totals are spread over; every node must use the same number. */
  public static final int BUCKETS = 64;

  /** Most totals in one message (about 16 bytes each). */
  static final int MAX_ENTRIES_PER_MESSAGE = 2048;

  /** First field of every message: the format's version. */
  static final String VERSION = "2";

  /** Third header field of a message announcing that notifications of its channel were lost. */
  static final String GAP = "gap";

  /** How long a read of {@code live} waits for Redis at most before answering what it knows. */
  private static final Duration MAX_READ_WAIT = Duration.ofSeconds(1);

  /** Most posts whose other shares are kept fresh because they were asked about. */
  private static final int MAX_ASKED = 100_000;

  /** Presence scripts unanswered beyond which a period's report is skipped. */
  private static final int MAX_PRESENCE_IN_FLIGHT = 50_000;

  static final LuaScript PRESENCE = LuaScript.load("live-presence.lua");
  static final String PRESENCE_SCRIPT = PRESENCE.text();

  /**
   * Tuning; {@link #defaults()} is what a node uses.
   *
   * @param publishInterval how long pushed slots coalesce before they are published
   * @param reportPeriod how often presence is recorded and read, and the bus checked; a share
   *     counts for three periods
   * @param resyncPeriod how often the totals of every post with streams here are read from Redis
   * @param askedRetention how long a post asked about keeps its other shares fresh
   * @param maxPending most slots waiting to be published, in equal shares per channel; beyond its
   *     share a channel drops the slot updated longest ago and owes a gap notice
   * @param probePeriod how often a channel silent for that long is probed: it bounds the stated
   *     staleness of an idle channel
   * @param maxInFlightPerChannel most messages of one channel published and not yet answered
   */
  public record Settings(
      Duration publishInterval,
      Duration reportPeriod,
      Duration resyncPeriod,
      Duration askedRetention,
      int maxPending,
      int maxInFlightPerChannel,
      Duration probePeriod) {

    public Settings {
      if (probePeriod.toMillis() < 10 || probePeriod.compareTo(reportPeriod) > 0) {
        throw new IllegalArgumentException("probe period must be 10 ms .. the report period");
      }
      if (publishInterval.toMillis() < 1 || reportPeriod.toMillis() < 10) {
        throw new IllegalArgumentException("publish interval and report period are too short");
      }
      if (resyncPeriod.compareTo(reportPeriod) < 0) {
        throw new IllegalArgumentException("resync period must be at least the report period");
      }
      if (maxPending < 1 || maxInFlightPerChannel < 1) {
        throw new IllegalArgumentException("bounds must be positive");
      }
    }

    public static Settings defaults() {
      return new Settings(
          Duration.ofMillis(50),
          Duration.ofSeconds(1),
          Duration.ofSeconds(10),
          Duration.ofSeconds(10),
          100_000,
          4,
          Duration.ofMillis(250));
    }

    /** How long one node's recorded share counts. */
    public Duration shareTtl() {
      return reportPeriod.multipliedBy(3);
    }
  }

  /** One message being built: header, then entries of one bucket. */
  private static final class Message {
    final int bucket;
    final StringBuilder text;
    int entries;

    Message(int bucket, String writer, boolean gap) {
      this.bucket = bucket;
      this.text = new StringBuilder(256).append(VERSION).append(',').append(writer);
      if (gap) {
        text.append(',').append(GAP);
      }
    }
  }

  private final LiveHub hub;
  private final LiveGauge gauge;
  private final LiveService live;
  private final FollowedCounters view;
  private final Clock clock;
  private final Settings settings;
  private final String writer;
  private final String[] channels = new String[BUCKETS];
  private final Map<String, Integer> bucketOfChannel = new HashMap<>();
  private final long readWaitMillis;
  private final long timeoutMillis;

  private final RedisClusterClient client;
  private final RedisOptions options;
  // null until connected: a node may start while Redis is unreachable (see the constructor)
  private volatile StatefulRedisClusterConnection<String, String> connection;
  private volatile RedisAdvancedClusterAsyncCommands<String, String> redis;
  private volatile StatefulRedisClusterPubSubConnection<String, String> pubsub;
  private volatile boolean started;
  private final ScheduledExecutorService scheduler =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "tally-live-cluster");
            t.setDaemon(true);
            return t;
          });

  /** One channel's slots waiting to be published, oldest update first; guarded by itself. */
  private static final class Outbox {
    LinkedHashMap<CounterId, CounterValue> waiting = new LinkedHashMap<>();
    boolean gap; // notifications of this channel were dropped or failed: tell the subscribers
  }

  private final Outbox[] outboxes = new Outbox[BUCKETS];
  private final int maxPendingPerChannel;
  private final AtomicIntegerArray inFlight = new AtomicIntegerArray(BUCKETS);
  private final AtomicIntegerArray probing = new AtomicIntegerArray(BUCKETS);
  private final AtomicInteger presenceInFlight = new AtomicInteger();
  private final AtomicLongArray lastHeardMillis = new AtomicLongArray(BUCKETS);
  private final long[] lastSubscribeMillis = new long[BUCKETS]; // scheduler thread
  private final ConcurrentHashMap<Long, Long> askedAtMillis = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Long, CompletableFuture<Void>> fetching =
      new ConcurrentHashMap<>();
  private volatile boolean resyncAll;
  private volatile boolean closed;
  private Set<Long> reported = new HashSet<>(); // scheduler thread
  private Set<Long> knownWatched = new HashSet<>(); // scheduler thread
  private long nextResyncMillis; // scheduler thread
  private int lastStaleLogged; // scheduler thread
  private long lastStaleLogMillis; // scheduler thread

  private final Counter published;
  private final Counter messages;
  private final Counter received;
  private final Counter dropped;
  private final Counter resubscribes;
  private final Counter publishFailures;
  private final Counter presenceFailures;
  private final Counter resyncFailures;
  private final Counter malformed;
  private final Counter gaps;
  private volatile int reportedPosts;

  /** Connects with {@link Settings#defaults()}; see the full constructor. */
  public RedisLive(
      List<String> seeds,
      long writerId,
      Duration timeout,
      LiveService live,
      FollowedCounters view,
      Clock clock,
      MeterRegistry registry) {
    this(seeds, writerId, timeout, live, view, clock, registry, Settings.defaults());
  }

  /** Connects with {@code options} (credentials, TLS) and {@link Settings#defaults()}. */
  public RedisLive(
      RedisOptions options,
      long writerId,
      LiveService live,
      FollowedCounters view,
      Clock clock,
      MeterRegistry registry) {
    this(options, writerId, live, view, clock, registry, Settings.defaults());
  }

  /** Connects without credentials or TLS; see the full constructor. */
  public RedisLive(
      List<String> seeds,
      long writerId,
      Duration timeout,
      LiveService live,
      FollowedCounters view,
      Clock clock,
      MeterRegistry registry,
      Settings settings) {
    this(RedisOptions.plain(seeds, timeout), writerId, live, view, clock, registry, settings);
  }

  /**
   * Connects to the cluster through any of {@code options}' seeds ("host:port"), with its
   * credentials and TLS; nothing is sent or subscribed before {@link #start}. When no seed answers,
   * it keeps connecting in the background (every second) and subscribes once connected; until then
   * live totals of other nodes and their viewers are not seen here, as during an outage.
   *
   * @param writerId this node's stable writer id (its presence field and message sender)
   * @throws RedisRefusedException when the cluster refuses the credentials or the TLS handshake
   */
  public RedisLive(
      RedisOptions options,
      long writerId,
      LiveService live,
      FollowedCounters view,
      Clock clock,
      MeterRegistry registry,
      Settings settings) {
    Duration timeout = options.timeout();
    this.live = live;
    this.view = view;
    this.hub = live.hub();
    this.gauge = live.gauge();
    this.clock = clock;
    this.settings = settings;
    this.writer = Long.toHexString(writerId);
    this.timeoutMillis = timeout.toMillis();
    this.readWaitMillis = Math.min(timeoutMillis, MAX_READ_WAIT.toMillis());
    for (int b = 0; b < BUCKETS; b++) {
      channels[b] = channel(b);
      bucketOfChannel.put(channels[b], b);
      outboxes[b] = new Outbox();
    }
    this.maxPendingPerChannel = Math.max(1, settings.maxPending() / BUCKETS);
    this.options = options;
    this.client = RedisClients.create(options);
    try {
      connect();
    } catch (RuntimeException e) {
      if (RedisClients.refuses(e)) {
        client.shutdown();
        throw e;
      }
      log.warn("live bus: Redis not reachable ({}), connecting in the background", e.getMessage());
      RedisClients.connectInBackground(
          "tally-live-connect",
          "live bus",
          () -> closed,
          () -> {
            connect();
            if (closed) {
              closeConnections();
            }
          },
          refused -> {});
    }

    this.published =
        Counter.builder("tally.live.bus.slots.published")
            .description("Pushed counter slots published to the other nodes")
            .register(registry);
    this.messages =
        Counter.builder("tally.live.bus.messages.published")
            .description("Messages published to the other nodes (totals and probes)")
            .register(registry);
    this.received =
        Counter.builder("tally.live.bus.slots.received")
            .description("Counter slots received from other nodes")
            .register(registry);
    this.dropped =
        Counter.builder("tally.live.bus.dropped")
            .description(
                "Slots dropped unpublished because too many were waiting (a gap notice follows)")
            .register(registry);
    this.gaps =
        Counter.builder("tally.live.bus.gaps.received")
            .description("Gap notices received: followed counters of the channel read again")
            .register(registry);
    this.resubscribes =
        Counter.builder("tally.live.bus.resubscribes")
            .description("Bus channels subscribed again after they fell silent")
            .register(registry);
    this.publishFailures = failures(registry, "publish");
    this.presenceFailures = failures(registry, "presence");
    this.resyncFailures = failures(registry, "resync");
    this.malformed =
        Counter.builder("tally.live.bus.malformed")
            .description("Bus messages ignored because they could not be read")
            .register(registry);
    Gauge.builder("tally.live.bus.pending", this, RedisLive::pendingCount)
        .description("Slots waiting to be published")
        .register(registry);
    Gauge.builder("tally.live.presence.posts", this, r -> r.reportedPosts)
        .description("Posts whose viewers on this node were recorded in Redis last period")
        .register(registry);
  }

  /** One attempt: both connections, then published; subscribes at once if already started. */
  private void connect() {
    StatefulRedisClusterConnection<String, String> c;
    StatefulRedisClusterPubSubConnection<String, String> p;
    try {
      c = client.connect();
    } catch (RuntimeException e) {
      throw RedisClients.explain(e, options);
    }
    try {
      p = client.connectPubSub();
    } catch (RuntimeException e) {
      c.close();
      throw RedisClients.explain(e, options);
    }
    p.setNodeMessagePropagation(true);
    p.addListener(
        new RedisClusterPubSubAdapter<>() {
          @Override
          public void smessage(RedisClusterNode node, String channel, String message) {
            onMessage(channel, message);
          }
        });
    this.redis = c.async();
    this.connection = c;
    this.pubsub = p;
    if (started) {
      // connected after start(): subscribe now; the periodic check retries what fails, and
      // streams get fresh totals since nothing was heard before
      for (int b = 0; b < BUCKETS; b++) {
        p.async().ssubscribe(channels[b]);
      }
      resyncAll = true;
    }
  }

  private <T> CompletableFuture<T> notConnected() {
    return CompletableFuture.failedFuture(
        new io.lettuce.core.RedisConnectionException("not connected to Redis yet"));
  }

  private static Counter failures(MeterRegistry registry, String op) {
    return Counter.builder("tally.live.redis.failures")
        .description("Redis commands of live counts that failed (they are retried or healed)")
        .tag("op", op)
        .register(registry);
  }

  /**
   * Switches the node's live counts to cluster mode ({@link LiveService#useCluster}), subscribes to
   * every bus channel (waiting up to the timeout; a channel that fails is retried by the periodic
   * check) and starts publishing and reporting.
   */
  public void start() {
    live.useCluster(this);
    long now = clock.millis();
    List<CompletableFuture<Void>> subs = new ArrayList<>(BUCKETS);
    StatefulRedisClusterPubSubConnection<String, String> pubsub = this.pubsub;
    started = true;
    for (int b = 0; b < BUCKETS; b++) {
      lastHeardMillis.set(b, now);
      lastSubscribeMillis[b] = now;
      if (pubsub != null) {
        subs.add(pubsub.async().ssubscribe(channels[b]).toCompletableFuture());
      }
    }
    try {
      CompletableFuture.allOf(subs.toArray(CompletableFuture<?>[]::new))
          .get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while subscribing", e);
    } catch (Exception e) {
      log.warn("live bus: not every channel is subscribed yet, retrying: {}", e.toString());
    }
    nextResyncMillis = now + settings.resyncPeriod().toMillis();
    long publish = settings.publishInterval().toMillis();
    long report = settings.reportPeriod().toMillis();
    scheduler.scheduleWithFixedDelay(
        () -> guarded("publishing live totals", this::flush),
        publish,
        publish,
        TimeUnit.MILLISECONDS);
    scheduler.scheduleWithFixedDelay(
        () -> guarded("reporting live viewers", this::round), 0, report, TimeUnit.MILLISECONDS);
    long probe = settings.probePeriod().toMillis();
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
    int evicted = 0;
    for (int i = 0; i < ids.size(); i++) {
      CounterId id = ids.get(i);
      Outbox box = outboxes[bucket(id.postId())];
      synchronized (box) {
        // put back last: the eldest entry is the one updated longest ago
        if (box.waiting.remove(id) == null && box.waiting.size() >= maxPendingPerChannel) {
          Iterator<CounterId> eldest = box.waiting.keySet().iterator();
          eldest.next();
          eldest.remove();
          box.gap = true;
          evicted++;
        }
        box.waiting.put(id, values.get(i));
      }
    }
    if (evicted > 0) {
      dropped.increment(evicted);
    }
  }

  private int pendingCount() {
    int n = 0;
    for (Outbox box : outboxes) {
      synchronized (box) {
        n += box.waiting.size();
      }
    }
    return n;
  }

  /**
   * Scheduler thread: publishes what waits, except on channels with too many messages unanswered,
   * whose slots keep waiting (and coalescing).
   */
  private void flush() {
    for (int b = 0; b < BUCKETS; b++) {
      if (inFlight.get(b) >= settings.maxInFlightPerChannel()) {
        continue;
      }
      Outbox box = outboxes[b];
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
        m.text.append(';').append(Long.toString(id.postId(), 36));
        m.text.append(',').append(Integer.toString(id.code(), 36));
        m.text.append(',').append(Long.toString(v.slot().p(), 36));
        m.text.append(',').append(Long.toString(v.slot().n(), 36));
        m.text.append(',').append(Long.toString(v.updatedAtSecond(), 36));
        if (++m.entries == MAX_ENTRIES_PER_MESSAGE) {
          publish(m);
          m = new Message(b, writer, false);
        }
      }
      if (m.entries > 0 || gap) {
        publish(m);
      }
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
                Outbox box = outboxes[m.bucket];
                synchronized (box) {
                  box.gap = true;
                }
              }
            });
  }

  /** A message without slots, so that this node hears the channel even when nothing happens. */
  private void probe(int bucket) {
    if (probing.compareAndSet(bucket, 0, 1)) {
      send(bucket, VERSION + ',' + writer).whenComplete((n, e) -> probing.set(bucket, 0));
    }
  }

  private CompletionStage<Long> send(int bucket, String text) {
    messages.increment();
    RedisAdvancedClusterAsyncCommands<String, String> redis = this.redis;
    CompletionStage<Long> sent =
        redis == null ? notConnected() : redis.spublish(channels[bucket], text);
    return sent.whenComplete(
        (n, e) -> {
          if (e != null) {
            publishFailures.increment();
            log.debug("live bus: publish to {} failed: {}", channels[bucket], e.toString());
          }
        });
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
    if (h[1].equals(writer)) {
      return; // this node's own slots: it holds them already; or its own probe
    }
    long from = Long.parseUnsignedLong(h[1], 16);
    if (h.length == 3) {
      if (!h[2].equals(GAP)) {
        throw new IllegalArgumentException("unknown header " + header);
      }
      gaps.increment();
      view.refresh(id -> bucket(id.postId()) == bucket);
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

  // ---- the periodic round: bus check, presence, resync

  /** Scheduler thread, every report period. */
  private void round() {
    long now = clock.millis();
    report(now);
    resync(now);
  }

  /**
   * Scheduler thread, every probe period: probes channels silent for a probe period, and subscribes
   * again those silent for three report periods (then reads their followed counters again).
   */
  private void checkBus() {
    long now = clock.millis();
    long period = settings.reportPeriod().toMillis();
    long probe = settings.probePeriod().toMillis();
    List<Integer> stale = new ArrayList<>();
    for (int b = 0; b < BUCKETS; b++) {
      long silent = now - lastHeardMillis.get(b);
      if (silent >= probe) {
        probe(b);
      }
      if (silent > 3 * period && now - lastSubscribeMillis[b] > 3 * period) {
        lastSubscribeMillis[b] = now;
        stale.add(b);
      }
    }
    StatefulRedisClusterPubSubConnection<String, String> pubsub = this.pubsub;
    if (stale.isEmpty() || pubsub == null) {
      return; // (not connected yet: connect() subscribes every channel)
    }
    resubscribes.increment(stale.size());
    if (stale.size() != lastStaleLogged || now - lastStaleLogMillis > 60_000) {
      lastStaleLogged = stale.size();
      lastStaleLogMillis = now;
      log.info(
          "live bus: {} channel(s) silent for {} ms, subscribing again", stale.size(), 3 * period);
    }
    // the shard may have failed over: learn the new owners first
    client
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
                Set<Integer> lost = new HashSet<>(stale);
                view.refresh(id -> lost.contains(bucket(id.postId())));
              }
            });
  }

  /** Records this node's viewers and refreshes the other nodes' shares of the posts it needs. */
  private void report(long now) {
    Map<Long, Integer> local = gauge.localViewers();
    askedAtMillis.values().removeIf(at -> now - at > settings.askedRetention().toMillis());
    Set<Long> keep = new HashSet<>(local.keySet());
    keep.addAll(askedAtMillis.keySet());
    for (Long postId : gauge.remotePosts()) {
      if (!keep.contains(postId) && !fetching.containsKey(postId)) {
        gauge.forgetRemote(postId);
      }
    }
    if (presenceInFlight.get() > MAX_PRESENCE_IN_FLIGHT) {
      return; // Redis is unreachable or far behind: shares expire, or are refreshed later
    }
    for (Long postId : reported) {
      if (!local.containsKey(postId)) {
        presence(postId, 0, askedAtMillis.containsKey(postId));
      }
    }
    for (Map.Entry<Long, Integer> e : local.entrySet()) {
      presence(e.getKey(), e.getValue(), true);
    }
    for (Long postId : askedAtMillis.keySet()) {
      if (!local.containsKey(postId) && !reported.contains(postId)) {
        presence(postId, -1, true);
      }
    }
    reported = local.keySet();
    reportedPosts = reported.size();
  }

  /**
   * Runs the presence script for one post: {@code viewers} &gt; 0 records this node's share, 0
   * removes it, -1 only reads. When {@code keep}, the other nodes' shares go to the gauge.
   */
  private CompletableFuture<Void> presence(long postId, int viewers, boolean keep) {
    presenceInFlight.incrementAndGet();
    String[] keys = {presenceKey(postId)};
    String[] args = {
      writer, Integer.toString(viewers), Long.toString(settings.shareTtl().toMillis())
    };
    return this.<List<Object>>script(keys, args)
        .handle(
            (result, e) -> {
              presenceInFlight.decrementAndGet();
              if (e != null) {
                presenceFailures.increment();
                log.debug("live presence of post {} failed: {}", postId, e.toString());
              } else if (keep) {
                storeShares(postId, result);
              }
              return null;
            });
  }

  private void storeShares(long postId, List<Object> result) {
    int n = result.size() / 2;
    long[] counts = new long[n];
    long[] remaining = new long[n];
    for (int i = 0; i < n; i++) {
      counts[i] = ((Number) result.get(2 * i)).longValue();
      remaining[i] = ((Number) result.get(2 * i + 1)).longValue();
    }
    gauge.remoteShares(postId, counts, remaining);
  }

  private <T> CompletableFuture<T> script(String[] keys, String[] args) {
    RedisAdvancedClusterAsyncCommands<String, String> redis = this.redis;
    if (redis == null) {
      return notConnected();
    }
    return PRESENCE.run(redis, ScriptOutputType.MULTI, keys, args);
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

  // ---- reads of live (ClusterViewers)

  @Override
  public void asked(long postId) {
    if (askedAtMillis.size() < MAX_ASKED || askedAtMillis.containsKey(postId)) {
      askedAtMillis.put(postId, clock.millis());
    }
  }

  @Override
  public CompletionStage<Void> fetch(long postId) {
    if (closed) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> f = fetching.computeIfAbsent(postId, p -> presence(p, -1, true));
    f.whenComplete((v, e) -> fetching.remove(postId, f));
    return f.copy().completeOnTimeout(null, readWaitMillis, TimeUnit.MILLISECONDS);
  }

  // ---- lifecycle

  /**
   * Stops: removes this node's presence shares (so the other nodes stop counting its viewers at
   * once rather than when the shares expire), unsubscribes and closes the connections. Totals not
   * yet published are dropped; their counters' next totals, or the others' resync, carry them.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    stopScheduler();
    List<CompletableFuture<Void>> goodbyes = new ArrayList<>();
    for (Long postId : reported) {
      goodbyes.add(presence(postId, 0, false));
    }
    try {
      CompletableFuture.allOf(goodbyes.toArray(CompletableFuture<?>[]::new))
          .get(readWaitMillis + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.warn("live presence: could not remove this node's shares: {}", e.toString());
    }
    closeConnections();
  }

  /** For tests: stops like a killed node, leaving its presence shares to expire. */
  void halt() {
    stopScheduler();
    closeConnections();
  }

  private void stopScheduler() {
    closed = true;
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void closeConnections() {
    try {
      StatefulRedisClusterPubSubConnection<String, String> p = pubsub;
      StatefulRedisClusterConnection<String, String> c = connection;
      if (p != null) {
        p.close();
      }
      if (c != null) {
        c.close();
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  // ---- layout

  /** The bus bucket of a post: the same on every node. */
  static int bucket(long postId) {
    return (int) ((postId * 0x9E3779B97F4A7C15L) >>> 58); // top 6 bits: 0..63
  }

  /** The channel of a bucket; the hash tag decides the shard it lives on. */
  static String channel(int bucket) {
    return "live:{" + bucket + "}";
  }

  /** The presence hash of a post: same hash tag, so same shard, as the post's counters. */
  public static String presenceKey(long postId) {
    return "lv:{" + Long.toString(postId, 36) + "}";
  }
}
