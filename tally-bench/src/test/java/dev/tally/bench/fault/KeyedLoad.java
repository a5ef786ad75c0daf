package dev.tally.bench.fault;

import dev.tally.bench.History;
import dev.tally.bench.KeyChooser;
import dev.tally.bench.LoadGenerator;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Seeded, bounded increment load through chosen tally nodes, for the cluster fault scenarios. Every
 * write carries a unique Idempotency-Key and is recorded in the run's {@link History} and in the
 * history of its {@link Phase}, together with the node it was sent to.
 *
 * <p>Writes left in doubt (no 200 seen) are retried on the node they were first sent to: while a
 * node cannot reach its Redis it applies a key without a cluster-wide claim, so only its own
 * idempotency record knows the key ({@code ClusterWriter}), and a retry through another node could
 * count the write twice. Retries are not counted as acknowledged; {@link #retried()} counts them.
 *
 * <p>Use from the test thread: {@link #write} starts writer threads and returns once they all
 * ended.
 */
final class KeyedLoad {

  /** Bound on one request: far above a node's answer time when Redis times out (2 × 2 s). */
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

  /** The writes of one phase of the run. */
  static final class Phase {
    final String name;
    final History history = new History();

    private Phase(String name) {
      this.name = name;
    }
  }

  /** Exactness of one node's counts against the run's history. */
  record Check(long lost, long duplicated, long inexactCounters) {}

  private final KeyChooser posts;
  private final String counter;
  private final String runId;
  private final Random seeds;
  private final History all = new History();
  private final Map<String, Integer> portOfKey = new ConcurrentHashMap<>();
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private long retried;

  KeyedLoad(KeyChooser posts, String counter, String runId, long seed) {
    this.posts = posts;
    this.counter = counter;
    this.runId = runId;
    this.seeds = new Random(seed);
  }

  /** Every write of the run. */
  History history() {
    return all;
  }

  /** In-doubt writes retried (with their keys) until acknowledged. */
  long retried() {
    return retried;
  }

  /** A phase being written: {@link #join} waits for its writers. */
  final class Running {
    private final Phase phase;
    private final List<Thread> writers;
    private final long joinMillis;
    private final java.util.concurrent.atomic.AtomicBoolean stop;

    private Running(
        Phase phase,
        List<Thread> writers,
        long joinMillis,
        java.util.concurrent.atomic.AtomicBoolean stop) {
      this.phase = phase;
      this.writers = writers;
      this.joinMillis = joinMillis;
      this.stop = stop;
    }

    /** Asks the writers to send no more writes; {@link #join} waits for the ones in flight. */
    void stop() {
      stop.set(true);
    }

    /** The phase being written; its history grows until {@link #join} returns. */
    Phase phase() {
      return phase;
    }

    Phase join() throws InterruptedException {
      long deadline = System.nanoTime() + joinMillis * 1_000_000L;
      for (Thread w : writers) {
        w.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
        if (w.isAlive()) {
          throw new AssertionError(w.getName() + " did not end in time");
        }
      }
      return phase;
    }
  }

  /** {@link #start} and {@link Running#join}. */
  Phase write(
      String name, List<Integer> ports, int threads, int maxOps, long millis, long pauseMillis)
      throws InterruptedException {
    return start(name, ports, threads, maxOps, millis, pauseMillis).join();
  }

  /**
   * Starts writing from {@code threads} threads through the nodes listening on {@code ports} (each
   * write to a node picked at random), until {@code maxOps} writes were sent or {@code millis}
   * passed, pausing {@code pauseMillis} after each write on a thread. Phase names must be unique
   * within the run (they are part of the keys).
   */
  Running start(
      String name, List<Integer> ports, int threads, int maxOps, long millis, long pauseMillis) {
    Phase phase = new Phase(name);
    long deadline = System.nanoTime() + millis * 1_000_000L;
    int perThread = (maxOps + threads - 1) / threads;
    java.util.concurrent.atomic.AtomicBoolean stop =
        new java.util.concurrent.atomic.AtomicBoolean();
    List<Thread> writers = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      SplittableRandom random = new SplittableRandom(seeds.nextLong());
      String prefix = runId + "-" + name + "-" + t + "-";
      writers.add(
          Thread.ofPlatform()
              .name("keyed-load-" + name + "-" + t)
              .start(
                  () -> {
                    for (int i = 0;
                        i < perThread && System.nanoTime() - deadline < 0 && !stop.get();
                        i++) {
                      int port = ports.get(random.nextInt(ports.size()));
                      History.Op op = new History.Op(posts.next(random), counter, prefix + i);
                      portOfKey.put(op.key(), port);
                      all.sent(op);
                      phase.history.sent(op);
                      if (attempt(port, op)) {
                        all.acknowledged(op);
                        phase.history.acknowledged(op);
                      }
                      if (pauseMillis > 0) {
                        try {
                          Thread.sleep(pauseMillis);
                        } catch (InterruptedException e) {
                          return;
                        }
                      }
                    }
                  }));
    }
    return new Running(phase, writers, millis + REQUEST_TIMEOUT.toMillis() + 10_000, stop);
  }

  /**
   * Retries every write of {@code phase} left in doubt on the node it was sent to, with its key,
   * until acknowledged; returns how many there were.
   */
  int retryInDoubt(Phase phase, long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    List<History.Op> doubt = phase.history.inDoubt();
    for (History.Op op : doubt) {
      while (!attempt(portOfKey.get(op.key()), op)) {
        if (System.nanoTime() - deadline > 0) {
          throw new AssertionError(
              "write " + op.key() + " not acknowledged on retry within " + timeoutMillis + " ms");
        }
        Thread.sleep(100);
      }
      retried++;
    }
    return doubt.size();
  }

  /**
   * For {@code millis}, sends every write of {@code phase} still in doubt once more per pass, with
   * its key, to a node other than the one it was sent to (the first of {@code ports} that is not
   * it), until that node answers 200; the first try may still be running. Returns how many times
   * each status came back (-1: no answer). Like every retry, these do not count as acknowledged.
   */
  Map<Integer, Integer> retryElsewhere(Phase phase, List<Integer> ports, long millis)
      throws InterruptedException {
    Map<Integer, Integer> statuses = new java.util.TreeMap<>();
    java.util.Set<String> answered = new java.util.HashSet<>();
    long deadline = System.nanoTime() + millis * 1_000_000L;
    while (System.nanoTime() - deadline < 0) {
      for (History.Op op : phase.history.inDoubt()) {
        if (answered.contains(op.key()) || System.nanoTime() - deadline >= 0) {
          continue;
        }
        int first = portOfKey.get(op.key());
        int other = ports.stream().filter(p -> p != first).findFirst().orElseThrow();
        int status = status(other, op);
        statuses.merge(status, 1, Integer::sum);
        if (status == 200) {
          answered.add(op.key());
          retried++;
        }
      }
      Thread.sleep(200);
    }
    return statuses;
  }

  /** Distinct writes of {@code phases} per counter ("post/counter"): what an exact node shows. */
  static Map<String, Long> expected(List<Phase> phases) {
    Map<String, Long> out = new HashMap<>();
    for (Phase p : phases) {
      for (History.CounterCheck c : p.history.check(Map.of())) {
        out.merge(c.post() + "/" + c.counter(), c.attempted(), Long::sum);
      }
    }
    return out;
  }

  /** What the node on {@code port} shows for every post of the run. */
  Map<String, Long> counts(int port) throws IOException, InterruptedException {
    return LoadGenerator.readCounts("http://127.0.0.1:" + port, posts, counter);
  }

  /**
   * The differences between {@code expected} and what the nodes on {@code ports} show, or "" when
   * every node shows exactly {@code expected} (a node that cannot answer is a difference).
   */
  String mismatches(List<Integer> ports, Map<String, Long> expected) {
    StringBuilder sb = new StringBuilder();
    for (int port : ports) {
      Map<String, Long> seen;
      try {
        seen = counts(port);
      } catch (IOException | RuntimeException e) {
        sb.append("node :").append(port).append(" did not answer: ").append(e).append("; ");
        continue;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return "interrupted";
      }
      TreeSet<String> names = new TreeSet<>(expected.keySet());
      names.addAll(seen.keySet());
      int shown = 0;
      for (String n : names) {
        long want = expected.getOrDefault(n, 0L);
        long got = seen.getOrDefault(n, 0L);
        if (want != got && shown++ < 5) {
          sb.append(String.format("node :%d %s: %d, expected %d; ", port, n, got, want));
        }
      }
      if (shown > 5) {
        sb.append(String.format("node :%d: %d counters differ; ", port, shown));
      }
    }
    return sb.toString();
  }

  /**
   * Polls until every node on {@code ports} shows exactly {@code expected}; returns the
   * milliseconds that took.
   *
   * @throws AssertionError with the last differences when that takes over {@code timeoutMillis}
   */
  long awaitExact(List<Integer> ports, Map<String, Long> expected, long timeoutMillis)
      throws InterruptedException {
    long t0 = System.nanoTime();
    while (true) {
      String diff = mismatches(ports, expected);
      long elapsed = (System.nanoTime() - t0) / 1_000_000;
      if (diff.isEmpty()) {
        return elapsed;
      }
      if (elapsed > timeoutMillis) {
        throw new AssertionError("not exact within " + timeoutMillis + " ms: " + diff);
      }
      Thread.sleep(50);
    }
  }

  /**
   * Polls until every node on {@code ports} shows the same counts twice in a row, a second apart;
   * returns the milliseconds that took. For runs that may count a write twice, where the history
   * cannot say what the nodes should converge to.
   */
  long awaitAgreement(List<Integer> ports, long timeoutMillis) throws InterruptedException {
    long t0 = System.nanoTime();
    Map<String, Long> previous = null;
    while (true) {
      Map<String, Long> first = null;
      boolean agree = true;
      for (int port : ports) {
        Map<String, Long> seen;
        try {
          seen = counts(port);
        } catch (IOException | RuntimeException e) {
          agree = false;
          break;
        }
        if (first == null) {
          first = seen;
        } else if (!first.equals(seen)) {
          agree = false;
          break;
        }
      }
      long elapsed = (System.nanoTime() - t0) / 1_000_000;
      if (agree && first.equals(previous)) {
        return elapsed;
      }
      previous = agree ? first : null;
      if (elapsed > timeoutMillis) {
        throw new AssertionError("nodes did not agree within " + timeoutMillis + " ms");
      }
      Thread.sleep(1_000);
    }
  }

  /** Lost and duplicated increments on each node against the whole run; the worst node's. */
  Check check(List<Integer> ports) throws IOException, InterruptedException {
    long lost = 0;
    long duplicated = 0;
    long inexact = 0;
    for (int port : ports) {
      long l = 0;
      long d = 0;
      long x = 0;
      for (History.CounterCheck c : all.check(counts(port))) {
        l += c.lost();
        d += c.duplicated();
        x += c.observedDelta() == c.attempted() ? 0 : 1;
      }
      lost = Math.max(lost, l);
      duplicated = Math.max(duplicated, d);
      inexact = Math.max(inexact, x);
    }
    return new Check(lost, duplicated, inexact);
  }

  /** GET {@code path} on the node on {@code port}: the body, whatever the status. */
  String get(int port, String path) throws IOException, InterruptedException {
    return http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(REQUEST_TIMEOUT)
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** One try; true when the node answered 200 (applied or replayed). */
  private boolean attempt(int port, History.Op op) {
    return status(port, op) == 200;
  }

  /** One try; the answer's status, or -1 when none came. */
  private int status(int port, History.Op op) {
    try {
      HttpResponse<Void> r =
          http.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + port + "/v1/" + op.post() + "/" + counter))
                  .timeout(REQUEST_TIMEOUT)
                  .header("Content-Type", "application/json")
                  .header("Idempotency-Key", op.key())
                  .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"increment\"}"))
                  .build(),
              HttpResponse.BodyHandlers.discarding());
      return r.statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }
}
