package dev.tally.live;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.engine.CommitListener;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Fans out committed counts and live-viewer changes to the subscribers of each post, coalesced:
 * every (post, loop) pair sends at most one event per coalescing interval, carrying the latest
 * value of each counter that changed. Thread-safe; owned by {@link LiveService}.
 *
 * <p>Concurrency: three kinds of threads meet here. The aggregator's committer calls {@link
 * #committed}: for each changed counter of a watched post it stores the value in the post's {@link
 * Topic} (a lock-free slot per counter, merged CRDT-wise so it only moves forward), stamps it with
 * the topic's next version, and signals each loop that has subscribers of the post. A signal is one
 * compare-and-set; only the first signal after a flush queues a task on the loop, so the committer
 * never blocks and queues at most one task per (post, loop) however many writes arrive. Event loops
 * own their subscribers: opening, closing, flushing and keep-alives of a subscriber run only on its
 * loop, without locks. A flush runs at once if the last one was at least the interval ago, else at
 * the end of the interval (leading and trailing edge), so a lone change is sent immediately and a
 * hot post costs at most one event per interval per subscriber, built once per loop. Live-viewer
 * changes take the same path as a changed slot whose value is read from the {@link LiveGauge} when
 * the event is built. A subscriber whose connection cannot take more bytes (its bounded buffer is
 * full) is closed and dropped, so a slow client never holds memory or delays anyone else.
 *
 * <p>Cluster mode ({@link #useClusterTotals}): this node's commits hold only its own share of each
 * counter, so they are ignored; counts arrive instead as cluster-wide totals through {@link
 * #totals}, from this node's pushes and, over Redis, from the other nodes'. Totals are not ordered
 * the way a CRDT slot is, so the newest report of a counter replaces the slot's value (an older
 * total arriving late is healed by the next report or the periodic resend, see ADR 0004), and a
 * report that changes nothing stamps nothing, so repeating a total costs no event.
 *
 * <p>Cost: a commit (or a total) touching an unwatched post costs one map lookup; a watched post
 * costs one signal per loop that has subscribers of it; a flush costs O(subscribers of the post on
 * that loop).
 */
public final class LiveHub implements CommitListener, ClusterTotals {

  /** Tuning; the documented keys are in {@code TallyConfig}. */
  public record Settings(Duration coalesce, Duration keepAlive, int maxStreams) {

    public Settings {
      if (coalesce.isNegative() || !keepAlive.isPositive() || maxStreams < 1) {
        throw new IllegalArgumentException("need coalesce >= 0, keepAlive > 0 and maxStreams >= 1");
      }
    }
  }

  private final String[] slotNames;
  private final int[] slotOfCode = new int[CounterNames.MAX_CODE + 1];
  private final int[] codeOfSlot;
  private final int liveSlot;
  private final LiveGauge gauge;
  private final Clock clock;
  private final long coalesceMillis;
  private final long keepAliveMillis;
  private final int maxStreams;
  private final ConcurrentHashMap<Long, Topic> topics = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Loop, LoopState> loops = new ConcurrentHashMap<>();
  private final AtomicInteger open = new AtomicInteger();
  private final ArrayList<Topic> touched = new ArrayList<>(); // guarded by `this`
  private volatile boolean clusterTotals;

  private final Counter events;
  private final Counter dropped;
  private final Counter keepAlives;
  private final Timer fanOutDelay;

  public LiveHub(
      CounterNames names, LiveGauge gauge, Settings settings, Clock clock, MeterRegistry registry) {
    List<String> counterNames = names.names();
    this.slotNames = new String[counterNames.size() + 1];
    this.codeOfSlot = new int[counterNames.size()];
    Arrays.fill(slotOfCode, -1);
    for (int i = 0; i < counterNames.size(); i++) {
      slotNames[i] = counterNames.get(i);
      codeOfSlot[i] = names.code(counterNames.get(i)).orElseThrow();
      slotOfCode[codeOfSlot[i]] = i;
    }
    this.liveSlot = counterNames.size();
    slotNames[liveSlot] = "live";
    this.gauge = gauge;
    this.clock = clock;
    this.coalesceMillis = settings.coalesce().toMillis();
    this.keepAliveMillis = settings.keepAlive().toMillis();
    this.maxStreams = settings.maxStreams();
    gauge.onChange(this::liveChanged);

    Gauge.builder("tally.live.streams", open, AtomicInteger::get)
        .description("Open event streams")
        .register(registry);
    Gauge.builder("tally.live.posts", topics, ConcurrentHashMap::size)
        .description("Posts with at least one open event stream")
        .register(registry);
    this.events =
        Counter.builder("tally.live.events")
            .description("Stream events written (snapshots and updates)")
            .register(registry);
    this.keepAlives =
        Counter.builder("tally.live.keepalives")
            .description("Keep-alive comments written to idle streams")
            .register(registry);
    this.dropped =
        Counter.builder("tally.live.dropped")
            .description("Streams closed because the client did not read fast enough")
            .register(registry);
    this.fanOutDelay =
        Timer.builder("tally.live.fanout.delay")
            .description(
                "From a durable commit (or live change) to its event written to every subscriber"
                    + " of the post on one event loop, coalescing wait included")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofNanos(100_000))
            .maximumExpectedValue(Duration.ofSeconds(30))
            .register(registry);
  }

  // ---- called by writers

  /**
   * Switches to cluster mode: from now on counts come only from {@link #totals}, and commits of
   * this node (its own share only) are ignored. Call once, before the node serves streams.
   */
  public void useClusterTotals() {
    clusterTotals = true;
  }

  /**
   * Committer threads: hands the new values of watched posts to their loops; never blocks on I/O.
   * Committers that commit at the same time take turns here, only while a post is watched.
   */
  @Override
  public void committed(List<CounterId> ids, List<CounterValue> values) {
    if (clusterTotals || topics.isEmpty()) {
      return;
    }
    synchronized (this) {
      signalCommitted(ids, values);
    }
  }

  private void signalCommitted(List<CounterId> ids, List<CounterValue> values) {
    long now = System.nanoTime();
    for (int i = 0; i < ids.size(); i++) {
      CounterId id = ids.get(i);
      Topic topic = topics.get(id.postId());
      int slot = slotOfCode[id.code()];
      if (topic == null || slot < 0) {
        continue;
      }
      topic.set(slot, values.get(i));
      if (!topic.touched) {
        topic.touched = true;
        touched.add(topic);
      }
    }
    for (Topic t : touched) {
      t.touched = false;
      t.signal(now);
    }
    touched.clear();
  }

  /**
   * Any thread (Redis client threads in cluster mode): counters' cluster-wide totals, each
   * replacing the value the post's streams last heard; never blocks. {@code updatedAtSecond} is 0
   * when unknown (a resend): the value's time then stays as it was.
   */
  @Override
  public void totals(List<CounterId> ids, long[] totals, long updatedAtSecond) {
    if (topics.isEmpty()) {
      return;
    }
    long now = System.nanoTime();
    Topic pending = null;
    for (int i = 0; i < ids.size(); i++) {
      CounterId id = ids.get(i);
      Topic topic = topics.get(id.postId());
      int slot = slotOfCode[id.code()];
      if (topic == null || slot < 0 || !topic.replace(slot, totals[i], updatedAtSecond)) {
        continue;
      }
      if (pending != topic) {
        if (pending != null) {
          pending.signal(now);
        }
        pending = topic;
      }
    }
    if (pending != null) {
      pending.signal(now);
    }
  }

  /** Any thread: the live count of {@code postId} may have changed; never blocks. */
  void liveChanged(long postId) {
    Topic topic = topics.get(postId);
    if (topic != null) {
      topic.stamp(liveSlot);
      topic.signal(System.nanoTime());
    }
  }

  // ---- subscribers

  /**
   * Opens a stream of {@code postId} on {@code loop}; call on that loop. The post's live count
   * includes the stream from now on. Call {@link Subscription#start} with the post's current values
   * once known, and {@link Subscription#close} when the connection closes.
   *
   * @throws TallyException {@link ErrorKind#OVERLOADED} when the node has its maximum of streams
   */
  public Subscription open(long postId, Loop loop, Sink sink) {
    if (open.incrementAndGet() > maxStreams) {
      open.decrementAndGet();
      throw new TallyException(
          ErrorKind.OVERLOADED, "too many open streams on this node; retry shortly");
    }
    Topic topic =
        topics.compute(
            postId,
            (k, t) -> {
              if (t == null) {
                t = new Topic(k, slotNames.length);
              }
              t.refs++;
              return t;
            });
    gauge.streamOpened(postId);
    return new Subscription(topic, loops.computeIfAbsent(loop, LoopState::new), sink);
  }

  /** The configured counter names, in the order {@link Subscription#start} expects values. */
  public List<String> counterNames() {
    return List.of(Arrays.copyOf(slotNames, liveSlot));
  }

  /** Open streams on the node. */
  public int openStreams() {
    return open.get();
  }

  /** The posts with at least one open stream on this node (a live view). */
  public Set<Long> watchedPosts() {
    return Collections.unmodifiableSet(topics.keySet());
  }

  /** The ids of the post's configured counters, in {@link #counterNames()} order. */
  public List<CounterId> counterIds(long postId) {
    List<CounterId> ids = new ArrayList<>(liveSlot);
    for (int slot = 0; slot < liveSlot; slot++) {
      ids.add(new CounterId(postId, codeOfSlot[slot]));
    }
    return ids;
  }

  private void release(Topic topic) {
    topics.computeIfPresent(topic.postId, (k, t) -> t == topic && --t.refs == 0 ? null : t);
  }

  /** A slot whose value is {@code total}: what a stream shows of a cluster-wide total. */
  private static Slot slotOf(long total) {
    return total >= 0 ? new Slot(total, 0) : new Slot(0, -Math.max(total, -Long.MAX_VALUE));
  }

  private static CounterValue mergeNullable(CounterValue a, CounterValue b) {
    return a == null ? b : b == null ? a : a.merge(b);
  }

  /** One watched post: the latest value of each slot and the version it changed at. */
  private final class Topic {
    final long postId;
    final AtomicReferenceArray<CounterValue> values;
    final AtomicLongArray stamps;
    final AtomicLong version = new AtomicLong();
    final CopyOnWriteArrayList<PostOnLoop> parts = new CopyOnWriteArrayList<>();
    int refs; // guarded by the topics map entry
    boolean touched; // guarded by the hub

    Topic(long postId, int slots) {
      this.postId = postId;
      this.values = new AtomicReferenceArray<>(slots);
      this.stamps = new AtomicLongArray(slots);
    }

    void set(int slot, CounterValue v) {
      values.accumulateAndGet(slot, v, LiveHub::mergeNullable);
      stamp(slot);
    }

    /**
     * Cluster mode: {@code total} replaces the slot's value; its time only moves forward. Returns
     * false, stamping nothing, when that changes neither.
     */
    boolean replace(int slot, long total, long updatedAtSecond) {
      while (true) {
        CounterValue prev = values.get(slot);
        long at =
            prev == null ? updatedAtSecond : Math.max(prev.updatedAtSecond(), updatedAtSecond);
        if (prev != null && prev.count() == total && prev.updatedAtSecond() == at) {
          return false;
        }
        if (values.compareAndSet(slot, prev, new CounterValue(slotOf(total), at))) {
          stamp(slot);
          return true;
        }
      }
    }

    /**
     * Marks {@code slot} changed at the next version. Several threads change the live slot at once,
     * so the stamp only ever moves up: a thread that drew an older version must not hide a newer
     * stamp that a flush may already have seen.
     */
    void stamp(int slot) {
      stamps.accumulateAndGet(slot, version.incrementAndGet(), Math::max);
    }

    void signal(long nanos) {
      for (PostOnLoop p : parts) {
        p.signal(nanos);
      }
    }

    PostOnLoop partOn(LoopState loop) {
      for (PostOnLoop p : parts) {
        if (p.loop == loop) {
          return p;
        }
      }
      return null;
    }
  }

  /** The subscribers of one post on one loop; confined to that loop except {@link #signal}. */
  private final class PostOnLoop {
    final Topic topic;
    final LoopState loop;
    final ArrayList<Subscription> subs = new ArrayList<>();
    final long[] sent;
    final AtomicBoolean scheduled = new AtomicBoolean();
    volatile long pendingSinceNanos;
    long lastFlushMillis = Long.MIN_VALUE / 2;
    boolean flushing;
    boolean removedDuringFlush;

    PostOnLoop(Topic topic, LoopState loop) {
      this.topic = topic;
      this.loop = loop;
      this.sent = new long[slotNames.length];
      for (int i = 0; i < sent.length; i++) {
        sent[i] = topic.stamps.get(i);
      }
    }

    /** Any thread. */
    void signal(long nanos) {
      if (scheduled.compareAndSet(false, true)) {
        pendingSinceNanos = nanos;
        loop.loop.execute(this::due);
      }
    }

    private void due() {
      long wait = lastFlushMillis + coalesceMillis - clock.millis();
      if (wait <= 0) {
        flush();
      } else {
        loop.loop.schedule(wait, this::flush);
      }
    }

    private void flush() {
      long since = pendingSinceNanos;
      scheduled.set(false); // changes from here on signal again
      if (subs.isEmpty()) {
        return;
      }
      long id = topic.version.get();
      StringBuilder sb = null;
      for (int slot = 0; slot < sent.length; slot++) {
        long stamp = topic.stamps.get(slot);
        if (stamp <= sent[slot]) {
          continue;
        }
        sent[slot] = stamp;
        if (sb == null) {
          sb = LiveEvents.begin(id, topic.postId, false);
        } else {
          sb.append(',');
        }
        appendSlot(sb, topic, slot);
      }
      if (sb == null) {
        return;
      }
      String event = LiveEvents.end(sb);
      lastFlushMillis = clock.millis();
      flushing = true;
      try {
        for (int i = 0; i < subs.size(); i++) {
          subs.get(i).send(event, true);
        }
      } finally {
        flushing = false;
      }
      if (removedDuringFlush) {
        removedDuringFlush = false;
        subs.removeIf(s -> s.closed);
        retireIfEmpty();
      }
      fanOutDelay.record(System.nanoTime() - since, TimeUnit.NANOSECONDS);
    }

    void remove(Subscription s) {
      if (flushing) {
        removedDuringFlush = true;
        return;
      }
      subs.remove(s);
      retireIfEmpty();
    }

    private void retireIfEmpty() {
      if (subs.isEmpty()) {
        topic.parts.remove(this);
        loop.parts.remove(this);
      }
    }
  }

  /** Appends slot {@code slot}'s latest value as {@code "name":{…}} (no leading comma). */
  private void appendSlot(StringBuilder sb, Topic topic, int slot) {
    if (slot == liveSlot) {
      LiveReading r = gauge.read(topic.postId);
      LiveEvents.count(sb, "live", r.count(), r.updatedAtSecond());
    } else {
      CounterValue v = topic.values.get(slot);
      if (v == null) {
        v = CounterValue.NEVER_WRITTEN;
      }
      LiveEvents.count(sb, slotNames[slot], v.count(), v.updatedAtSecond());
    }
  }

  /** Everything of one loop: its (post, loop) parts and the keep-alive timer. Loop-confined. */
  private final class LoopState {
    final Loop loop;
    final HashSet<PostOnLoop> parts = new HashSet<>();
    boolean keepAliveArmed;

    LoopState(Loop loop) {
      this.loop = loop;
    }

    void armKeepAlive() {
      if (!keepAliveArmed) {
        keepAliveArmed = true;
        loop.schedule(Math.max(1, keepAliveMillis / 2), this::keepAlive);
      }
    }

    /** Every half interval: a comment to each stream that was silent for half an interval. */
    private void keepAlive() {
      if (parts.isEmpty()) {
        keepAliveArmed = false;
        return;
      }
      long now = clock.millis();
      for (PostOnLoop p : new ArrayList<>(parts)) {
        p.flushing = true;
        try {
          for (int i = 0; i < p.subs.size(); i++) {
            Subscription s = p.subs.get(i);
            if (now - s.lastWriteMillis >= keepAliveMillis / 2) {
              s.send(LiveEvents.KEEP_ALIVE, false);
            }
          }
        } finally {
          p.flushing = false;
        }
        if (p.removedDuringFlush) {
          p.removedDuringFlush = false;
          p.subs.removeIf(s -> s.closed);
          p.retireIfEmpty();
        }
      }
      loop.schedule(Math.max(1, keepAliveMillis / 2), this::keepAlive);
    }
  }

  /**
   * One open stream. Confined to its loop: {@link #start} and {@link #close} must be called there.
   * Owned by the connection; {@link #close} is idempotent.
   */
  public final class Subscription {
    private final Topic topic;
    private final LoopState loop;
    private final Sink sink;
    private PostOnLoop part;
    private boolean closed;
    private long lastWriteMillis;

    private Subscription(Topic topic, LoopState loop, Sink sink) {
      this.topic = topic;
      this.loop = loop;
      this.sink = sink;
    }

    /**
     * Sends the first event (every counter plus live) and starts delivering changes. {@code
     * current} holds the committed value of each of {@link #counterNames()}, in order, read after
     * {@link #open}; values committed since are merged in. In cluster mode {@code current} holds
     * each counter's cluster-wide total, used only where no total was heard yet since the post
     * became watched. Does nothing once closed.
     */
    public void start(List<CounterValue> current) {
      if (closed || part != null) {
        return;
      }
      PostOnLoop p = topic.partOn(loop);
      if (p == null) {
        p = new PostOnLoop(topic, loop);
        topic.parts.add(p);
        loop.parts.add(p);
      }
      part = p;
      long id = topic.version.get();
      for (int slot = 0; slot < liveSlot; slot++) {
        if (clusterTotals) {
          // a total heard since the post became watched is at least as new as this read
          topic.values.compareAndSet(slot, null, current.get(slot));
        } else {
          topic.values.accumulateAndGet(slot, current.get(slot), LiveHub::mergeNullable);
        }
      }
      StringBuilder sb = LiveEvents.begin(id, topic.postId, true);
      for (int slot = 0; slot < slotNames.length; slot++) {
        if (slot > 0) {
          sb.append(',');
        }
        appendSlot(sb, topic, slot);
      }
      p.subs.add(this);
      loop.armKeepAlive();
      send(LiveEvents.end(sb), true);
    }

    private void send(String text, boolean event) {
      if (closed) {
        return;
      }
      if (!sink.writable()) {
        dropped.increment();
        close();
        sink.close();
        return;
      }
      sink.write(text);
      lastWriteMillis = clock.millis();
      if (event) {
        events.increment();
      } else {
        keepAlives.increment();
      }
    }

    /** The stream is over: stops delivery, frees its slot, lowers the post's live count. */
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      if (part != null) {
        part.remove(this);
      }
      open.decrementAndGet();
      release(topic);
      gauge.streamClosed(topic.postId);
    }

    public boolean closed() {
      return closed;
    }
  }
}
