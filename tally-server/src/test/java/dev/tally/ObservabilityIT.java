package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.Poll;
import dev.tally.testing.RedisCluster;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's files in deploy/ against real nodes: every metric the Grafana dashboard and the
 * Prometheus alert rules use is exported by a running node (standalone, or in cluster mode for the
 * cluster's metrics), and promtool accepts the rules.
 */
class ObservabilityIT {

  private static final Pattern METRIC = Pattern.compile("\\b((?:tally|jvm|process)_[a-z0-9_]+)");
  private static final Pattern EXPORTED = Pattern.compile("^([a-z_:][a-zA-Z0-9_:]*)[{ ]");

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;

  private static RedisCluster redis;
  private static NodeProcess standalone;
  private static NodeProcess clustered;

  @BeforeAll
  static void start() throws Exception {
    assertThat(RedisCluster.available())
        .as("redis-server and redis-cli are installed (bin/test-deps)")
        .isTrue();
    redis = RedisCluster.start(dir.resolve("redis"));
    standalone = NodeProcess.start(dir.resolve("standalone"), dir.resolve("standalone.log"));
    clustered =
        NodeProcess.start(
            dir.resolve("clustered"),
            dir.resolve("clustered.log"),
            "--redis",
            String.join(",", redis.seeds()));
  }

  @AfterAll
  static void stop() throws Exception {
    for (NodeProcess n : new NodeProcess[] {standalone, clustered}) {
      if (n != null) {
        n.close();
      }
    }
    if (redis != null) {
      redis.close();
    }
  }

  static Path deploy() {
    String p = System.getProperty("tally.deploy.dir");
    if (p == null || !Files.isDirectory(Path.of(p))) {
      throw new IllegalStateException("deploy/ not found (" + p + "): run through `mvn verify`");
    }
    return Path.of(p);
  }

  /** The metric names that a file's expressions use. */
  static Set<String> used(String text) {
    Set<String> names = new TreeSet<>();
    Matcher m = METRIC.matcher(text);
    while (m.find()) {
      names.add(m.group(1));
    }
    return names;
  }

  /** The dashboard's expressions, from every panel's targets (and the node variable's query). */
  static String dashboardExpressions() throws IOException {
    JsonNode d =
        new ObjectMapper().readTree(deploy().resolve("grafana/tally-dashboard.json").toFile());
    StringBuilder exprs = new StringBuilder();
    for (JsonNode panel : d.get("panels")) {
      for (JsonNode t : panel.path("targets")) {
        exprs.append(t.get("expr").asText()).append('\n');
      }
    }
    for (JsonNode v : d.path("templating").path("list")) {
      exprs.append(v.path("definition").asText()).append('\n');
    }
    return exprs.toString();
  }

  /** Drives the endpoints whose series appear on first use: writes, reads, a 404, a batch. */
  private static void exercise(NodeProcess node) throws Exception {
    TallyClient c = new TallyClient(node.port());
    StringBuilder batch = new StringBuilder("{\"writes\":[");
    for (int i = 0; i < 1000; i++) {
      batch.append(i == 0 ? "" : ",").append("{\"post_id\":").append(5000 + i);
      batch.append(",\"counter\":\"likes\",\"action\":\"increment\"}");
    }
    batch.append("]}");
    for (int i = 0; i < 20; i++) {
      assertThat(c.write(812, "likes", "increment", null).statusCode()).isEqualTo(200);
      assertThat(c.get("/v1/812/likes").statusCode()).isEqualTo(200);
      assertThat(c.send("POST", "/v1/counts", batch.toString()).statusCode()).isEqualTo(200);
    }
    assertThat(c.get("/v1/812/nosuch").statusCode()).isEqualTo(404);
  }

  /**
   * The names a node exports at /metrics, once they include the JVM's first GC pause series (at
   * most 60 s).
   */
  private static Set<String> exported(NodeProcess node) throws Exception {
    TallyClient c = new TallyClient(node.port());
    return Poll.until(
        "jvm_gc_pause_seconds_count among the names node :" + node.port() + " exports",
        Duration.ofSeconds(60),
        () -> {
          Set<String> names = new TreeSet<>();
          for (String line : c.get("/metrics").body().split("\n")) {
            Matcher m = EXPORTED.matcher(line);
            if (!line.startsWith("#") && m.find()) {
              names.add(m.group(1));
            }
          }
          if (!names.contains("jvm_gc_pause_seconds_count")) {
            exercise(node); // allocate until the JVM collected once (the series start with a GC)
          }
          return names;
        },
        names -> names.contains("jvm_gc_pause_seconds_count"));
  }

  @Test
  void everyMetricTheDashboardAndTheAlertsUse_isExported() throws Exception {
    exercise(standalone);
    exercise(clustered);
    Set<String> single = exported(standalone);
    Set<String> cluster = exported(clustered);
    String alerts =
        Files.readString(deploy().resolve("prometheus/alerts.yml"), StandardCharsets.UTF_8);
    Set<String> wanted = used(alerts);
    wanted.addAll(used(dashboardExpressions()));
    assertThat(wanted)
        .as("names found in the files (the check reads them)")
        .contains("tally_ready", "tally_cluster_backlog", "jvm_memory_used_bytes");
    for (String name : wanted) {
      assertThat(cluster).as("%s is exported by a cluster node", name).contains(name);
      if (!name.startsWith("tally_cluster_")
          && !name.startsWith("tally_live_bus_")
          && !name.startsWith("tally_live_redis_")
          && !name.equals("tally_store_outbox_estimated")) {
        assertThat(single).as("%s is exported by a standalone node", name).contains(name);
      }
    }
  }

  @Test
  void promtoolAcceptsTheAlertRules() throws Exception {
    assertThat(
            java.util.Arrays.stream(System.getenv("PATH").split(":"))
                .anyMatch(d -> Files.isExecutable(Path.of(d, "promtool"))))
        .as("promtool is installed (Debian's prometheus package: bin/test-deps)")
        .isTrue();
    Process p =
        new ProcessBuilder(
                "promtool", "check", "rules", deploy().resolve("prometheus/alerts.yml").toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).contains("SUCCESS");
  }
}
