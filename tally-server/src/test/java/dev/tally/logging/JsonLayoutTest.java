package dev.tally.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.event.KeyValuePair;

class JsonLayoutTest {

  private final ObjectMapper json = new ObjectMapper();

  private LoggingEvent event(String message, Throwable thrown, Object... args) {
    LoggerContext ctx = new LoggerContext();
    LoggingEvent e =
        new LoggingEvent(
            "fqcn", ctx.getLogger("dev.tally.Example"), Level.WARN, message, thrown, args);
    e.setThreadName("worker \"1\"");
    e.setTimeStamp(1_796_428_800_123L);
    return e;
  }

  @Test
  void anEvent_isOneLineOfJson_withEveryField_escaped() throws Exception {
    Logging.addContext("node", "00ab");
    LoggingEvent e = event("tab\there \"quoted\" {} back\\slash \u0001 é", null, "line\nbreak");
    e.setKeyValuePairs(
        List.of(new KeyValuePair("status", 503), new KeyValuePair("path", "/v1/\"x\"")));
    String line = new JsonLayout().doLayout(e);

    assertThat(line).endsWith(System.lineSeparator());
    assertThat(line.strip()).doesNotContain("\n").doesNotContain("\t");
    JsonNode n = json.readTree(line);
    assertThat(n.get("time").asText()).isEqualTo("2026-12-05T00:00:00.123Z");
    assertThat(n.get("level").asText()).isEqualTo("WARN");
    assertThat(n.get("logger").asText()).isEqualTo("dev.tally.Example");
    assertThat(n.get("thread").asText()).isEqualTo("worker \"1\"");
    assertThat(n.get("message").asText())
        .isEqualTo("tab\there \"quoted\" line\nbreak back\\slash \u0001 é");
    assertThat(n.get("node").asText()).isEqualTo("00ab");
    assertThat(n.get("status").isNumber()).isTrue();
    assertThat(n.get("status").asInt()).isEqualTo(503);
    assertThat(n.get("path").asText()).isEqualTo("/v1/\"x\"");
    assertThat(n.has("exception")).isFalse();
  }

  @Test
  void anException_travelsAsOneStringField() throws Exception {
    String line =
        new JsonLayout().doLayout(event("failed", new IllegalStateException("store gone")));
    JsonNode n = json.readTree(line);
    assertThat(n.get("exception").asText())
        .contains("java.lang.IllegalStateException: store gone")
        .contains("at dev.tally.logging.JsonLayoutTest");
    assertThat(line.strip()).doesNotContain("\n");
  }
}
