package dev.tally.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/**
 * A keyed write load on tally nodes and its exact history: the one engine behind the crash, cluster
 * and fault tests. Every write is an increment or a decrement of one counter of a post, with an
 * Idempotency-Key of its own, sent to a node picked at random. The load remembers every key, what
 * it meant, where it went first and whether a 200 came back, so once the writes left in doubt are
 * retried with their keys ({@link #settle}) the exact count of every counter is known ({@link
 * #expected}) and can be required from every node ({@link #awaitExact}), and {@link #check} tells
 * lost from duplicated increments when it cannot.
 *
 * <p>A load runs in named {@linkplain Phase phases} ({@link #phase}), each with writer threads of
 * its own, bounded in writes and in time, on all nodes or some; a partitioned region, say, is
 * checked against the phases it saw. Where a write in doubt is tried again is the load's {@link
 * Retry} rule.
 *
 * <p>Thread-safe: writers run on threads of their own; the other methods are for the test thread.
 */
public final class KeyedLoad {

  /** One write: its counter, its delta (+1 or -1) and its Idempotency-Key. */
  public record Op(long post, String counter, int delta, String key) {
    String action() {
      return delta > 0 ? "increment" : "decrement";
    }
  }

  /** Exactness of the nodes' counts against the history, the worst node's figures. */
  public record Check(long lost, long duplicated, long inexactCounters) {}

  /** Where a write left in doubt (no answer, or 409, 429, 5xx) is tried again, with its key. */
  public enum Retry {
    /**
     * On the next node, a few times by its writer, then round-robin over the nodes in {@link
     * #settle}: for nodes that share a cluster-wide claim of every key, or a single node.
     */
    ANY_NODE,
    /**
     * Only on the node it was first sent to, once by its writer, then in {@link #settle}: a node
     * that cannot reach its Redis applies a key without a cluster-wide claim, so only its own
     * idempotency record knows the key, and a retry through another node could count it twice.
     */
    SAME_NODE
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Tries of a write by its writer under {@link Retry#ANY_NODE}. */
  private static final int INLINE_TRIES = 3;

  /** At most this many post × counter pairs per batch read (tally's default limit is 1000). */
  private static final int READ_PAIRS = 500;

  /** A phase's time bound when it names none. */
  private static final Duration DEFAULT_LIMIT = Duration.ofMinutes(5);

  private final Supplier<List<TallyClient>> nodes;
  private final long[] posts;
  private final ToLongFunction<SplittableRandom> chooser;
  private final List<String> counters;
  private final String prefix;
  private final Random seeds;
  private final Retry retry;

  /** Every write, by key. */
  private final Map<String, Write> writes = new ConcurrentHashMap<>();

  private final Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<String> anomalies = new ConcurrentLinkedQueue<>();
  private final AtomicLong replays = new AtomicLong();
  private final AtomicLong retried = new AtomicLong();
  private final Map<String, Phase> phases = new ConcurrentHashMap<>();

  private KeyedLoad(Builder b) {
    this.nodes = b.nodes;
    this.posts = b.posts.clone();
    this.chooser = b.chooser != null ? b.chooser : r -> posts[r.nextInt(posts.length)];
    this.counters = List.copyOf(b.counters);
    this.prefix = b.prefix;
    this.seeds = new Random(b.seed);
    this.retry = b.retry;
  }

  /**
   * A load whose keys all start with {@code prefix} (two loads on one node must not share it) and
   * whose random choices all follow from {@code seed}.
   */
  public static Builder builder(String prefix, long seed) {
    return new Builder(prefix, seed);
  }

  /** Settings of a {@link KeyedLoad}; nodes and posts are required. */
  public static final class Builder {
    private final String prefix;
    private final long seed;
    private Supplier<List<TallyClient>> nodes;
    private long[] posts;
    private ToLongFunction<SplittableRandom> chooser;
    private List<String> counters = List.of("likes");
    private Retry retry = Retry.ANY_NODE;

    private Builder(String prefix, long seed) {
      this.prefix = prefix;
      this.seed = seed;
    }

    /** The nodes written to and read from, one client each. */
    public Builder nodes(List<TallyClient> clients) {
      List<TallyClient> fixed = List.copyOf(clients);
      this.nodes = () -> fixed;
      return this;
    }

    /**
     * Nodes that may come and go: {@code current} is asked for the clients (one per node, in a
     * stable order) before every try and every read, so a node restarted on another port is written
     * to again.
     */
    public Builder nodes(Supplier<List<TallyClient>> current) {
      this.nodes = current;
      return this;
    }

    /** The posts written to (each as likely as the others) and read back. */
    public Builder posts(long[] posts) {
      this.posts = posts.clone();
      return this;
    }

    /**
     * The posts read back, and how a writer picks the post of a write (e.g. a Zipf law); {@code
     * chooser} must return one of {@code posts}.
     */
    public Builder posts(long[] posts, ToLongFunction<SplittableRandom> chooser) {
      this.posts = posts.clone();
      this.chooser = chooser;
      return this;
    }

    /** The counter names written to, each as likely as the others ("likes" when not set). */
    public Builder counters(List<String> counters) {
      this.counters = List.copyOf(counters);
      return this;
    }

    public Builder retry(Retry retry) {
      this.retry = retry;
      return this;
    }

    public KeyedLoad build() {
      if (nodes == null || posts == null || posts.length == 0 || counters.isEmpty()) {
        throw new IllegalStateException("a keyed load needs nodes, posts and counters");
      }
      return new KeyedLoad(this);
    }
  }

  /** One write and what became of it. */
  private static final class Write {
    final Op op;
    final Phase phase;

    /** The node it was first sent to: where {@link Retry#SAME_NODE} tries it again. */
    final TallyClient first;

    /** A 200 came back from some node, from its writer or a retry. */
    volatile boolean acknowledged;

    /** A 200 came back to its writer. */
    volatile boolean byWriter;

    /** A 200 came back from {@link #first}, to its writer or a retry there. */
    volatile boolean settledOnFirst;

    /** Refused with an answer retrying cannot change (an anomaly). */
    volatile boolean refused;

    Write(Op op, Phase phase, TallyClient first) {
      this.op = op;
      this.phase = phase;
      this.first = first;
    }

    boolean inDoubt(Retry retry) {
      return !refused && !(retry == Retry.SAME_NODE ? settledOnFirst : acknowledged);
    }
  }

  /** The writes of one phase of the load. */
  public final class Phase {
    private final String name;
    private final Supplier<List<TallyClient>> targets;

    private Phase(String name, Supplier<List<TallyClient>> targets) {
      this.name = name;
      this.targets = targets;
    }

    public String name() {
      return name;
    }

    /** Writes made in this phase. */
    public int sent() {
      return (int) writes.values().stream().filter(w -> w.phase == this).count();
    }

    /** Writes of this phase acknowledged to their writers, before any retry. */
    public int acknowledgedByWriters() {
      return (int) writes.values().stream().filter(w -> w.phase == this && w.byWriter).count();
    }

    /** Writes of this phase still to be retried. */
    public int inDoubt() {
      return (int)
          writes.values().stream().filter(w -> w.phase == this && w.inDoubt(retry)).count();
    }
  }

  /** A phase being written. */
  public final class Running {
    private final Phase phase;
    private final List<Thread> writers;
    private final AtomicBoolean stop;
    private final long deadline;

    private Running(Phase phase, List<Thread> writers, AtomicBoolean stop, long deadline) {
      this.phase = phase;
      this.writers = writers;
      this.stop = stop;
      this.deadline = deadline;
    }

    /** The phase being written; it grows until the writers end. */
    public Phase phase() {
      return phase;
    }

    /** Waits for the writers to reach their bound in writes or time. */
    public Phase join() throws InterruptedException {
      for (Thread w : writers) {
        // a writer's last request may take a whole request timeout past the phase's time bound
        w.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000) + 60_000);
        if (w.isAlive()) {
          throw new AssertionError(w.getName() + " did not end in time");
        }
      }
      return phase;
    }

    /** Asks the writers to send no more writes and waits for the ones in flight. */
    public Phase stop() throws InterruptedException {
      stop.set(true);
      return join();
    }
  }

  /** The settings of a phase about to start; writes go to every node unless {@link #on} says. */
  public final class PhaseBuilder {
    private final String name;
    private Supplier<List<TallyClient>> targets = nodes;
    private int threads = 4;
    private int writes = 20_000;
    private Duration limit = DEFAULT_LIMIT;
    private long pauseMillis;
    private double decrements;

    private PhaseBuilder(String name) {
      this.name = name;
    }

    /** Writes of this phase go to these nodes only. */
    public PhaseBuilder on(List<TallyClient> clients) {
      List<TallyClient> fixed = List.copyOf(clients);
      this.targets = () -> fixed;
      return this;
    }

    public PhaseBuilder threads(int threads) {
      this.threads = threads;
      return this;
    }

    /** At most this many writes, over all threads. */
    public PhaseBuilder writes(int writes) {
      this.writes = writes;
      return this;
    }

    /** No write is sent after this long. */
    public PhaseBuilder within(Duration limit) {
      this.limit = limit;
      return this;
    }

    /** Each thread waits this long after each of its writes. */
    public PhaseBuilder pauseMillis(long pauseMillis) {
      this.pauseMillis = pauseMillis;
      return this;
    }

    /** About this share of the writes are decrements (none when not set). */
    public PhaseBuilder decrements(double share) {
      this.decrements = share;
      return this;
    }

    public Running start() {
      return startPhase(this);
    }

    /** {@link #start} and {@link Running#join}. */
    public Phase run() throws InterruptedException {
      return start().join();
    }
  }

  /** A new phase; its name is part of its keys, so it must be new to this load. */
  public PhaseBuilder phase(String name) {
    return new PhaseBuilder(name);
  }

  private Running startPhase(PhaseBuilder b) {
    Phase phase = new Phase(b.name, b.targets);
    if (phases.putIfAbsent(b.name, phase) != null) {
      throw new IllegalArgumentException("phase " + b.name + " was run before");
    }
    long deadline = System.nanoTime() + b.limit.toNanos();
    int perThread = (b.writes + b.threads - 1) / b.threads;
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> writers = new ArrayList<>();
    for (int t = 0; t < b.threads; t++) {
      SplittableRandom random = new SplittableRandom(seeds.nextLong());
      String keys = prefix + "-" + b.name + "-" + t + "-";
      writers.add(
          Thread.ofPlatform()
              .name("keyed-load-" + b.name + "-" + t)
              .start(
                  () -> {
                    for (int i = 0;
                        i < perThread && System.nanoTime() - deadline < 0 && !stop.get();
                        i++) {
                      Op op =
                          new Op(
                              chooser.applyAsLong(random),
                              counters.get(random.nextInt(counters.size())),
                              random.nextDouble() < b.decrements ? -1 : 1,
                              keys + i);
                      write(phase, op, random, stop);
                      if (b.pauseMillis > 0 && !sleep(b.pauseMillis)) {
                        return;
                      }
                    }
                  }));
    }
    return new Running(phase, writers, stop, deadline);
  }

  /** A writer's tries of a new write. */
  private void write(Phase phase, Op op, SplittableRandom random, AtomicBoolean stop) {
    List<TallyClient> targets = phase.targets.get();
    int node = random.nextInt(targets.size());
    Write w = new Write(op, phase, targets.get(node));
    writes.put(op.key(), w);
    int tries = retry == Retry.ANY_NODE ? INLINE_TRIES : 1;
    for (int attempt = 0; attempt < tries; attempt++) {
      if (attempt(targets.get(node), w, true) || stop.get() || attempt + 1 == tries) {
        return;
      }
      node = (node + 1) % targets.size();
      if (!sleep(20L << attempt)) {
        return;
      }
      targets = phase.targets.get();
      node %= targets.size();
    }
  }

  /**
   * Retries every write left in doubt, with its key, as the load's {@link Retry} rule says, until
   * each is acknowledged or refused for good; returns how many writes were retried.
   *
   * @throws AssertionError when some are still in doubt after {@code timeout}
   */
  public int settle(Duration timeout) throws InterruptedException {
    return settle(null, timeout);
  }

  /** {@link #settle(Duration)} for the writes of one phase. */
  public int settle(Phase phase, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int node = 0;
    int count = 0;
    for (Write w : List.copyOf(writes.values())) {
      if ((phase != null && w.phase != phase) || !w.inDoubt(retry)) {
        continue;
      }
      count++;
      while (w.inDoubt(retry)) {
        if (System.nanoTime() - deadline > 0) {
          throw new AssertionError(
              "write " + w.op + " still in doubt after " + timeout + "; outcomes " + outcomes());
        }
        TallyClient to;
        if (retry == Retry.SAME_NODE) {
          to = w.first;
        } else {
          List<TallyClient> all = nodes.get();
          to = all.get(node++ % all.size());
        }
        if (!attempt(to, w, false)) {
          Thread.sleep(50);
        }
      }
      if (w.acknowledged) {
        retried.incrementAndGet();
      }
    }
    return count;
  }

  /**
   * For {@code duration}, sends every write of {@code phase} still in doubt once more per pass,
   * with its key, to the first of {@code others} that is not the node it was first sent to, until
   * one of them answers 200; its first try may still be running. Returns how many times each status
   * came back (-1: no answer). A write answered here is acknowledged, but stays in doubt on its
   * first node for {@link Retry#SAME_NODE}.
   */
  public Map<Integer, Integer> retryElsewhere(
      Phase phase, List<TallyClient> others, Duration duration) throws InterruptedException {
    Map<Integer, Integer> statuses = new TreeMap<>();
    java.util.Set<String> answered = new java.util.HashSet<>();
    long deadline = System.nanoTime() + duration.toNanos();
    while (System.nanoTime() - deadline < 0) {
      for (Write w : List.copyOf(writes.values())) {
        if (w.phase != phase || !w.inDoubt(retry) || answered.contains(w.op.key())) {
          continue;
        }
        if (System.nanoTime() - deadline >= 0) {
          break;
        }
        TallyClient other =
            others.stream().filter(c -> c.port() != w.first.port()).findFirst().orElseThrow();
        int status = send(other, w, false);
        statuses.merge(status, 1, Integer::sum);
        if (status == 200) {
          answered.add(w.op.key());
          retried.incrementAndGet();
        }
      }
      Thread.sleep(200);
    }
    return statuses;
  }

  /** One try; true when the write is acknowledged or refused for good, false while in doubt. */
  private boolean attempt(TallyClient to, Write w, boolean byWriter) {
    int status = send(to, w, byWriter);
    if (status == 200) {
      return true;
    }
    if (status == -1 || status == 409 || status == 429 || status >= 500) {
      return false;
    }
    w.refused = true;
    return true;
  }

  /** One try, recorded; the answer's status, or -1 when none came. */
  private int send(TallyClient to, Write w, boolean byWriter) {
    Op op = w.op;
    try {
      HttpResponse<String> r = to.write(op.post(), op.counter(), op.action(), op.key());
      int status = r.statusCode();
      count(Integer.toString(status));
      if (status == 200) {
        w.acknowledged = true;
        if (byWriter) {
          w.byWriter = true;
        }
        if (to.port() == w.first.port()) { // the same node, perhaps another client of it
          w.settledOnFirst = true;
        }
        if (r.headers().firstValue("Idempotent-Replayed").orElse("").equals("true")) {
          replays.incrementAndGet();
        }
      } else if (status != 409 && status != 429 && status < 500) {
        anomalies.add(op + " on :" + to.port() + ": " + status + " " + r.body());
      }
      return status;
    } catch (IOException | RuntimeException e) {
      count(e.getClass().getSimpleName());
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private void count(String outcome) {
    outcomes.computeIfAbsent(outcome, o -> new AtomicLong()).incrementAndGet();
  }

  /** Writes made (distinct keys). */
  public int sent() {
    return writes.size();
  }

  /** Writes acknowledged at least once, by any node, to their writer or on a retry. */
  public int acknowledged() {
    return (int) writes.values().stream().filter(w -> w.acknowledged).count();
  }

  /** Writes acknowledged to their writers, before any retry. */
  public int acknowledgedByWriters() {
    return (int) writes.values().stream().filter(w -> w.byWriter).count();
  }

  /** Writes left in doubt by their writers and acknowledged on a retry. */
  public long retried() {
    return retried.get();
  }

  /** Acknowledgements that were replays of an earlier answer. */
  public long replays() {
    return replays.get();
  }

  /** Answers by HTTP status, and failures by exception, over every try. */
  public Map<String, Long> outcomes() {
    Map<String, Long> m = new TreeMap<>();
    outcomes.forEach((k, v) -> m.put(k, v.get()));
    return m;
  }

  /** Writes refused with an answer that retrying cannot change (422, 400, …): none expected. */
  public List<String> anomalies() {
    return List.copyOf(anomalies);
  }

  /**
   * The net sum of the acknowledged writes of every counter written, "post/counter" to sum: what a
   * node must show at least (increments only) once they were acknowledged.
   */
  public Map<String, Long> acknowledgedTotals() {
    Map<String, Long> m = new TreeMap<>();
    for (Write w : writes.values()) {
      if (w.acknowledged) {
        m.merge(name(w.op.post(), w.op.counter()), (long) w.op.delta(), Long::sum);
      }
    }
    return m;
  }

  /**
   * Sends every acknowledged write once more, with its key, to the first node; returns how many
   * were answered as replays ({@code Idempotent-Replayed: true}) of the first answer.
   */
  public int resendAcknowledged() throws IOException, InterruptedException {
    int replayed = 0;
    TallyClient client = nodes.get().get(0);
    for (Write w : List.copyOf(writes.values())) {
      if (!w.acknowledged) {
        continue;
      }
      HttpResponse<String> r = client.write(w.op.post(), w.op.counter(), w.op.action(), w.op.key());
      if (r.statusCode() == 200
          && r.headers().firstValue("Idempotent-Replayed").orElse("").equals("true")) {
        replayed++;
      }
    }
    return replayed;
  }

  /** "post/counter" of every counter of the load, and its exact count after every write. */
  public Map<String, Long> expected() {
    return expected(null);
  }

  /**
   * "post/counter" of every counter of the load, and its exact count after the writes of {@code
   * phases} alone (every phase when null).
   */
  public Map<String, Long> expected(List<Phase> phases) {
    Map<String, Long> e = new TreeMap<>();
    for (long p : posts) {
      for (String c : counters) {
        e.put(name(p, c), 0L);
      }
    }
    for (Write w : writes.values()) {
      if (phases == null || phases.contains(w.phase)) {
        e.merge(name(w.op.post(), w.op.counter()), (long) w.op.delta(), Long::sum);
      }
    }
    return e;
  }

  /** {@link #awaitExact} on every node, for every write. */
  public Duration awaitEverywhere(Duration timeout) throws InterruptedException {
    return awaitExact(nodes.get(), expected(), timeout);
  }

  /**
   * Polls until every one of {@code clients} reads exactly {@code expected} of every counter;
   * returns how long that took.
   *
   * @throws AssertionError with the last differences when that takes longer than {@code timeout}
   */
  public Duration awaitExact(
      List<TallyClient> clients, Map<String, Long> expected, Duration timeout)
      throws InterruptedException {
    long t0 = System.nanoTime();
    Poll.until(
        "every node exact",
        timeout,
        Duration.ofMillis(50),
        () -> mismatches(clients, expected),
        String::isEmpty);
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  /**
   * Polls until every one of {@code clients} reads the same counts twice in a row, a second apart;
   * returns how long that took. For runs that may count a write twice, where the history cannot say
   * what the nodes should converge to.
   */
  public Duration awaitAgreement(List<TallyClient> clients, Duration timeout)
      throws InterruptedException {
    long t0 = System.nanoTime();
    Object[] previous = {null};
    Poll.until(
        "every node agreeing",
        timeout,
        Duration.ofSeconds(1),
        () -> {
          Map<String, Long> first = counts(clients.get(0));
          for (TallyClient c : clients.subList(1, clients.size())) {
            if (!first.equals(counts(c))) {
              previous[0] = null;
              return false;
            }
          }
          boolean same = first.equals(previous[0]);
          previous[0] = first;
          return same;
        },
        Boolean.TRUE::equals);
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  /**
   * The differences between {@code expected} and what {@code clients} read, or "" when every one of
   * them reads exactly {@code expected} (a node that cannot answer is a difference).
   */
  public String mismatches(List<TallyClient> clients, Map<String, Long> expected)
      throws InterruptedException {
    StringBuilder sb = new StringBuilder();
    for (TallyClient client : clients) {
      Map<String, Long> got;
      try {
        got = counts(client);
      } catch (IOException | RuntimeException e) {
        sb.append("node :").append(client.port()).append(": ").append(e).append("; ");
        continue;
      }
      int shown = 0;
      for (Map.Entry<String, Long> e : expected.entrySet()) {
        Long g = got.get(e.getKey());
        if (g == null || g.longValue() != e.getValue()) {
          if (shown++ < 5) {
            sb.append(
                String.format(
                    "node :%d %s: %s, expected %d; ", client.port(), e.getKey(), g, e.getValue()));
          }
        }
      }
      if (shown > 5) {
        sb.append(String.format("node :%d: %d counters differ; ", client.port(), shown));
      }
    }
    return sb.toString();
  }

  /**
   * Lost and duplicated increments on each of {@code clients} against every write of the load; the
   * worst node's figures. Per counter, a node must show at least its acknowledged increments less
   * every decrement sent (else some are lost), and at most every increment sent less its
   * acknowledged decrements (else some are counted twice).
   */
  public Check check(List<TallyClient> clients) throws IOException, InterruptedException {
    Map<String, long[]> history = new HashMap<>(); // increments sent, acked; decrements sent, acked
    for (Write w : writes.values()) {
      long[] h = history.computeIfAbsent(name(w.op.post(), w.op.counter()), k -> new long[4]);
      int at = w.op.delta() > 0 ? 0 : 2;
      h[at]++;
      if (w.acknowledged) {
        h[at + 1]++;
      }
    }
    long lost = 0;
    long duplicated = 0;
    long inexact = 0;
    for (TallyClient client : clients) {
      Map<String, Long> seen = counts(client);
      long l = 0;
      long d = 0;
      long x = 0;
      for (Map.Entry<String, long[]> e : history.entrySet()) {
        long[] h = e.getValue();
        long got = seen.getOrDefault(e.getKey(), 0L);
        l += Math.max(0, (h[1] - h[2]) - got);
        d += Math.max(0, got - (h[0] - h[3]));
        x += got == h[0] - h[2] ? 0 : 1;
      }
      lost = Math.max(lost, l);
      duplicated = Math.max(duplicated, d);
      inexact = Math.max(inexact, x);
    }
    return new Check(lost, duplicated, inexact);
  }

  /** Every counter of the load as one node reads it, "post/counter" to count (batch reads). */
  public Map<String, Long> counts(TallyClient client) throws IOException, InterruptedException {
    Map<String, Long> out = new LinkedHashMap<>();
    int perRequest = Math.max(1, READ_PAIRS / counters.size());
    for (int from = 0; from < posts.length; from += perRequest) {
      List<Long> some = new ArrayList<>();
      for (int i = from; i < Math.min(posts.length, from + perRequest); i++) {
        some.add(posts[i]);
      }
      Map<String, Object> query = new LinkedHashMap<>();
      query.put("posts", some);
      query.put("counters", counters);
      HttpResponse<String> r =
          client.send(
              "POST",
              "/v1/counts/query",
              JSON.writeValueAsString(query),
              "Content-Type",
              "application/json");
      if (r.statusCode() != 200) {
        throw new IOException("batch read answered " + r.statusCode() + ": " + r.body());
      }
      JsonNode counts = JSON.readTree(r.body()).get("counts");
      for (long p : some) {
        for (String c : counters) {
          JsonNode v = counts.path(Long.toString(p)).path(c).path("count");
          if (v.isIntegralNumber()) {
            out.put(name(p, c), v.asLong());
          }
        }
      }
    }
    return out;
  }

  private static String name(long post, String counter) {
    return post + "/" + counter;
  }

  /** False when interrupted. */
  private static boolean sleep(long millis) {
    try {
      Thread.sleep(millis);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
