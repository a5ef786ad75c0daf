package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive as a user gets it: unpacked into an empty directory, with nothing but a JDK
 * (JAVA_HOME, a PATH without Maven or the build), its bin/tally starts a node that takes a write
 * and answers it, and the archive carries the systemd unit, the environment example and the docs.
 */
class ReleaseArchiveIT {

  @Test
  void unpacked_itsLauncherStartsANodeWithOnlyAJdk(
      @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir) throws Exception {
    Path archive = Path.of(System.getProperty("tally.dist", "missing"));
    assertThat(archive).as("the archive `mvn package` made").exists();
    Path home = unpack(archive, dir);
    assertThat(home.getFileName().toString()).startsWith("tally-");
    for (String f :
        new String[] {
          "bin/tally",
          "lib/tally.jar",
          "deploy/tally.service",
          "deploy/tally.env",
          "deploy/prometheus/alerts.yml",
          "deploy/grafana/tally-dashboard.json",
          "docs/api.md",
          "docs/operations.md",
          "README.md"
        }) {
      assertThat(home.resolve(f)).as(f).exists();
    }
    assertThat(Files.isExecutable(home.resolve("bin/tally"))).isTrue();

    Path javaHome =
        Path.of(ProcessHandle.current().info().command().orElseThrow()).getParent().getParent();
    ProcessBuilder pb =
        new ProcessBuilder(
                home.resolve("bin/tally").toString(),
                "--port",
                "0",
                "--host",
                "127.0.0.1",
                "--data-dir",
                dir.resolve("data").toString())
            .directory(dir.toFile());
    Map<String, String> env = pb.environment();
    env.clear(); // nothing from the build: only a JDK and the basic tools
    env.put("JAVA_HOME", javaHome.toString());
    env.put("PATH", "/usr/bin:/bin");
    try (NodeProcess node = NodeProcess.launch(pb, dir.resolve("node.log"))) {
      TallyClient client = new TallyClient(node.port());
      assertThat(client.write(812, "likes", "increment", null).statusCode()).isEqualTo(200);
      assertThat(client.count(812, "likes")).isEqualTo(1);
      assertThat(node.stop()).as("the node stops on SIGTERM, exit code").isZero();
    }
    // bin/tally runs ZGC without its proactive cycles, and its concurrent threads go below the
    // committers with the event loops, as do the store's background threads
    assertThat(Files.readString(dir.resolve("node.log")))
        .containsPattern("jvm: Java \\S+, collector ZGC, proactive cycles off, heap up to \\d+ MiB")
        .containsPattern("event loops: \\d+ threads lowered by 4")
        .containsPattern("collector: \\d+ threads lowered by 4")
        .containsPattern("store: \\d+ flush and compaction threads lowered by 4");
  }

  @Test
  void theLauncher_refusesAJavaOlderThan21_withAClearMessage(
      @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir) throws Exception {
    Path archive = Path.of(System.getProperty("tally.dist", "missing"));
    Path home = unpack(archive, dir);
    // a fake java that says it is Java 17
    Path fake = dir.resolve("old-jdk/bin/java");
    Files.createDirectories(fake.getParent());
    Files.writeString(fake, "#!/bin/sh\necho '    java.specification.version = 17' >&2\n");
    fake.toFile().setExecutable(true);
    ProcessBuilder pb =
        new ProcessBuilder(home.resolve("bin/tally").toString()).redirectErrorStream(true);
    pb.environment().put("JAVA_HOME", dir.resolve("old-jdk").toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(1);
    assertThat(out).contains("needs Java 21 or newer");
  }

  /** Unpacks {@code archive} into {@code dir} with tar; returns the directory it made. */
  private static Path unpack(Path archive, Path dir) throws Exception {
    Process tar =
        new ProcessBuilder("tar", "-xzf", archive.toString(), "-C", dir.toString())
            .inheritIO()
            .start();
    assertThat(tar.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(tar.exitValue()).isZero();
    try (var entries = Files.list(dir)) {
      return entries.findFirst().orElseThrow();
    }
  }
}
