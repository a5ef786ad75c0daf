package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.Slot;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.RedisCluster.Guard;
import dev.tally.testing.TestCa;
import dev.tally.testing.Values;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@link RedisSlots} against real Redis Clusters that demand ACL credentials: one on plain TCP, one
 * with TLS only. Each logs in as tally's user, whose rights are exactly {@link
 * RedisOptions#ACL_RULE}, and checks afterwards that Redis denied it no command, key or channel.
 */
class RedisSlotsAuthIT {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static String stackTrace(Throwable t) {
    StringWriter w = new StringWriter();
    t.printStackTrace(new PrintWriter(w));
    return w.toString();
  }

  /** Empties every live node's ACL log, so a later {@link #deniedByAcl} sees only new entries. */
  private static void resetAclLog(RedisCluster cluster) throws Exception {
    for (int i = 0; i < RedisCluster.NODES; i++) {
      cluster.cli(cluster.port(i), "acl", "log", "reset");
    }
  }

  /**
   * What the ACL of any live node denied since {@link #resetAclLog}, as "reason object user";
   * failed logins ("auth") are not counted.
   */
  private static List<String> deniedByAcl(RedisCluster cluster, List<Integer> ports)
      throws Exception {
    List<String> denied = new ArrayList<>();
    for (int port : ports) {
      String[] lines = cluster.cli(port, "acl", "log").split("\r?\n");
      String reason = null;
      String object = null;
      for (int i = 0; i + 1 < lines.length; i++) {
        switch (lines[i]) {
          case "reason" -> reason = lines[i + 1];
          case "object" -> object = lines[i + 1];
          case "username" -> {
            if (!"auth".equals(reason)) {
              denied.add(reason + " " + object + " " + lines[i + 1] + " on " + port);
            }
          }
          default -> {}
        }
      }
    }
    return denied;
  }

  private static List<Integer> allPorts(RedisCluster cluster) {
    List<Integer> ports = new ArrayList<>();
    for (int i = 0; i < RedisCluster.NODES; i++) {
      ports.add(cluster.port(i));
    }
    return ports;
  }

  /**
   * Pushes two writers' slots for a few hundred counters over every primary, reads the sums and
   * views, takes the cluster's fingerprint and claims, updates and releases an idempotency key:
   * every command {@link RedisSlots} sends.
   */
  private static void pushAndRead(RedisSlots a, RedisSlots b) throws Exception {
    List<CounterId> ids = new ArrayList<>();
    List<Slot> slotsA = new ArrayList<>();
    List<Slot> slotsB = new ArrayList<>();
    for (long post = 1; post <= 300; post++) {
      ids.add(new CounterId(post, 1));
      slotsA.add(new Slot(post * 3, 1));
      slotsB.add(new Slot(post, 0));
    }
    await(a.push(ids, Values.of(slotsA)));
    await(b.push(ids, Values.of(slotsB)));
    Map<CounterId, Long> totals = await(b.totals(ids));
    for (int i = 0; i < ids.size(); i++) {
      assertThat(totals.get(ids.get(i))).isEqualTo(slotsA.get(i).value() + slotsB.get(i).value());
    }
    StoredCounter[] records = await(a.records(ids));
    assertThat(records[0].slotOf(1)).isEqualTo(slotsA.get(0));
    assertThat(records[0].total()).isEqualTo(slotsA.get(0).value() + slotsB.get(0).value());

    String fingerprint = await(a.fingerprint());
    assertThat(await(b.fingerprint())).isEqualTo(fingerprint);

    Duration ttl = Duration.ofMinutes(1);
    assertThat(await(new IdempotencyClaims(a.connection()).claim("auth-it", "claim-a", ttl)))
        .isNull();
    assertThat(await(new IdempotencyClaims(b.connection()).claim("auth-it", "claim-b", ttl)))
        .isEqualTo("claim-a");
    IdempotencyClaims claimsA = new IdempotencyClaims(a.connection());
    assertThat(await(claimsA.settle("auth-it", "claim-a", "answered", ttl))).isTrue();
    assertThat(await(claimsA.get("auth-it"))).isEqualTo("answered");
    assertThat(await(claimsA.release("auth-it", "answered"))).isTrue();
    assertThat(await(new IdempotencyClaims(b.connection()).claim("auth-it", "claim-b", ttl)))
        .isNull();
    // strict idempotency: the pending set, and a claim sent to its primary and replicated (WAIT)
    await(claimsA.addPending("a1", List.of("auth-it-2")));
    assertThat(await(claimsA.scanPending("a1", io.lettuce.core.ScanCursor.INITIAL, 10)).getValues())
        .containsExactly("auth-it-2");
    assertThat(await(claimsA.claimReplicated("auth-it-2", "claim-a", ttl))).isNull();
    await(claimsA.removePending("a1", List.of("auth-it-2")));
  }

  /**
   * What the live bus sends, on a client made like its own: the presence script (HSET, HDEL,
   * HGETALL, PEXPIREAT and TIME inside) on a post's presence hash, SSUBSCRIBE and SPUBLISH on a
   * bucket's channel through a cluster pub/sub connection, HGET of a counter's total.
   */
  private static void liveBusCommands(RedisOptions options) throws Exception {
    RedisClusterClient client =
        RedisClients.create(
            options,
            ClusterClientOptions.builder().timeoutOptions(TimeoutOptions.enabled(TIMEOUT)));
    try (StatefulRedisClusterConnection<String, String> c = client.connect();
        StatefulRedisClusterPubSubConnection<String, String> pubsub = client.connectPubSub()) {
      BlockingQueue<String> heard = new LinkedBlockingQueue<>();
      pubsub.setNodeMessagePropagation(true);
      pubsub.addListener(
          new RedisClusterPubSubAdapter<>() {
            @Override
            public void smessage(RedisClusterNode node, String channel, String message) {
              heard.add(channel + " " + message);
            }
          });
      String channel = LiveBus.channel(5);
      await(pubsub.async().ssubscribe(channel));
      await(c.async().spublish(channel, "hello"));
      assertThat(heard.poll(10, TimeUnit.SECONDS)).isEqualTo(channel + " hello");

      String[] keys = {Presence.presenceKey(812)};
      await(
          c.async()
              .<List<Object>>eval(
                  Presence.PRESENCE.text(), ScriptOutputType.MULTI, keys, "1", "3", "30000"));
      List<Object> others =
          await(
              c.async()
                  .<List<Object>>eval(
                      Presence.PRESENCE.text(), ScriptOutputType.MULTI, keys, "2", "-1", "30000"));
      assertThat(others).hasSize(2).first().isEqualTo(3L);
      await(
          c.async()
              .hget(
                  RedisSlots.key(new CounterId(812, 1), RedisSlots.DEFAULT_BUCKETS),
                  RedisSlots.field(new CounterId(812, 1))));
    } finally {
      client.shutdown();
    }
  }

  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  class WithAcl {

    private RedisCluster cluster;
    private Path dir;

    @BeforeAll
    void startCluster() throws Exception {
      assertThat(RedisCluster.available())
          .as("redis-server and redis-cli must be installed (bin/test-deps)")
          .isTrue();
      dir = Files.createTempDirectory("tally-redis-acl-");
      cluster = RedisCluster.start(dir.resolve("cluster"), Guard.ACL);
    }

    @AfterAll
    void stopCluster() throws Exception {
      if (cluster != null) {
        cluster.close();
      }
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }

    @BeforeEach
    void flush() throws Exception {
      cluster.flushAll();
      resetAclLog(cluster);
    }

    @Test
    void tallysUser_withThePasswordFromAFile_runsEveryCommandOfTally() throws Exception {
      Path file = dir.resolve("redis-password");
      Files.writeString(file, cluster.tallyPassword() + "\n");
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      RedisOptions options =
          RedisOptions.load(
              cluster.seeds().subList(0, 1),
              RedisCluster.TALLY_USER,
              file,
              Map.of(),
              false,
              null,
              TIMEOUT);
      try (RedisSlots a = new RedisSlots(options, 1);
          RedisSlots b = new RedisSlots(options, 2)) {
        pushAndRead(a, b);
      }
      liveBusCommands(options);
      assertThat(deniedByAcl(cluster, allPorts(cluster))).isEmpty();
    }

    @Test
    void aWrongPassword_failsClearly_andNeverShowsAPassword() {
      String wrong = "wrong-" + cluster.tallyPassword().substring(6);
      RedisOptions options =
          new RedisOptions(
              cluster.seeds(), RedisCluster.TALLY_USER, wrong.toCharArray(), false, null, TIMEOUT);

      assertThatThrownBy(() -> new RedisSlots(options, 1).close())
          .isInstanceOf(RedisRefusedException.class)
          .hasMessageContaining("refused user 'tally'")
          .hasMessageContaining("WRONGPASS")
          .satisfies(
              e ->
                  assertThat(stackTrace(e))
                      .doesNotContain(wrong)
                      .doesNotContain(cluster.tallyPassword())
                      .doesNotContain(cluster.adminPassword()));
    }

    @Test
    void theDefaultUserWithoutAPassword_isRefused() {
      RedisOptions options = RedisOptions.plain(cluster.seeds(), TIMEOUT);

      assertThatThrownBy(() -> new RedisSlots(options, 1).close())
          .isInstanceOf(RedisRefusedException.class)
          .hasMessageContaining("refused user 'default'")
          .hasMessageContaining("NOAUTH");
    }

    @Test
    void tallysUser_cannotFlushNorTouchOtherKeys() throws Exception {
      RedisClusterClient client =
          RedisClusterClient.create(
              RedisURI.builder()
                  .withHost("127.0.0.1")
                  .withPort(cluster.port(0))
                  .withAuthentication(RedisCluster.TALLY_USER, cluster.tallyPassword())
                  .withTimeout(TIMEOUT)
                  .build());
      try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
        assertThat(c.sync().set("t:{x}:1", "1")).isEqualTo("OK");
        assertThatThrownBy(() -> c.sync().set("session:42", "x"))
            .isInstanceOf(RedisCommandExecutionException.class)
            .hasMessageStartingWith("NOPERM");
        assertThatThrownBy(() -> c.sync().flushall())
            .isInstanceOf(RedisCommandExecutionException.class)
            .hasMessageStartingWith("NOPERM");
        assertThatThrownBy(() -> c.sync().configGet("requirepass"))
            .isInstanceOf(RedisCommandExecutionException.class)
            .hasMessageStartingWith("NOPERM");
      } finally {
        client.shutdown();
      }
      assertThat(deniedByAcl(cluster, allPorts(cluster)))
          .anyMatch(d -> d.startsWith("key session:42 tally"))
          .anyMatch(d -> d.startsWith("command flushall tally"));
    }
  }

  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  class WithTls {

    private RedisCluster cluster;
    private Path dir;

    @BeforeAll
    void startCluster() throws Exception {
      assertThat(RedisCluster.tlsAvailable())
          .as("redis-server, redis-cli built with TLS (Debian's are) and openssl are needed")
          .isTrue();
      dir = Files.createTempDirectory("tally-redis-tls-");
      cluster = RedisCluster.start(dir.resolve("cluster"), Guard.ACL_TLS);
    }

    @AfterAll
    void stopCluster() throws Exception {
      if (cluster != null) {
        cluster.close();
      }
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }

    @BeforeEach
    void flush() throws Exception {
      cluster.flushAll();
      resetAclLog(cluster);
    }

    private RedisOptions options(Path caFile) {
      return RedisOptions.load(
          cluster.seeds(),
          RedisCluster.TALLY_USER,
          null,
          Map.of(RedisOptions.PASSWORD_ENV, cluster.tallyPassword()),
          true,
          caFile,
          TIMEOUT);
    }

    @Test
    void overTls_pushesAndReads_andFollowAFailover() throws Exception {
      RedisOptions options = options(cluster.caFile());
      try (RedisSlots a = new RedisSlots(options, 1);
          RedisSlots b = new RedisSlots(options, 2)) {
        pushAndRead(a, b);
        liveBusCommands(options);

        // the promoted replica is found by the topology refresh (CLUSTER NODES, INFO) and reached
        // over TLS with tally's credentials, at the TLS port the cluster announces
        List<Integer> ports = allPorts(cluster);
        int victim = cluster.primaries().get(0);
        cluster.kill(victim - cluster.port(0));
        ports.remove(Integer.valueOf(victim));
        List<CounterId> ids = new ArrayList<>();
        List<Slot> slots = new ArrayList<>();
        for (long post = 1; post <= 300; post++) {
          ids.add(new CounterId(post, 2));
          slots.add(new Slot(post, 0));
        }
        Poll.until(
            "a push after primary " + victim + " was killed",
            Duration.ofSeconds(30),
            Duration.ofMillis(200),
            () -> await(a.push(ids, Values.of(slots))),
            pushed -> true);
        Map<CounterId, Long> totals = await(b.totals(ids));
        for (int i = 0; i < ids.size(); i++) {
          assertThat(totals.get(ids.get(i))).isEqualTo(slots.get(i).value());
        }
        assertThat(deniedByAcl(cluster, ports)).isEmpty();
      } finally {
        cluster.awaitOk();
      }
    }

    @Test
    void aClientTrustingAnotherCa_isRefused() throws Exception {
      TestCa other = TestCa.create(dir.resolve("other-ca"), "some other CA");

      assertThatThrownBy(() -> new RedisSlots(options(other.certificate()), 1).close())
          .isInstanceOf(RedisRefusedException.class)
          .hasMessageContaining("TLS with Redis Cluster failed")
          .satisfies(e -> assertThat(stackTrace(e)).doesNotContain(cluster.tallyPassword()));
    }

    @Test
    void aClientTrustingOnlyTheJvmTrustStore_isRefused() {
      assertThatThrownBy(() -> new RedisSlots(options(null), 1).close())
          .isInstanceOf(RedisRefusedException.class)
          .hasMessageContaining("TLS with Redis Cluster failed");
    }

    @Test
    void aClientWithoutTls_isRefused() {
      RedisOptions plainTcp =
          new RedisOptions(
              cluster.seeds(),
              RedisCluster.TALLY_USER,
              cluster.tallyPassword().toCharArray(),
              false,
              null,
              Duration.ofSeconds(3));

      assertThatThrownBy(() -> new RedisSlots(plainTcp, 1).close())
          .isInstanceOf(RedisConnectionException.class);
    }
  }
}
