package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/** A node's log output as operators get it: JSON lines with the access log, or text without. */
class LoggingIT {

  @Test
  void jsonFormat_everyLineIsAnObject_andTheAccessLogHasEveryRequest(
      @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir) throws Exception {
    Path log = dir.resolve("node.log");
    try (NodeProcess node =
        NodeProcess.start(
            dir.resolve("data"), log, "--log-format", "json", "--access-log", "true")) {
      TallyClient c = new TallyClient(node.port());
      assertThat(c.write(812, "likes", "increment", null).statusCode()).isEqualTo(200);
      assertThat(c.get("/v1/812/nosuch").statusCode()).isEqualTo(404);
      node.stop();
    }
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> lines = new ArrayList<>();
    List<String> raw = Files.readAllLines(log, StandardCharsets.UTF_8);
    for (String line : raw) {
      if (!line.isBlank()) {
        lines.add(json.readTree(line)); // fails on any line that is not one JSON object
      }
    }
    assertThat(lines).isNotEmpty();
    for (JsonNode n : lines) {
      assertThat(n.fieldNames())
          .toIterable()
          .contains("time", "level", "logger", "thread", "message", "node");
    }
    assertThat(lines)
        .anySatisfy(n -> assertThat(n.get("message").asText()).contains("started: port="));
    List<JsonNode> access =
        lines.stream().filter(n -> n.get("logger").asText().equals("tally.access")).toList();
    assertThat(access)
        .as("the node's log:%n%s", String.join("\n", raw))
        .anySatisfy(
            n -> {
              assertThat(n.get("method").asText()).isEqualTo("PUT");
              assertThat(n.get("path").asText()).isEqualTo("/v1/812/likes");
              assertThat(n.get("status").asInt()).isEqualTo(200);
              assertThat(n.get("endpoint").asText()).isEqualTo("write");
              assertThat(n.get("ms").isNumber()).isTrue();
            })
        .anySatisfy(n -> assertThat(n.get("status").asInt()).isEqualTo(404));
  }

  @Test
  void textFormat_isTheDefault_andTheAccessLogIsOff(
      @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir) throws Exception {
    Path log = dir.resolve("node.log");
    try (NodeProcess node = NodeProcess.start(dir.resolve("data"), log)) {
      assertThat(new TallyClient(node.port()).get("/v1/812/likes").statusCode()).isEqualTo(200);
      node.stop();
    }
    List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
    assertThat(lines)
        .anySatisfy(
            l ->
                assertThat(l)
                    .matches("\\S+Z \\[main\\] \\[INFO\\] Tally - tally .* started: port=\\d+ .*"));
    assertThat(lines).noneSatisfy(l -> assertThat(l).startsWith("{"));
    assertThat(lines).noneSatisfy(l -> assertThat(l).contains("/v1/812/likes"));
  }
}
