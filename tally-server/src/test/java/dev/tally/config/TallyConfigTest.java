package dev.tally.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.loop.NetTransport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TallyConfigTest {

  @Test
  void defaults_areDocumentedValues() {
    TallyConfig c = TallyConfig.defaults();
    assertThat(c.server().port()).isEqualTo(8080);
    assertThat(c.store().dataDir()).isEqualTo(Path.of("./data"));
    assertThat(c.store().counters()).containsExactly("likes", "views");
    assertThat(c.store().idempotencyRetention()).isEqualTo(Duration.ofHours(24));
    assertThat(c.store().walLimitMb()).isEqualTo(256);
    assertThat(c.store().spareLogMb()).isEqualTo(32);
    assertThat(c.live().streamCoalesce()).isEqualTo(Duration.ofMillis(250));
    assertThat(c.live().streamKeepAlive()).isEqualTo(Duration.ofSeconds(15));
    assertThat(c.live().heartbeatTtl()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.live().maxStreams()).isEqualTo(20_000);
  }

  @Test
  void streamCoalesce_belowTenMillis_isRejected() {
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--stream-coalesce", "5ms"}, Map.of()))
        .hasMessageContaining("--stream-coalesce (TALLY_STREAM_COALESCE)");
  }

  @Test
  void flags_winOverEnvironment_whichWinsOverDefaults() {
    TallyConfig c =
        TallyConfig.parse(
            new String[] {"--port", "9000", "--counters=likes,shares"},
            Map.of("TALLY_PORT", "7000", "TALLY_DATA_DIR", "/var/lib/tally"));
    assertThat(c.server().port()).isEqualTo(9000);
    assertThat(c.store().dataDir()).isEqualTo(Path.of("/var/lib/tally"));
    assertThat(c.store().counters()).containsExactly("likes", "shares");
  }

  @Test
  void eventLoopNice_auto_lowersStandaloneNodesOnly_andAGivenValueWins() {
    TallyConfig standalone = TallyConfig.parse(new String[0], Map.of());
    assertThat(standalone.server().eventLoopNice()).isEqualTo(TallyConfig.AUTO);
    assertThat(standalone.server().eventLoopNiceSteps(standalone.clustered())).isEqualTo(4);
    TallyConfig member = TallyConfig.parse(new String[] {"--redis", "h:1"}, Map.of());
    assertThat(member.server().eventLoopNiceSteps(member.clustered())).isZero();
    TallyConfig given =
        TallyConfig.parse(new String[] {"--redis", "h:1"}, Map.of("TALLY_EVENT_LOOP_NICE", "7"));
    assertThat(given.server().eventLoopNiceSteps(given.clustered())).isEqualTo(7);
    TallyConfig off = TallyConfig.parse(new String[] {"--event-loop-nice", "0"}, Map.of());
    assertThat(off.server().eventLoopNiceSteps(off.clustered())).isZero();
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--event-loop-nice", "20"}, Map.of()))
        .hasMessage(
            "invalid value '20' for --event-loop-nice (TALLY_EVENT_LOOP_NICE): must be between 0"
                + " and 19, or auto");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--event-loop-nice", "-1"}, Map.of()))
        .hasMessageContaining("must be between 0 and 19, or auto");
  }

  @Test
  void transport_autoByDefault_anyCaseAccepted_unknownRefused() {
    assertThat(TallyConfig.parse(new String[0], Map.of()).server().transport())
        .isEqualTo(NetTransport.AUTO);
    assertThat(
            TallyConfig.parse(new String[0], Map.of("TALLY_TRANSPORT", "EPOLL"))
                .server()
                .transport())
        .isEqualTo(NetTransport.EPOLL);
    assertThat(
            TallyConfig.parse(new String[] {"--transport", "io_uring"}, Map.of())
                .server()
                .transport())
        .isEqualTo(NetTransport.IO_URING);
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--transport", "dpdk"}, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "invalid value 'dpdk' for --transport (TALLY_TRANSPORT): must be auto, io_uring,"
                + " epoll or nio");
  }

  @Test
  void badValues_failWithTheOptionAndReason() {
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--port", "70000"}, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessage("invalid value '70000' for --port (TALLY_PORT): must be between 0 and 65535");
    assertThatThrownBy(
            () -> TallyConfig.parse(new String[0], Map.of("TALLY_IDEMPOTENCY_RETENTION", "1 day")))
        .hasMessageContaining("--idempotency-retention");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--counters", "likes,live"}, Map.of()))
        .hasMessageContaining("reserved");
    assertThatThrownBy(
            () -> TallyConfig.parse(new String[] {"--counters", "likes,likes"}, Map.of()))
        .hasMessageContaining("twice");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--wal-limit-mb", "0"}, Map.of()))
        .hasMessage(
            "invalid value '0' for --wal-limit-mb (TALLY_WAL_LIMIT_MB): must be between 1 and"
                + " 65536");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--nope", "1"}, Map.of()))
        .hasMessageContaining("unknown option --nope");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--port"}, Map.of()))
        .hasMessageContaining("needs a value");
  }

  @Test
  void help_listsEveryOptionWithItsVariable() {
    String help = TallyConfig.help();
    for (Option<?> o : TallyConfig.OPTIONS) {
      assertThat(help).contains(o.flag()).contains(o.env());
    }
  }

  @Test
  void clusterOptions_parseSeedsRegionsAndAck() {
    TallyConfig single = TallyConfig.defaults();
    assertThat(single.clustered()).isFalse();
    assertThat(single.cluster().ack()).isEqualTo("local");
    TallyConfig c =
        TallyConfig.parse(
            new String[] {
              "--redis", "10.0.0.1:7000, 10.0.0.2:7000", "--region", "eu", "--ack", "cluster"
            },
            Map.of("TALLY_REMOTE_REGIONS", "us=10.1.0.1:7000,10.1.0.2:7000;ap=10.2.0.1:7000"));
    assertThat(c.clustered()).isTrue();
    assertThat(c.cluster().redis()).containsExactly("10.0.0.1:7000", "10.0.0.2:7000");
    assertThat(c.cluster().remoteRegions().keySet()).containsExactly("us", "ap");
    assertThat(c.cluster().remoteRegions().get("us"))
        .containsExactly("10.1.0.1:7000", "10.1.0.2:7000");
    assertThat(c.cluster().ack()).isEqualTo("cluster");
    assertThat(single.cluster().idempotency()).isEqualTo("available");
    assertThat(single.cluster().idempotencyLease()).isEqualTo(java.time.Duration.ofSeconds(60));
    TallyConfig strict =
        TallyConfig.parse(
            new String[] {"--redis", "h:1", "--idempotency-lease", "5s"},
            Map.of("TALLY_IDEMPOTENCY", "strict"));
    assertThat(strict.cluster().idempotency()).isEqualTo("strict");
    assertThat(strict.cluster().idempotencyLease()).isEqualTo(java.time.Duration.ofSeconds(5));
  }

  @Test
  void clusterOptions_rejectNonsense() {
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--redis", "localhost"}, Map.of()))
        .hasMessageContaining("is not host:port");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--ack", "maybe"}, Map.of()))
        .hasMessageContaining("must be local or cluster");
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--idempotency", "exact"}, Map.of()))
        .hasMessageContaining("must be strict or available");
    assertThatThrownBy(
            () -> TallyConfig.parse(new String[] {"--idempotency-lease", "0s"}, Map.of()))
        .hasMessageContaining("idempotency-lease");
    assertThatThrownBy(
            () -> TallyConfig.parse(new String[] {"--remote-regions", "us=h:1"}, Map.of()))
        .hasMessageContaining("needs --redis");
    assertThatThrownBy(
            () ->
                TallyConfig.parse(
                    new String[] {"--redis", "h:1", "--region", "eu", "--remote-regions", "eu=h:2"},
                    Map.of()))
        .hasMessageContaining("own region");
    assertThatThrownBy(
            () ->
                TallyConfig.parse(
                    new String[] {"--redis", "h:1", "--remote-regions", "us="}, Map.of()))
        .hasMessageContaining("has no Redis address");
  }

  @Test
  void eachGroup_validatesItself_withoutTheParser() {
    assertThatThrownBy(() -> new TallyConfig.Security("off", null, null, 0, 10, 0, 0))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("--rate-limit-client-burst");
    assertThatThrownBy(
            () ->
                new TallyConfig.Server(
                    "h",
                    1,
                    -1,
                    1,
                    0,
                    NetTransport.AUTO,
                    Duration.ofSeconds(1),
                    Duration.ofSeconds(1),
                    1,
                    1,
                    1,
                    Path.of("cert.pem"),
                    null,
                    ""))
        .hasMessageContaining("--tls-cert and --tls-key go together");
    assertThatThrownBy(
            () ->
                new TallyConfig.Server(
                    "h",
                    1,
                    -1,
                    1,
                    20,
                    NetTransport.AUTO,
                    Duration.ofSeconds(1),
                    Duration.ofSeconds(1),
                    1,
                    1,
                    1,
                    null,
                    null,
                    ""))
        .hasMessageContaining("--event-loop-nice must be between 0 and 19");
    TallyConfig c = TallyConfig.parse(new String[] {"--redis", "h:1"}, Map.of());
    assertThat(c.clustered()).isTrue();
    assertThat(c.cluster().redis()).containsExactly("h:1");
    assertThat(c.server().port()).isEqualTo(8080);
    assertThat(c.store().dataDir()).isEqualTo(Path.of("./data"));
    TallyConfig moved = c.withPortAndDataDir(9000, Path.of("/tmp/x"));
    assertThat(moved.server().port()).isEqualTo(9000);
    assertThat(moved.store().dataDir()).isEqualTo(Path.of("/tmp/x"));
    assertThat(moved.cluster()).isEqualTo(c.cluster());
  }

  @Test
  void committers_followTheCores_andAreOneForAClusterMember_unlessGiven() {
    int cores = Runtime.getRuntime().availableProcessors();
    TallyConfig c = TallyConfig.defaults();
    assertThat(c.store().committers()).isZero();
    assertThat(c.store().committerThreads(false)).isEqualTo(Math.max(1, Math.min(8, cores / 4)));
    assertThat(c.store().committerThreads(true)).isEqualTo(1);
    TallyConfig three = TallyConfig.parse(new String[] {"--committers", "3"}, Map.of());
    assertThat(three.store().committerThreads(false)).isEqualTo(3);
    assertThat(
            TallyConfig.parse(new String[0], Map.of("TALLY_COMMITTERS", "2"))
                .store()
                .committerThreads(false))
        .isEqualTo(2);
    // a cluster member runs one unless told otherwise
    assertThat(
            TallyConfig.parse(new String[] {"--redis", "h:1", "--committers", "2"}, Map.of())
                .store()
                .committerThreads(true))
        .isEqualTo(2);
    assertThatThrownBy(() -> TallyConfig.parse(new String[] {"--committers", "65"}, Map.of()))
        .hasMessageContaining("--committers (TALLY_COMMITTERS)");
  }

  @Test
  void optionsThatMeanNothingAlone_areRefused_withWhatTheyNeed() {
    for (String[] args :
        List.of(
            new String[] {"--ack", "cluster"},
            new String[] {"--idempotency", "strict"},
            new String[] {"--redis-user", "tally"},
            new String[] {"--redis-password-file", "/run/secrets/redis"},
            new String[] {"--redis-tls", "true"})) {
      assertThatThrownBy(() -> TallyConfig.parse(args, Map.of()))
          .as(args[0])
          .isInstanceOf(ConfigException.class)
          .hasMessageContaining(args[0])
          .hasMessageContaining("needs --redis");
      // with a Redis they are fine
      String[] withRedis =
          java.util.stream.Stream.concat(
                  java.util.Arrays.stream(args), java.util.stream.Stream.of("--redis", "h:1"))
              .toArray(String[]::new);
      assertThat(TallyConfig.parse(withRedis, Map.of()).clustered()).isTrue();
    }
    assertThatThrownBy(
            () ->
                TallyConfig.parse(
                    new String[] {"--redis", "h:1", "--redis-ca-file", "/etc/ca.pem"}, Map.of()))
        .hasMessageContaining("needs --redis-tls");
    assertThatThrownBy(
            () -> TallyConfig.parse(new String[] {"--rate-limit-client-burst", "50"}, Map.of()))
        .hasMessageContaining("needs --rate-limit-client");
    assertThatThrownBy(
            () -> TallyConfig.parse(new String[] {"--rate-limit-post-burst", "50"}, Map.of()))
        .hasMessageContaining("needs --rate-limit-post");
    assertThat(
            TallyConfig.parse(
                    new String[] {"--rate-limit-post", "10", "--rate-limit-post-burst", "50"},
                    Map.of())
                .security()
                .rateLimitPostBurst())
        .isEqualTo(50);
  }
}
