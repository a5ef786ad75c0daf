package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.engine.Aggregator;
import dev.tally.engine.ReadCache;
import dev.tally.live.LiveHub;
import dev.tally.live.LiveService;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.testing.Poll;
import dev.tally.testing.RecordingSink;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.ThreadLoop;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LiveBus} and {@link Presence} between nodes (each its own store, aggregator, {@link
 * LiveService}, {@link FollowedCounters} and Redis connection) on a real 6-node Redis Cluster:
 * pushed slots cross to the other node's view and streams, live viewers add up, a stopped node
 * drops out, and a killed primary only pauses updates.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LiveBusIT {

  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final LiveBus.Settings FAST_BUS =
      new LiveBus.Settings(
          Duration.ofMillis(50),
          Duration.ofMillis(100),
          Duration.ofMillis(750),
          Duration.ofSeconds(2),
          100_000,
          4);
  private static final Presence.Settings FAST =
      new Presence.Settings(Duration.ofMillis(250), Duration.ofSeconds(5));
  private static final Duration SOON = Duration.ofSeconds(5);
  private static final int LIKES = 1;

  private static RedisCluster cluster;

  @TempDir Path dir;
  private final List<Node> nodes = new ArrayList<>();

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path redisDir;

  @BeforeAll
  static void startCluster() throws Exception {
    assertThat(RedisCluster.available())
        .as("redis-server and redis-cli must be installed (bin/test-deps)")
        .isTrue();
    cluster = RedisCluster.start(redisDir);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  @BeforeEach
  void flush() throws Exception {
    cluster.flushAll();
  }

  @AfterEach
  void stopNodes() {
    for (Node n : nodes) {
      n.close();
    }
  }

  /** One tally node's live side, with everything it needs and nothing else. */
  private final class Node implements AutoCloseable {
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final RocksCounterStore store;
    final Aggregator aggregator;
    final LiveService live;
    final ReadCache cache;
    final RedisSlots slots;
    final FollowedCounters view;
    final LiveBus redis;
    final Presence presence;
    final ThreadLoop loop;
    boolean stopped;

    Node(long writer) {
      Clock clock = Clock.systemUTC();
      store =
          RocksCounterStore.open(dir.resolve("node-" + writer), List.of("likes", "views"), 8 << 20);
      cache = new ReadCache(store, 1000);
      aggregator =
          new Aggregator(
              store,
              cache,
              clock,
              new Aggregator.Settings(
                  1000, 10_000, 1000, Duration.ofHours(1), Duration.ofSeconds(1)),
              registry);
      live =
          new LiveService(
              store.names(),
              aggregator,
              new LiveHub.Settings(Duration.ofMillis(100), Duration.ofSeconds(15), 1000),
              Duration.ofSeconds(30),
              1000,
              clock,
              registry);
      loop = new ThreadLoop("loop-" + writer);
      slots = new RedisSlots(cluster.seeds(), writer, TIMEOUT);
      view = new FollowedCounters(slots::records, writer, 100_000, registry);
      redis =
          new LiveBus(
              slots.connection(), "local", writer, view, live.hub(), clock, registry, FAST_BUS);
      presence = new Presence(slots.connection(), writer, live, clock, registry, FAST);
      view.staleness(redis::stalenessMillis);
      java.util.Set<Long> watched = live.hub().watchedPosts();
      view.feed(live.hub(), watched::contains, cache::peek);
      aggregator.addListener(view);
      aggregator.start();
      live.start();
      redis.start();
      presence.start();
      nodes.add(this);
    }

    /** Opens a stream of {@code post} here, as the SSE endpoint would. */
    RecordingSink stream(long post) throws Exception {
      cache.readAll(live.hub().counterIds(post)); // as the endpoint reads them first
      RecordingSink sink = new RecordingSink();
      loop.call(
          () -> {
            live.hub()
                .open(post, loop, sink)
                .start(List.of(CounterValue.NEVER_WRITTEN, CounterValue.NEVER_WRITTEN));
            return null;
          });
      return sink;
    }

    Long last(RecordingSink sink, String name) throws Exception {
      return loop.call(() -> sink.last(name));
    }

    long live(long post) {
      return live.read(post).toCompletableFuture().join().count();
    }

    /**
     * As this node's pusher does once its slot of {@code post}'s likes reached {@code likes}: push
     * it to Redis, then hand it to the bus.
     */
    void pushed(long post, long likes) throws Exception {
      List<CounterId> ids = List.of(new CounterId(post, LIKES));
      List<CounterValue> values =
          List.of(new CounterValue(new Slot(likes, 0), System.currentTimeMillis() / 1000));
      slots.push(ids, values).toCompletableFuture().get(10, TimeUnit.SECONDS);
      redis.pushed(ids, values);
    }

    double metric(String name) {
      return registry.get(name).counter().count();
    }

    @Override
    public void close() {
      if (!stopped) {
        stopped = true;
        presence.close();
        redis.close();
        slots.close();
        live.close();
        aggregator.close();
        store.close();
        loop.close();
      }
    }

    /** Stops like kill -9 would: no goodbye in Redis. */
    void kill() {
      stopped = true;
      presence.halt();
      redis.close();
      slots.close();
      live.close();
      aggregator.close();
      store.close();
      loop.close();
    }
  }

  /**
   * Polls {@code done} every 20 ms until it holds; fails naming {@code what} after {@code within}.
   */
  private static void await(String what, Duration within, BooleanSupplier done)
      throws InterruptedException {
    Poll.until(what, within, Duration.ofMillis(20), done::getAsBoolean, Boolean::booleanValue);
  }

  private static boolean is(Long value, long want) {
    return value != null && value == want;
  }

  private static BooleanSupplier lastIs(Node node, RecordingSink sink, String name, long want) {
    return () -> {
      try {
        return is(node.last(sink, name), want);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
  }

  @Test
  @Order(1)
  void slotsPushedByA_reachBsViewAndStreams_coalesced() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    RecordingSink onA = a.stream(812);
    RecordingSink onB = b.stream(812);
    CounterId likes = new CounterId(812, LIKES);
    await("B follows the post it streams", SOON, () -> b.view.peek(likes) != null);
    await("A follows the post it streams", SOON, () -> a.view.peek(likes) != null);

    a.pushed(812, 42);
    await("B's stream shows 42", SOON, lastIs(b, onB, "likes", 42));
    assertThat(b.view.peek(likes).others()).isEqualTo(42);

    b.pushed(812, 43); // and the other way round: A sees B's slot, B's total is both
    await("A's stream shows 43", SOON, lastIs(a, onA, "likes", 43));
    assertThat(a.view.peek(likes).others()).isEqualTo(43);

    for (int i = 1; i <= 2000; i++) {
      a.pushed(812, 1000 + i);
    }
    await("B's view holds A's last slot", SOON, () -> b.view.peek(likes).others() == 3000);
    await("B's stream shows B's view", SOON, lastIs(b, onB, "likes", 3000));
    // the 2000 slots of one counter were coalesced into a few messages
    assertThat(a.metric("tally.live.bus.slots.published")).isLessThan(200);
    assertThat(b.metric("tally.live.bus.slots.received")).isGreaterThanOrEqualTo(2);
    assertThat(b.metric("tally.live.bus.dropped")).isZero();
  }

  @Test
  @Order(2)
  void aSlotHandedOverLate_neverHidesANewerOne() throws Exception {
    // after an outage a pusher pushes the outbox's counters with their stored values, then its
    // in-memory set, whose values can be older: both reach the bus within one publish interval
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    b.stream(813);
    CounterId likes = new CounterId(813, LIKES);
    await("B follows the post it streams", SOON, () -> b.view.peek(likes) != null);
    // Redis holds only the older slot, so that B's anti-entropy reads cannot mask what the bus says
    a.pushed(813, 20);
    long now = System.currentTimeMillis() / 1000;
    a.redis.pushed(List.of(likes), List.of(new CounterValue(new Slot(50, 0), now)));
    a.redis.pushed(List.of(likes), List.of(new CounterValue(new Slot(20, 0), now)));
    await("B's view holds A's newer slot", SOON, () -> b.view.peek(likes).others() == 50);
    a.pushed(814, 1); // a later message from A: everything before it was delivered
    await("B heard A's later message", SOON, () -> b.metric("tally.live.bus.slots.received") >= 2);
    assertThat(b.view.peek(likes).others()).isEqualTo(50);
  }

  @Test
  @Order(3)
  void slotsOfManyPosts_areKeptOnlyWhereFollowed() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    List<RecordingSink> sinks = new ArrayList<>();
    for (long post = 1; post <= 200; post++) {
      sinks.add(b.stream(post));
    }
    await("B follows the 200 streamed posts", SOON, () -> b.view.size() == 400);
    for (long post = 1; post <= 5000; post++) { // 4800 of them watched nowhere
      a.pushed(post, post * 10);
    }
    for (int i = 0; i < sinks.size(); i++) {
      await("post " + (i + 1), SOON, lastIs(b, sinks.get(i), "likes", (i + 1) * 10L));
    }
    // B heard every slot but keeps only those of the counters it follows
    await("B heard all", SOON, () -> b.metric("tally.live.bus.slots.received") >= 5000);
    assertThat(b.view.size()).isEqualTo(400);
  }

  @Test
  @Order(4)
  void viewersOnBothNodes_sumOnBoth_andReachTheStreams() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    a.live.heartbeat(900, "phone-1");
    a.live.heartbeat(900, "phone-2");
    RecordingSink onB = b.stream(900); // a viewer on B too

    await("A counts 3", SOON, () -> a.live(900) == 3);
    await("B counts 3", SOON, () -> b.live(900) == 3);
    await("B's stream shows 3", SOON, lastIs(b, onB, "live", 3));

    // a heartbeat's answer counts the other node's viewers too, from memory
    assertThat(a.live.sharesKnown(900)).isTrue();
    assertThat(a.live.heartbeat(900, "phone-3").count()).isEqualTo(4);
    await("B's stream shows 4", SOON, lastIs(b, onB, "live", 4));
  }

  @Test
  @Order(5)
  void aPostReadOnANodeWithoutViewers_isFetchedThenKeptFresh() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    a.live.heartbeat(901, "v1");
    await("A reported its viewer", SOON, () -> a.live.gauge().localViewers().size() == 1);
    Thread.sleep(FAST.reportPeriod().toMillis() * 2);

    assertThat(b.live.sharesKnown(901)).isFalse();
    assertThat(b.live(901)).isEqualTo(1); // one Redis read
    assertThat(b.live.sharesKnown(901)).isTrue();

    a.live.heartbeat(901, "v2");
    await("B's kept copy follows", SOON, () -> b.live(901) == 2);
  }

  @Test
  @Order(6)
  void aClosedNode_dropsOutAtOnce_aKilledOne_whenItsShareExpires() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    Node c = new Node(0xC);
    RecordingSink onC = c.stream(902);
    a.live.heartbeat(902, "v1");
    b.live.heartbeat(902, "v2");
    b.live.heartbeat(902, "v3");
    await("C counts 4", SOON, () -> c.live(902) == 4);

    long closedAt = System.nanoTime();
    a.close();
    await("C counts 3 after A closed", SOON, () -> c.live(902) == 3);
    long closeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedAt);

    long killedAt = System.nanoTime();
    b.kill();
    await("C counts 1 after B was killed", SOON, () -> c.live(902) == 1);
    long killMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
    await("C's stream shows 1", SOON, lastIs(c, onC, "live", 1));

    long ttl = FAST.shareTtl().toMillis();
    long period = FAST.reportPeriod().toMillis();
    // a goodbye is heard within a report period (plus the read's); a killed node's share counts
    // until it expires, never longer than its last report plus the share's TTL
    // (with a second of slack for a busy machine)
    assertThat(closeMillis).isLessThan(2 * period + 1000);
    assertThat(killMillis).isLessThan(ttl + 2 * period + 1000);
    System.out.printf(
        "live share gone after close: %d ms, after kill: %d ms (ttl %d ms)%n",
        closeMillis, killMillis, ttl);
  }

  @Test
  @Order(7)
  void aLateProbeIsNoLoss_aMissingOneMakesTheChannelBeReadAgain() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    CounterId likes = new CounterId(815, LIKES);
    b.view.follow(List.of(likes)).toCompletableFuture().get(10, TimeUnit.SECONDS);
    a.pushed(815, 5);
    await("B's view holds A's 5", SOON, () -> b.view.peek(likes).others() == 5);
    Thread.sleep(1_500); // B's own probes come and go
    assertThat(b.metric("tally.live.bus.losses")).as("losses of a healthy bus").isZero();

    // A's slot reaches Redis but its notice is lost: only a read shows it to B
    List<CounterValue> nine =
        List.of(new CounterValue(new Slot(9, 0), System.currentTimeMillis() / 1000));
    a.slots.push(List.of(likes), nine).toCompletableFuture().get(10, TimeUnit.SECONDS);
    String channel = LiveBus.channel(LiveBus.bucket(815));
    long n = 1_000_000; // above B's own probe numbers
    b.redis.onMessage(channel, "2,b,p" + Long.toString(n, 36) + ".0");
    Thread.sleep(2_000); // late: a channel this silent no longer counts as broken
    b.redis.onMessage(channel, "2,b,p" + Long.toString(n + 1, 36) + "." + Long.toString(n, 36));
    assertThat(b.metric("tally.live.bus.losses")).as("after a late probe").isZero();
    assertThat(b.view.peek(likes).others()).isEqualTo(5);

    // probe n + 2 was accepted by Redis before n + 3 was sent, and never arrived
    b.redis.onMessage(channel, "2,b,p" + Long.toString(n + 3, 36) + "." + Long.toString(n + 2, 36));
    assertThat(b.metric("tally.live.bus.losses")).isOne();
    await("B reads the lost channel again", SOON, () -> b.view.peek(likes).others() == 9);
  }

  @Test
  @Order(8)
  void aKilledPrimary_failsOver_andTotalsAndViewersFlowAgain() throws Exception {
    Node a = new Node(0xA);
    Node b = new Node(0xB);
    // one watched post per bus channel, so some channels live on the primary that dies
    List<Long> posts = new ArrayList<>();
    Set<Integer> buckets = new HashSet<>();
    for (long post = 1; buckets.size() < LiveBus.BUCKETS; post++) {
      if (buckets.add(LiveBus.bucket(post))) {
        posts.add(post);
      }
    }
    List<RecordingSink> sinks = new ArrayList<>();
    for (long post : posts) {
      sinks.add(b.stream(post));
      a.pushed(post, 1);
    }
    for (RecordingSink s : sinks) {
      await("first totals", SOON, lastIs(b, s, "likes", 1));
    }
    try {
      int victim = cluster.primaries().get(0) - cluster.port(0);
      cluster.kill(victim);
      long killedAt = System.nanoTime();

      // A keeps pushing new slots, as its pusher would, while the shard fails over
      long value = 2;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        for (long post : posts) {
          try {
            a.pushed(post, value);
          } catch (Exception e) {
            // the shard is failing over: the pusher would retry, as the next round does here
          }
        }
        Thread.sleep(200);
        boolean all = true;
        for (RecordingSink s : sinks) {
          all &= is(b.last(s, "likes"), value);
        }
        if (all) {
          break;
        }
        assertThat(System.nanoTime()).as("updates flow again within 60 s").isLessThan(deadline);
        value++;
      }
      System.out.printf(
          "live totals flow on every channel again %d ms after a primary was killed%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt));
      assertThat(b.metric("tally.live.bus.resubscribes")).isPositive();

      // presence works on every shard too
      for (long post : posts) {
        a.live.heartbeat(post, "v");
      }
      for (long post : posts) {
        await("B sees A's viewer of " + post, Duration.ofSeconds(20), () -> b.live(post) == 2);
      }
    } finally {
      // later tests in this JVM run on a cluster whose killed primary was replaced by its replica
      cluster.awaitOk();
    }
  }
}
