package dev.tally.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A keyed write load on tally nodes, and its history. Every write is an increment or a decrement of
 * one counter of a random post, with an Idempotency-Key of its own; it goes to a random node and,
 * while it gets no answer (connection failure, timeout) or a retryable one (409, 429, 5xx), is
 * retried with the same key on the next node a few times, then once more in {@link #settle}. The
 * load remembers what every key meant, so once every key is acknowledged the exact count of every
 * counter is known ({@link #expected}) and {@link #awaitEverywhere} can require it from every node.
 *
 * <p>Thread-safe: {@link #start} runs writer threads; the other methods are for the test thread.
 */
public final class KeyedLoad {

  /** One write: its counter and its delta (+1 or -1). */
  public record Op(long post, String counter, int delta) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Tries of a write before its writer moves on, leaving it to {@link #settle}. */
  private static final int INLINE_TRIES = 3;

  /** At most this many post × counter pairs per batch read (tally's default limit is 1000). */
  private static final int READ_PAIRS = 500;

  private final java.util.function.Supplier<List<TallyClient>> nodes;
  private final long[] posts;
  private final List<String> counters;
  private final String prefix;
  private final Map<String, Op> ops = new ConcurrentHashMap<>();
  private final Set<String> acked = ConcurrentHashMap.newKeySet();
  private final Set<String> refused = ConcurrentHashMap.newKeySet();
  private final Map<String, AtomicLong> outcomes = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<String> anomalies = new ConcurrentLinkedQueue<>();
  private final AtomicLong replays = new AtomicLong();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final List<Thread> writers = new ArrayList<>();
  private int phases;

  /**
   * @param clients one per node; writes and retries spread over them
   * @param posts the posts written to
   * @param counters the counter names written to
   * @param prefix starts every Idempotency-Key, so two loads never share one
   */
  public KeyedLoad(List<TallyClient> clients, long[] posts, List<String> counters, String prefix) {
    this(fixed(List.copyOf(clients)), posts, counters, prefix);
  }

  private static java.util.function.Supplier<List<TallyClient>> fixed(List<TallyClient> clients) {
    return () -> clients;
  }

  /**
   * A load on nodes that may come and go: {@code nodes} is asked for the current clients (one per
   * node, in a stable order) before every try and every read, so a node restarted on another port
   * is written to again.
   */
  public KeyedLoad(
      java.util.function.Supplier<List<TallyClient>> nodes,
      long[] posts,
      List<String> counters,
      String prefix) {
    this.nodes = nodes;
    this.posts = posts.clone();
    this.counters = List.copyOf(counters);
    this.prefix = prefix;
  }

  /**
   * Starts {@code threads} writers, each writing until {@link #stop} or {@code maxPerThread}
   * writes; about {@code decrementShare} of the writes are decrements. May be called again after
   * {@link #stop}: each start is a phase with keys of its own, and the history covers them all.
   */
  public void start(int threads, long seed, int maxPerThread, double decrementShare) {
    if (!writers.isEmpty()) {
      throw new IllegalStateException("stop() the running writers first");
    }
    stop.set(false);
    String phase = prefix + "-" + phases++;
    Random seeds = new Random(seed);
    for (int t = 0; t < threads; t++) {
      Random rnd = new Random(seeds.nextLong());
      int id = t;
      writers.add(
          Thread.ofPlatform()
              .name("keyed-load-" + id)
              .start(
                  () -> {
                    for (int i = 0; i < maxPerThread && !stop.get(); i++) {
                      String key = phase + "-" + id + "-" + i;
                      Op op =
                          new Op(
                              posts[rnd.nextInt(posts.length)],
                              counters.get(rnd.nextInt(counters.size())),
                              rnd.nextDouble() < decrementShare ? -1 : 1);
                      ops.put(key, op);
                      int count = nodes.get().size();
                      int node = rnd.nextInt(count);
                      for (int tries = 0; tries < INLINE_TRIES && !stop.get(); tries++) {
                        if (attempt(node, key, op)) {
                          break;
                        }
                        node = (node + 1) % count;
                        sleep(20L << tries);
                      }
                    }
                  }));
    }
  }

  /** Stops the writers and waits for them (each finishes the request it is in). */
  public void stop() throws InterruptedException {
    stop.set(true);
    for (Thread w : writers) {
      w.join(60_000);
      if (w.isAlive()) {
        throw new IllegalStateException(w.getName() + " did not stop within 60 s");
      }
    }
    writers.clear();
  }

  /**
   * Retries every write not yet acknowledged, with its own key, round-robin over the nodes, until
   * each is acknowledged or refused for good, within {@code timeout}; fails after it.
   */
  public void settle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int node = 0;
    for (Map.Entry<String, Op> e : ops.entrySet()) {
      while (!acked.contains(e.getKey()) && !refused.contains(e.getKey())) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError(
              "writes still not acknowledged after " + timeout + ": " + (sent() - acknowledged()));
        }
        if (!attempt(node++ % nodes.get().size(), e.getKey(), e.getValue())) {
          Thread.sleep(50);
        }
      }
    }
  }

  /**
   * One try; true when the write is acknowledged (applied or replayed) or refused for good (an
   * anomaly, recorded), false when it is in doubt and must be retried.
   */
  private boolean attempt(int node, String key, Op op) {
    String outcome;
    try {
      HttpResponse<String> r =
          nodes
              .get()
              .get(node)
              .write(op.post(), op.counter(), op.delta() > 0 ? "increment" : "decrement", key);
      int status = r.statusCode();
      outcome = Integer.toString(status);
      count(outcome);
      if (status == 200) {
        acked.add(key);
        if (r.headers().firstValue("Idempotent-Replayed").orElse("").equals("true")) {
          replays.incrementAndGet();
        }
        return true;
      }
      if (status == 409 || status == 429 || status >= 500) {
        return false; // not applied, or in doubt: the same key again
      }
      refused.add(key);
      anomalies.add(key + " " + op + " on node " + node + ": " + status + " " + r.body());
      return true;
    } catch (IOException | RuntimeException e) {
      count(e.getClass().getSimpleName());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void count(String outcome) {
    outcomes.computeIfAbsent(outcome, o -> new AtomicLong()).incrementAndGet();
  }

  /** Writes made (distinct keys). */
  public int sent() {
    return ops.size();
  }

  /** Writes acknowledged at least once. */
  public int acknowledged() {
    return acked.size();
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

  /**
   * The sum of the acknowledged writes of every counter written, "post/counter" to sum: what a node
   * must show at least (increments only) once they were acknowledged.
   */
  public Map<String, Long> acknowledgedTotals() {
    Map<String, Long> m = new TreeMap<>();
    for (String key : acked) {
      Op op = ops.get(key);
      m.merge(op.post() + "/" + op.counter(), (long) op.delta(), Long::sum);
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
    for (String key : List.copyOf(acked)) {
      Op op = ops.get(key);
      HttpResponse<String> r =
          client.write(op.post(), op.counter(), op.delta() > 0 ? "increment" : "decrement", key);
      if (r.statusCode() == 200
          && r.headers().firstValue("Idempotent-Replayed").orElse("").equals("true")) {
        replayed++;
      }
    }
    return replayed;
  }

  /** Writes refused with an answer that retrying cannot change (422, 400, …): none expected. */
  public List<String> anomalies() {
    return List.copyOf(anomalies);
  }

  /** "post/counter" of every counter written or writable, and its exact expected count. */
  public Map<String, Long> expected() {
    Map<String, Long> e = new TreeMap<>();
    for (long p : posts) {
      for (String c : counters) {
        e.put(p + "/" + c, 0L);
      }
    }
    ops.forEach((key, op) -> e.merge(op.post() + "/" + op.counter(), (long) op.delta(), Long::sum));
    return e;
  }

  /**
   * Waits until every node reads exactly {@link #expected} of every counter (batch reads), within
   * {@code timeout}; returns how long it took, or fails listing what differed last.
   */
  public Duration awaitEverywhere(Duration timeout) throws InterruptedException {
    Map<String, Long> expected = expected();
    long t0 = System.nanoTime();
    long deadline = t0 + timeout.toNanos();
    String last;
    do {
      last = mismatches(expected);
      if (last.isEmpty()) {
        return Duration.ofNanos(System.nanoTime() - t0);
      }
      Thread.sleep(200);
    } while (System.nanoTime() < deadline);
    throw new AssertionError("nodes did not converge in " + timeout + ": " + last);
  }

  private String mismatches(Map<String, Long> expected) throws InterruptedException {
    StringBuilder sb = new StringBuilder();
    int shown = 0;
    List<TallyClient> clients = nodes.get();
    for (int n = 0; n < clients.size(); n++) {
      Map<String, Long> got;
      try {
        got = read(clients.get(n));
      } catch (IOException | RuntimeException e) {
        sb.append("node ").append(n).append(": ").append(e).append("; ");
        continue;
      }
      for (Map.Entry<String, Long> e : expected.entrySet()) {
        Long g = got.get(e.getKey());
        if (g == null || g.longValue() != e.getValue()) {
          if (shown++ < 20) {
            sb.append(String.format("node %d %s: %s != %d; ", n, e.getKey(), g, e.getValue()));
          }
        }
      }
    }
    if (shown > 20) {
      sb.append("and ").append(shown - 20).append(" more");
    }
    return sb.toString();
  }

  /** Every counter of {@link #posts} as one node reads it, "post/counter" to count. */
  private Map<String, Long> read(TallyClient client) throws IOException, InterruptedException {
    Map<String, Long> out = new LinkedHashMap<>();
    int perRequest = Math.max(1, READ_PAIRS / counters.size());
    for (int from = 0; from < posts.length; from += perRequest) {
      Map<String, Object> query = new LinkedHashMap<>();
      List<Long> some = new ArrayList<>();
      for (int i = from; i < Math.min(posts.length, from + perRequest); i++) {
        some.add(posts[i]);
      }
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
        throw new IllegalStateException("batch read answered " + r.statusCode() + ": " + r.body());
      }
      JsonNode counts = JSON.readTree(r.body()).get("counts");
      for (long p : some) {
        for (String c : counters) {
          JsonNode v = counts.path(Long.toString(p)).path(c).path("count");
          if (v.isIntegralNumber()) {
            out.put(p + "/" + c, v.asLong());
          }
        }
      }
    }
    return out;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
