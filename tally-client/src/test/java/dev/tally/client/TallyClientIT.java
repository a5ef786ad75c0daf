package dev.tally.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against a real node: every call, its problems, its retries and its live stream. */
class TallyClientIT {

  @TempDir Path dir;

  private static TallyClient client(NodeProcess node, Backoff backoff) {
    return TallyClient.builder(URI.create("http://127.0.0.1:" + node.port()))
        .backoff(backoff)
        .requestTimeout(Duration.ofSeconds(5))
        .build();
  }

  @Test
  void writesReadsAndBatches() throws Exception {
    try (NodeProcess node = NodeProcess.start(dir.resolve("data"), dir.resolve("node.log"));
        TallyClient tally = client(node, Backoff.DEFAULT)) {
      assertThat(tally.get(7, "likes")).isEqualTo(new Count(0, null));
      assertThat(tally.increment(7, "likes").count()).isEqualTo(1);
      assertThat(tally.increment(7, "likes").count()).isEqualTo(2);
      Count down = tally.decrement(7, "likes");
      assertThat(down.count()).isEqualTo(1);
      assertThat(down.updatedAt()).isNotNull();

      // the same key twice: applied once, the second answer is the first one again
      Count first = tally.write(7, "views", Action.INCREMENT, "view-of-7-by-ana");
      Count again = tally.write(7, "views", Action.INCREMENT, "view-of-7-by-ana");
      assertThat(again).isEqualTo(first);
      assertThat(tally.get(7, "views").count()).isEqualTo(1);

      List<BatchResult> results =
          tally.write(
              List.of(
                  BatchWrite.increment(8, "likes"),
                  BatchWrite.increment(8, "likes"),
                  new BatchWrite(9, "views", Action.INCREMENT, "k-9"),
                  new BatchWrite(9, "views", Action.INCREMENT, "k-9"),
                  BatchWrite.increment(9, "nosuch")));
      assertThat(results).hasSize(5);
      assertThat(results.subList(0, 4)).allSatisfy(r -> assertThat(r.ok()).isTrue());
      assertThat(results.get(1).count().count()).isEqualTo(2);
      assertThat(results.get(3).replayed()).isTrue();
      assertThat(results.get(4).problem().status()).isEqualTo(404);
      assertThat(results.get(4).problem().type()).isEqualTo("urn:tally:problem:not-found");
      assertThat(results.get(4).problem().idempotencyKey()).isNotBlank();

      Map<Long, Map<String, Count>> page = tally.read(List.of(7L, 8L, 9L, 10L), List.of());
      assertThat(page.get(7L).get("likes").count()).isEqualTo(1);
      assertThat(page.get(7L).get("views").count()).isEqualTo(1);
      assertThat(page.get(8L).get("likes").count()).isEqualTo(2);
      assertThat(page.get(9L).get("views").count()).isEqualTo(1);
      assertThat(page.get(10L).get("likes")).isEqualTo(new Count(0, null));
      assertThat(tally.read(List.of(8L), List.of("likes")).get(8L)).containsOnlyKeys("likes");
    }
  }

  @Test
  void problems_areTyped_andNotRetried() throws Exception {
    try (NodeProcess node = NodeProcess.start(dir.resolve("data"), dir.resolve("node.log"));
        TallyClient tally =
            client(node, new Backoff(8, Duration.ofSeconds(1), Duration.ofSeconds(2)))) {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> tally.increment(7, "nosuch"))
          .isInstanceOfSatisfying(
              TallyProblemException.class,
              p -> {
                assertThat(p.status()).isEqualTo(404);
                assertThat(p.type()).isEqualTo("urn:tally:problem:not-found");
                assertThat(p.retriable()).isFalse();
                assertThat(p.idempotencyKey()).isNotBlank();
              });
      // a key reused for another write
      tally.write(7, "likes", Action.INCREMENT, "once");
      assertThatThrownBy(() -> tally.write(7, "likes", Action.DECREMENT, "once"))
          .isInstanceOfSatisfying(
              TallyProblemException.class,
              p -> {
                assertThat(p.status()).isEqualTo(422);
                assertThat(p.type()).isEqualTo("urn:tally:problem:idempotency-conflict");
                assertThat(p.idempotencyKey()).isEqualTo("once");
              });
      // neither was retried: a retry would have waited at least 0.5 s
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(500));
      assertThat(tally.get(7, "likes").count()).isEqualTo(1);
    }
  }

  @Test
  void noNode_isATransportProblem_afterTheRetries() throws Exception {
    int port;
    try (NodeProcess node = NodeProcess.start(dir.resolve("data"), dir.resolve("node.log"))) {
      port = node.port();
      node.stop();
    }
    try (TallyClient tally =
        TallyClient.builder(URI.create("http://127.0.0.1:" + port))
            .backoff(new Backoff(3, Duration.ofMillis(10), Duration.ofMillis(20)))
            .build()) {
      assertThatThrownBy(() -> tally.increment(7, "likes"))
          .isInstanceOfSatisfying(
              TallyProblemException.class,
              p -> {
                assertThat(p.status()).isZero();
                assertThat(p.type()).isEqualTo(TallyProblemException.TRANSPORT);
                assertThat(p.retriable()).isTrue();
                assertThat(p.idempotencyKey()).isNotBlank();
              });
      // a batch that never got an answer: every item says so, with the key it was sent under
      List<BatchResult> lost =
          tally.write(
              List.of(
                  BatchWrite.increment(7, "likes"),
                  new BatchWrite(8, "likes", Action.INCREMENT, "mine")));
      assertThat(lost).hasSize(2).allSatisfy(r -> assertThat(r.problem().status()).isZero());
      assertThat(lost.get(0).problem().idempotencyKey())
          .isNotBlank()
          .isEqualTo(lost.get(0).write().idempotencyKey());
      assertThat(lost.get(1).problem().idempotencyKey()).isEqualTo("mine");
    }
  }

  /**
   * Writers keep incrementing while the node is killed (SIGKILL) and restarted on its port and
   * data: the client retries each write under its key until the node is back, so every write is
   * answered (some only after the outage) and the count is exactly the number of writes; the live
   * stream reconnects by itself and shows the final count.
   */
  @Test
  void aNodeKilledAndRestarted_writesRetryThrough_countsExact_streamReconnects() throws Exception {
    Path data = dir.resolve("data");
    NodeProcess node = NodeProcess.start(data, dir.resolve("node.log"));
    int port = node.port();
    Backoff patient = new Backoff(40, Duration.ofMillis(50), Duration.ofMillis(500));
    int writers = 8;
    java.util.concurrent.atomic.AtomicBoolean stop =
        new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong slowest = new java.util.concurrent.atomic.AtomicLong();
    List<LiveEvent> events = new CopyOnWriteArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try (TallyClient tally = client(node, patient);
        Subscription live = tally.subscribe(42, events::add, null)) {
      List<Future<Long>> done = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        done.add(
            pool.submit(
                () -> {
                  long writes = 0;
                  // bounded: the test stops it after ≈ 3 s, and 10,000 writes at most
                  while (!stop.get() && writes < 10_000) {
                    long t0 = System.nanoTime();
                    tally.increment(42, "likes");
                    slowest.accumulateAndGet(System.nanoTime() - t0, Math::max);
                    writes++;
                    Thread.sleep(5);
                  }
                  return writes;
                }));
      }
      Thread.sleep(500);
      node.kill();
      Thread.sleep(1_000);
      node = NodeProcess.start(data, dir.resolve("node.log"), "--port", Integer.toString(port));
      Thread.sleep(500);
      stop.set(true);
      long total = 0;
      for (Future<Long> f : done) {
        total += f.get(60, TimeUnit.SECONDS);
      }
      assertThat(Duration.ofNanos(slowest.get()))
          .as("some writes waited out the outage")
          .isGreaterThan(Duration.ofMillis(900));
      assertThat(tally.get(42, "likes").count()).isEqualTo(total);
      long finalCount = total;
      Poll.until(
          "the stream shows the final count " + finalCount,
          Duration.ofSeconds(20),
          Duration.ofMillis(50),
          () -> events.isEmpty() ? null : events.get(events.size() - 1).counts().get("likes"),
          likes -> likes != null && likes.count() == finalCount);
      assertThat(live.connections()).isGreaterThanOrEqualTo(2);
      assertThat(events).anySatisfy(e -> assertThat(e.snapshot()).isTrue());
      assertThat(events).allSatisfy(e -> assertThat(e.postId()).isEqualTo(42));
    } finally {
      stop.set(true);
      pool.shutdownNow();
      node.close();
    }
  }
}
