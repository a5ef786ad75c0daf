package dev.tally.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.testing.HaproxyProcess;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client through HAProxy in front of three cluster nodes (a real Redis Cluster), one node
 * killed with SIGKILL under write load and restarted: the client's retries carry the writes to the
 * other nodes, a write it finally gives up on is retried later under its key (as docs/client.md
 * says an application should), and every node then shows exactly the writes the client made. Seeded
 * (system property {@code tally.fault.seed}); skipped without haproxy or redis-server.
 */
@Tag("fault")
class ClientClusterIT {

  static final long SEED = Long.getLong("tally.fault.seed", 17L);
  static final int WRITERS = 8;
  static final int POSTS = 20;

  @TempDir Path tmp;

  @Test
  void aNodeKilledBehindHaproxy_theClientsWritesAllCountOnce() throws Exception {
    assumeTrue(RedisCluster.available(), "redis-server and redis-cli are not installed");
    assumeTrue(HaproxyProcess.available(), "haproxy is not installed");
    Random random = new Random(SEED);
    NodeProcess[] nodes = new NodeProcess[3];
    try (RedisCluster redis = RedisCluster.start(tmp.resolve("redis"))) {
      String seeds = String.join(",", redis.seeds());
      int[] ports = new int[3];
      try {
        for (int i = 0; i < 3; i++) {
          nodes[i] = NodeProcess.clusterMember(tmp, i, seeds, 0);
          ports[i] = nodes[i].port();
        }
        try (HaproxyProcess lb = HaproxyProcess.start(tmp.resolve("haproxy"), ports);
            TallyClient tally =
                TallyClient.builder(URI.create(lb.url()))
                    .backoff(new Backoff(12, Duration.ofMillis(50), Duration.ofSeconds(1)))
                    .build()) {
          Map<Long, AtomicLong> written = new ConcurrentHashMap<>();
          ConcurrentLinkedQueue<TallyProblemException> gaveUp = new ConcurrentLinkedQueue<>();
          ConcurrentLinkedQueue<Long> gaveUpPosts = new ConcurrentLinkedQueue<>();
          AtomicBoolean stop = new AtomicBoolean();
          ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
          List<Future<?>> writers = new ArrayList<>();
          for (int w = 0; w < WRITERS; w++) {
            long seed = random.nextLong();
            writers.add(
                pool.submit(
                    () -> {
                      Random r = new Random(seed);
                      // bounded: stopped after ≈ 5 s, 2,000 writes per writer at most
                      for (int i = 0; i < 2_000 && !stop.get(); i++) {
                        long post = 1 + r.nextInt(POSTS);
                        try {
                          tally.increment(post, "likes");
                          written.computeIfAbsent(post, p -> new AtomicLong()).incrementAndGet();
                        } catch (TallyProblemException e) {
                          assertThat(e.retriable()).as(e.getMessage()).isTrue();
                          gaveUp.add(e);
                          gaveUpPosts.add(post);
                        }
                        Thread.sleep(5);
                      }
                      return null;
                    }));
          }
          int victim = random.nextInt(3);
          Thread.sleep(1_500);
          nodes[victim].kill();
          Thread.sleep(1_000);
          nodes[victim] = NodeProcess.clusterMember(tmp, victim, seeds, ports[victim]);
          lb.awaitState("n" + (victim + 1), "UP", Duration.ofSeconds(60));
          Thread.sleep(1_000);
          stop.set(true);
          for (Future<?> f : writers) {
            f.get(120, TimeUnit.SECONDS);
          }
          pool.shutdown();

          // what the client gave up on, tried again under the same keys; its own retries carried
          // the rest, so at most the writes in flight on the killed node (one per writer) are
          // left: keys it claimed cluster-wide, which other nodes refuse (409) until the
          // restarted node answers them or the claim lapses
          List<Long> posts = new ArrayList<>(gaveUpPosts);
          List<TallyProblemException> failures = new ArrayList<>(gaveUp);
          System.out.printf(
              "writes answered under load: %d; given up after the retries: %d (%s)%n",
              written.values().stream().mapToLong(AtomicLong::get).sum(),
              failures.size(),
              failures.stream().map(TallyProblemException::getMessage).toList());
          assertThat(failures).hasSizeLessThanOrEqualTo(WRITERS);
          try (TallyClient patient =
              TallyClient.builder(URI.create(lb.url()))
                  .backoff(new Backoff(60, Duration.ofMillis(100), Duration.ofSeconds(2)))
                  .build()) {
            for (int i = 0; i < failures.size(); i++) {
              patient.write(
                  posts.get(i), "likes", Action.INCREMENT, failures.get(i).idempotencyKey());
              written.computeIfAbsent(posts.get(i), p -> new AtomicLong()).incrementAndGet();
            }
          }
          long total = written.values().stream().mapToLong(AtomicLong::get).sum();
          assertThat(total).isGreaterThan(500);

          // every node, read directly, ends at exactly those counts
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          for (int i = 0; i < 3; i++) {
            try (TallyClient direct =
                TallyClient.builder(URI.create("http://127.0.0.1:" + ports[i])).build()) {
              List<Long> all = new ArrayList<>();
              for (long p = 1; p <= POSTS; p++) {
                all.add(p);
              }
              Poll.until(
                  "node n" + (i + 1) + " to show what the client wrote, " + written,
                  Duration.ofNanos(Math.max(0, deadline - System.nanoTime())),
                  Duration.ofMillis(200),
                  () -> direct.read(all, List.of("likes")),
                  page -> {
                    boolean same = true;
                    for (long p = 1; p <= POSTS; p++) {
                      long want = written.getOrDefault(p, new AtomicLong()).get();
                      same &= page.get(p).get("likes").count() == want;
                    }
                    return same;
                  });
            }
          }
        }
      } finally {
        for (NodeProcess n : nodes) {
          if (n != null) {
            n.close();
          }
        }
      }
    }
  }
}
