package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.TallyClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The release archive as a user gets it: unpacked into an empty directory, with nothing but a JDK
 * (JAVA_HOME, a PATH without Maven or the build), its bin/tally starts a node that takes a write
 * and answers it, and the archive carries the systemd unit, the environment example and the docs.
 */
class ReleaseArchiveIT {

  private static final Pattern STARTED = Pattern.compile("started: port=(\\d+)");

  @Test
  void unpacked_itsLauncherStartsANodeWithOnlyAJdk() throws Exception {
    Path archive = Path.of(System.getProperty("tally.dist", "missing"));
    assertThat(archive).as("the archive `mvn package` made").exists();
    Path dir = Files.createTempDirectory("tally-release-it-");
    Process tar =
        new ProcessBuilder("tar", "-xzf", archive.toString(), "-C", dir.toString())
            .inheritIO()
            .start();
    assertThat(tar.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(tar.exitValue()).isZero();
    Path home;
    try (var entries = Files.list(dir)) {
      home = entries.findFirst().orElseThrow();
    }
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
            .directory(dir.toFile())
            .redirectErrorStream(true);
    Map<String, String> env = pb.environment();
    env.clear(); // nothing from the build: only a JDK and the basic tools
    env.put("JAVA_HOME", javaHome.toString());
    env.put("PATH", "/usr/bin:/bin");
    Process node = pb.start();
    try {
      CompletableFuture<Integer> port = new CompletableFuture<>();
      StringBuilder output = new StringBuilder();
      Thread.ofPlatform()
          .daemon()
          .start(
              () -> {
                try (BufferedReader r =
                    new BufferedReader(
                        new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String line; (line = r.readLine()) != null; ) {
                    synchronized (output) {
                      output.append(line).append('\n');
                    }
                    Matcher m = STARTED.matcher(line);
                    if (m.find()) {
                      port.complete(Integer.parseInt(m.group(1)));
                    }
                  }
                } catch (java.io.IOException e) {
                  port.completeExceptionally(e);
                }
                port.completeExceptionally(new IllegalStateException("exited: " + output));
              });
      TallyClient client = new TallyClient(port.get(60, TimeUnit.SECONDS));
      assertThat(client.write(812, "likes", "increment", null).statusCode()).isEqualTo(200);
      assertThat(client.count(812, "likes")).isEqualTo(1);
    } finally {
      node.destroy();
      assertThat(node.waitFor(60, TimeUnit.SECONDS)).as("the node stops on SIGTERM").isTrue();
    }
  }

  @Test
  void theLauncher_refusesAJavaOlderThan21_withAClearMessage() throws Exception {
    Path archive = Path.of(System.getProperty("tally.dist", "missing"));
    Path dir = Files.createTempDirectory("tally-release-it-");
    Process tar =
        new ProcessBuilder("tar", "-xzf", archive.toString(), "-C", dir.toString()).start();
    assertThat(tar.waitFor(60, TimeUnit.SECONDS)).isTrue();
    Path home;
    try (var entries = Files.list(dir)) {
      home = entries.findFirst().orElseThrow();
    }
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
}
