package dev.tally.resp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.IntegerOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.ProtocolKeyword;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Redis-protocol listener in cluster mode: two real nodes sharing a real Redis Cluster, each
 * with its own RESP port. Writes on one are read on the other, and the idempotent form's keys are
 * claimed cluster-wide like HTTP's.
 */
class RespClusterIT {

  @TempDir Path dir;

  /** The idempotent increment, which Lettuce does not know by name. */
  private enum Tally implements ProtocolKeyword {
    INCRBY;

    @Override
    public byte[] getBytes() {
      return ("TALLY." + name()).getBytes(StandardCharsets.US_ASCII);
    }
  }

  @Test
  void writesOnOneNode_areReadOnTheOther_andKeysHoldAcrossNodes() throws Exception {
    try (RedisCluster redis = RedisCluster.start(dir.resolve("redis"));
        NodeProcess a = node(redis, "a");
        NodeProcess b = node(redis, "b")) {
      RedisClient ca = RedisClient.create(RedisURI.create("127.0.0.1", a.respPort()));
      RedisClient cb = RedisClient.create(RedisURI.create("127.0.0.1", b.respPort()));
      try (StatefulRedisConnection<String, String> onA = ca.connect();
          StatefulRedisConnection<String, String> onB = cb.connect()) {
        RedisCommands<String, String> ra = onA.sync();
        RedisCommands<String, String> rb = onB.sync();
        assertThat(rb.get("likes:31")).isEqualTo("0"); // B follows the counter from now on
        for (int i = 0; i < 10; i++) {
          ra.incr("likes:31");
        }
        Poll.until(
            "B reads A's ten increments",
            Duration.ofSeconds(30),
            () -> rb.get("likes:31"),
            "10"::equals);
        assertThat(idempotent(ra, "likes:31", 5, "cluster-key-1")).isEqualTo(15);
        assertThat(idempotent(rb, "likes:31", 5, "cluster-key-1"))
            .as("the retry on B replays A's answer")
            .isEqualTo(15);
        Poll.until(
            "both read 15",
            Duration.ofSeconds(30),
            () -> ra.get("likes:31") + "/" + rb.get("likes:31"),
            "15/15"::equals);
      } finally {
        ca.shutdown();
        cb.shutdown();
      }
    }
  }

  private static long idempotent(
      RedisCommands<String, String> r, String key, long delta, String idempotencyKey) {
    return r.dispatch(
        Tally.INCRBY,
        new IntegerOutput<>(StringCodec.UTF8),
        new CommandArgs<>(StringCodec.UTF8).addKey(key).add(delta).add(idempotencyKey));
  }

  private NodeProcess node(RedisCluster redis, String name) throws Exception {
    return NodeProcess.start(
        dir.resolve(name),
        dir.resolve(name + ".log"),
        "--redis",
        String.join(",", redis.seeds()),
        "--resp-port",
        "0");
  }
}
