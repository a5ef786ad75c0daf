package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Online backups: taken from a serving node (HTTP and the {@code tally backup} command), restored
 * elsewhere by copying, and the copy serves exactly the counts of the moment of the backup under a
 * writer id of its own, and refuses to join a cluster.
 */
class BackupIT {

  private static final Pattern NODE_ID = Pattern.compile("node-id=([0-9a-f]{16})");
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  @Test
  void backupWhileServing_restoreElsewhere_countsOfThatMoment_newWriterId() throws Exception {
    Path backups = dir.resolve("backups");
    Path first;
    Path second;
    String originalId;
    try (NodeProcess node =
        NodeProcess.start(
            dir.resolve("data"), dir.resolve("node.log"), "--backup-dir", backups.toString())) {
      TallyClient c = new TallyClient(node.port());
      for (int i = 0; i < 3; i++) {
        c.write(5, "likes", "increment", null);
      }
      c.write(5, "views", "increment", null);
      HttpResponse<String> made = post(node.port(), "/admin/backup");
      assertThat(made.statusCode()).as(made.body()).isEqualTo(200);
      JsonNode answer = JSON.readTree(made.body());
      first = Path.of(answer.get("path").asText());
      assertThat(first.getParent()).isEqualTo(backups.toAbsolutePath().normalize());
      assertThat(answer.get("created_at").asText()).endsWith("Z");
      assertThat(first.resolve("node-id")).doesNotExist();

      // more writes after it: not in the first backup
      c.write(5, "likes", "increment", null);
      c.write(5, "likes", "increment", null);

      // the command does the same from a shell
      Process cmd =
          new ProcessBuilder(
                  ProcessHandle.current().info().command().orElse("java"),
                  "-jar",
                  NodeProcess.jar().toString(),
                  "backup",
                  "--url",
                  "http://127.0.0.1:" + node.port())
              .redirectErrorStream(true)
              .start();
      String printed = new String(cmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(cmd.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(cmd.exitValue()).as(printed).isZero();
      second = Path.of(printed.trim());
      assertThat(second).isDirectory().isNotEqualTo(first);
      originalId = nodeId(dir.resolve("node.log"));
      node.stop();
    }

    assertThat(countsOfACopy(first, "r1")).isEqualTo(List.of(3L, 1L));
    assertThat(countsOfACopy(second, "r2")).isEqualTo(List.of(5L, 1L));
    assertThat(nodeId(dir.resolve("r1.log"))).isNotEqualTo(originalId);
    assertThat(nodeId(dir.resolve("r2.log"))).isNotEqualTo(originalId);
    assertThat(Files.readString(first.resolve("backup.json"))).contains(originalId);
  }

  @Test
  void aCopyOfABackup_isRefusedAsAClusterMember() throws Exception {
    Path backup;
    try (NodeProcess node =
        NodeProcess.start(
            dir.resolve("data"),
            dir.resolve("node.log"),
            "--backup-dir",
            dir.resolve("backups").toString())) {
      new TallyClient(node.port()).write(5, "likes", "increment", null);
      HttpResponse<String> made = post(node.port(), "/admin/backup");
      backup = Path.of(JSON.readTree(made.body()).get("path").asText());
      node.stop();
    }
    Path copy = dir.resolve("copy");
    copyTree(backup, copy);
    // refused before any connection: the address is never used
    Process p =
        new ProcessBuilder(
                ProcessHandle.current().info().command().orElse("java"),
                "-jar",
                NodeProcess.jar().toString(),
                "--port",
                "0",
                "--data-dir",
                copy.toString(),
                "--redis",
                "127.0.0.1:1")
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isEqualTo(2);
    assertThat(out).contains("is a backup or a copy of one").contains("without --redis");
    assertThat(copy.resolve("node-id")).doesNotExist();
  }

  @Test
  void backupsOff_orWrongMethod_areClearProblems() throws Exception {
    try (NodeProcess node = NodeProcess.start(dir.resolve("data"), dir.resolve("node.log"))) {
      HttpResponse<String> off = post(node.port(), "/admin/backup");
      assertThat(off.statusCode()).isEqualTo(404);
      assertThat(off.body()).contains("urn:tally:problem:not-found").contains("--backup-dir");
      HttpResponse<String> get = new TallyClient(node.port()).get("/admin/backup");
      assertThat(get.statusCode()).isEqualTo(405);
      assertThat(get.headers().firstValue("Allow")).hasValue("POST");
    }
  }

  /** Starts a node on a copy of {@code backup}; its likes and views of post 5. */
  private List<Long> countsOfACopy(Path backup, String name) throws Exception {
    Path copy = dir.resolve(name);
    copyTree(backup, copy);
    try (NodeProcess node = NodeProcess.start(copy, dir.resolve(name + ".log"))) {
      TallyClient c = new TallyClient(node.port());
      List<Long> counts = List.of(c.count(5, "likes"), c.count(5, "views"));
      node.stop();
      return counts;
    }
  }

  private static HttpResponse<String> post(int port, String path)
      throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
              .POST(HttpRequest.BodyPublishers.noBody())
              .build(),
          HttpResponse.BodyHandlers.ofString());
    }
  }

  private static String nodeId(Path log) throws IOException {
    Matcher m = NODE_ID.matcher(Files.readString(log));
    assertThat(m.find()).as("start line in %s", log).isTrue();
    return m.group(1);
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.copy(p, to.resolve(from.relativize(p).toString()));
      }
    }
  }
}
