package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --idempotency strict} on two real nodes sharing a real Redis Cluster: claims a node left
 * pending are settled by that node from its own record (answered if the write was committed,
 * released if not), a pending claim is never taken over by another node, and a keyed write whose
 * key cannot be claimed is refused with 503 while unkeyed writes go on.
 *
 * <p>The pending claims are made by hand in Redis, exactly as a node killed at the wrong moment
 * leaves them: the claim value without an answer, and the key in the writer's pending set.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StrictIdempotencyIT {

  private static final Duration SETTLE = Duration.ofSeconds(20);

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;

  private static RedisCluster redis;
  private static NodeProcess a;
  private static NodeProcess b;
  private static TallyClient onA;
  private static TallyClient onB;

  @BeforeAll
  static void start() throws Exception {
    assertThat(RedisCluster.available()).as("redis-server is installed (bin/test-deps)").isTrue();
    redis = RedisCluster.start(dir.resolve("redis"));
    a = node("a");
    b = node("b");
    onA = new TallyClient(a.port());
    onB = new TallyClient(b.port());
  }

  private static NodeProcess node(String name) throws Exception {
    return NodeProcess.start(
        dir.resolve(name),
        dir.resolve(name + ".log"),
        "--redis",
        String.join(",", redis.seeds()),
        "--redis-timeout",
        "2s",
        "--idempotency",
        "strict",
        "--idempotency-lease",
        "1s");
  }

  @AfterAll
  static void stop() throws Exception {
    for (NodeProcess n : new NodeProcess[] {a, b}) {
      if (n != null) {
        n.close();
      }
    }
    if (redis != null) {
      redis.close();
    }
  }

  @Test
  @Order(1)
  void aKeyIsAppliedOnceAcrossNodes_andItsClaimHoldsTheAnswer() throws Exception {
    HttpResponse<String> first = onA.write(7001, "likes", "increment", "strict-1");
    assertThat(first.statusCode()).isEqualTo(200);
    HttpResponse<String> retry = onB.write(7001, "likes", "increment", "strict-1");
    assertThat(retry.statusCode()).isEqualTo(200);
    assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    assertThat(claim("strict-1").split(" ")).hasSize(5);
    awaitCount(7001, 1);
  }

  @Test
  @Order(2)
  void aCommittedWriteWhoseAnswerNeverReachedRedis_isAnsweredByItsNode() throws Exception {
    assertThat(onA.write(7002, "likes", "increment", "strict-2").statusCode()).isEqualTo(200);
    String[] answered = claim("strict-2").split(" ");
    String pending = answered[0] + " " + answered[1] + " " + answered[2];
    // as if A had been killed right after its commit: the claim still pending, in A's set
    leavePending(answered[0], "strict-2", pending);

    HttpResponse<String> elsewhere =
        Poll.until(
            "the retry on B answered once A settled its claim",
            SETTLE,
            () -> onB.write(7002, "likes", "increment", "strict-2"),
            r -> r.statusCode() != 409);
    assertThat(elsewhere.statusCode()).as(elsewhere.body()).isEqualTo(200);
    assertThat(elsewhere.headers().firstValue("Idempotent-Replayed")).hasValue("true");
    assertThat(claim("strict-2").split(" ")).hasSize(5);
    assertThat(pendingSet(answered[0])).doesNotContain("strict-2");
    awaitCount(7002, 1);
  }

  @Test
  @Order(3)
  void aClaimWhoseWriteWasNeverCommitted_isReleasedByItsNode_andARetryAppliesOnce()
      throws Exception {
    // a real write on the post gives A's writer id and the counter's name in Redis
    assertThat(onA.write(7003, "likes", "increment", "strict-3a").statusCode()).isEqualTo(200);
    String[] other = claim("strict-3a").split(" ");
    String pending = other[0] + " " + other[1] + " 1";
    // as if A had been killed after claiming strict-3b, before its commit
    leavePending(other[0], "strict-3b", pending);
    assertThat(onB.write(7003, "likes", "increment", "strict-3b").statusCode())
        .as("a claim A holds is not taken over")
        .isEqualTo(409);

    HttpResponse<String> retry =
        Poll.until(
            "the retry on B applied once A released its claim",
            SETTLE,
            () -> onB.write(7003, "likes", "increment", "strict-3b"),
            r -> r.statusCode() != 409);
    assertThat(retry.statusCode()).as(retry.body()).isEqualTo(200);
    assertThat(retry.headers().firstValue("Idempotent-Replayed")).isEmpty();
    awaitCount(7003, 2);
  }

  @Test
  @Order(4)
  void anotherWritersPendingClaimIsNeverTakenOver_evenPastTheLease() throws Exception {
    assertThat(onA.write(7004, "likes", "increment", "strict-4a").statusCode()).isEqualTo(200);
    String counter = claim("strict-4a").split(" ")[1];
    // a claim of a writer that is gone: pending, with no expiry of its own
    redis.cli(redis.port(0), "-c", "SET", "i:strict-4", "feedbeef " + counter + " 1");
    Thread.sleep(1_500); // past --idempotency-lease (available mode would have let it expire)
    for (TallyClient c : new TallyClient[] {onA, onB}) {
      HttpResponse<String> r = c.write(7004, "likes", "increment", "strict-4");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
      assertThat(r.headers().firstValue("Retry-After")).isPresent();
    }
  }

  @Test
  @Order(5)
  void redisDown_keyedWritesAreRefusedWith503_unkeyedWritesGoOn() throws Exception {
    redis.stopAll();
    HttpResponse<String> keyed = onA.write(7005, "likes", "increment", "strict-5");
    assertThat(keyed.statusCode()).as(keyed.body()).isEqualTo(503);
    assertThat(keyed.headers().firstValue("Retry-After")).isPresent();
    assertThat(keyed.body()).contains("urn:tally:problem:unavailable").contains("claimed");
    HttpResponse<String> unkeyed = onA.write(7005, "likes", "increment", null);
    assertThat(unkeyed.statusCode()).as(unkeyed.body()).isEqualTo(200);
    assertThat(TallyClient.countOf(unkeyed.body())).as("the refused write changed nothing").isOne();
  }

  private static String claim(String key) throws Exception {
    return redis.cli(redis.port(0), "-c", "GET", "i:" + key).strip();
  }

  private static String pendingSet(String writer) throws Exception {
    return redis.cli(redis.port(0), "-c", "SMEMBERS", "tally:pending:{" + writer + "}");
  }

  private static void leavePending(String writer, String key, String pending) throws Exception {
    redis.cli(redis.port(0), "-c", "SET", "i:" + key, pending);
    redis.cli(redis.port(0), "-c", "SADD", "tally:pending:{" + writer + "}", key);
  }

  private static void awaitCount(long post, long expected) throws Exception {
    for (TallyClient c : new TallyClient[] {onA, onB}) {
      Poll.until(
          "post " + post + " shows " + expected,
          Duration.ofSeconds(30),
          () -> c.count(post, "likes"),
          n -> n == expected);
    }
  }
}
