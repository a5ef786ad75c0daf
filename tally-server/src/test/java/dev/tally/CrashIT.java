package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a real node process under write load. Every write carries a unique idempotency key and
 * the history records each one as acknowledged (200) or in doubt (no answer). After each crash the
 * node restarts on the same data dir, and the check is exact: every acknowledged write is there
 * (its key is known and replays), and after clients retry their in-doubt writes with the same keys,
 * every counter equals the number of distinct writes sent to it.
 */
class CrashIT {

  private static final String[] COUNTERS = {"likes", "views"};
  private static final int POSTS = 5;
  private static final int CLIENTS = 12;
  private static final int KILLS = 3;

  @TempDir Path tmp;

  /** One write in the history. */
  record Op(String key, long post, String counter) {}

  @Test
  void kill9_underLoad_losesNoAcknowledgedWrite_andRetriesMakeTotalsExact() throws Exception {
    Path data = tmp.resolve("data");
    Path log = tmp.resolve("node.log");
    Random seedSource = new Random(20261123L);
    Set<Op> acked = ConcurrentHashMap.newKeySet();
    Set<Op> inDoubt = ConcurrentHashMap.newKeySet();
    long attempted = 0;

    NodeProcess node = NodeProcess.start(data, log);
    try {
      for (int round = 0; round < KILLS; round++) {
        long roundSeed = seedSource.nextLong();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> clients = new ArrayList<>();
        int[] sent = new int[CLIENTS];
        for (int c = 0; c < CLIENTS; c++) {
          int id = c;
          TallyClient client = new TallyClient(node.port());
          Random r = new Random(roundSeed + c);
          int r0 = round;
          clients.add(
              Thread.ofPlatform()
                  .start(
                      () -> {
                        // bounded: at most 20,000 writes per client per round
                        for (int i = 0; i < 20_000 && !stop.get(); i++) {
                          Op op =
                              new Op(
                                  "r" + r0 + "-c" + id + "-" + i,
                                  1 + r.nextInt(POSTS),
                                  COUNTERS[r.nextInt(COUNTERS.length)]);
                          sent[id]++;
                          try {
                            HttpResponse<String> resp =
                                client.write(op.post(), op.counter(), "increment", op.key());
                            if (resp.statusCode() == 200) {
                              acked.add(op);
                            } else {
                              inDoubt.add(op);
                            }
                          } catch (Exception e) {
                            inDoubt.add(op);
                            return; // the node is gone: this client stops
                          }
                        }
                      }));
        }
        Thread.sleep(1_500 + new Random(roundSeed).nextInt(1_000));
        node.kill();
        stop.set(true);
        for (Thread t : clients) {
          t.join(30_000);
        }
        for (int s : sent) {
          attempted += s;
        }
        node = NodeProcess.start(data, log);
        TallyClient check = new TallyClient(node.port());

        // every acknowledged write survived: its key is known and replays
        Map<String, Long> lowerBound = countsOf(acked);
        for (Map.Entry<String, Long> e : lowerBound.entrySet()) {
          String[] pc = e.getKey().split("/");
          assertThat(check.count(Long.parseLong(pc[0]), pc[1]))
              .as("counter %s holds every acknowledged increment", e.getKey())
              .isGreaterThanOrEqualTo(e.getValue());
        }
      }

      // clients retry everything in doubt, with the same keys
      TallyClient retry = new TallyClient(node.port());
      for (Op op : inDoubt) {
        HttpResponse<String> r = retry.write(op.post(), op.counter(), "increment", op.key());
        assertThat(r.statusCode()).isEqualTo(200);
      }
      // acknowledged writes replay instead of applying again
      int replays = 0;
      for (Op op : acked) {
        HttpResponse<String> r = retry.write(op.post(), op.counter(), "increment", op.key());
        assertThat(r.headers().firstValue("idempotent-replayed"))
            .as("acknowledged write %s is known after the crash", op.key())
            .contains("true");
        replays++;
      }
      Set<Op> all = ConcurrentHashMap.newKeySet();
      all.addAll(acked);
      all.addAll(inDoubt);
      Map<String, Long> expected = countsOf(all);
      for (long post = 1; post <= POSTS; post++) {
        for (String counter : COUNTERS) {
          assertThat(retry.count(post, counter))
              .as("exact total of %d/%s", post, counter)
              .isEqualTo(expected.getOrDefault(post + "/" + counter, 0L));
        }
      }
      System.out.printf(
          "crash history: kills=%d attempted=%d acknowledged=%d in-doubt=%d lost=0 duplicated=0%n",
          KILLS, attempted, acked.size(), inDoubt.size());
      assertThat(acked.size()).as("the load acknowledged writes").isGreaterThan(KILLS * 100);
      assertThat(replays).isEqualTo(acked.size());
      assertThat((long) all.size()).isEqualTo(attempted);
    } finally {
      node.close();
    }
  }

  @Test
  void sigterm_stopsCleanly_andKeepsEveryAcknowledgedWrite() throws Exception {
    Path data = tmp.resolve("data2");
    NodeProcess node = NodeProcess.start(data, tmp.resolve("node2.log"));
    TallyClient client = new TallyClient(node.port());
    for (int i = 0; i < 100; i++) {
      assertThat(client.write(3, "likes", "increment", null).statusCode()).isEqualTo(200);
    }
    assertThat(node.stop()).as("exit code after SIGTERM").isZero();
    node = NodeProcess.start(data, tmp.resolve("node2.log"));
    try {
      assertThat(new TallyClient(node.port()).count(3, "likes")).isEqualTo(100);
    } finally {
      node.close();
    }
  }

  private static Map<String, Long> countsOf(Set<Op> ops) {
    Map<String, Long> m = new HashMap<>();
    for (Op op : ops) {
      m.merge(op.post() + "/" + op.counter(), 1L, Long::sum);
    }
    return m;
  }
}
