package dev.tally.resp;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RespReplyTest {

  private static String text(RespReply r) {
    return new String(r.take(), StandardCharsets.UTF_8);
  }

  @Test
  void scalarReplies_areWrittenAsRedisWritesThem() {
    RespReply r = new RespReply();
    r.simple("OK").error("ERR value is not an integer\r\nor out of range").integer(-42);
    r.bulk("héllo").nil();
    assertThat(text(r))
        .isEqualTo(
            "+OK\r\n-ERR value is not an integer  or out of range\r\n:-42\r\n$6\r\nhéllo\r\n$-1\r\n");
  }

  @Test
  void integerReplies_madeWithoutABuffer_areTheSameBytes() {
    for (long n : new long[] {0, 7, -7, 10, 99, -100, 123456789, Long.MAX_VALUE, Long.MIN_VALUE}) {
      assertThat(new String(RespReply.integerReply(n), StandardCharsets.UTF_8))
          .isEqualTo(text(new RespReply().integer(n)))
          .isEqualTo(":" + n + "\r\n");
    }
  }

  @Test
  void nullsAndMaps_followTheConnectionsProtocol() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("server", "tally");
    m.put("proto", 3);
    RespReply r = new RespReply();
    r.map(m).nil();
    assertThat(text(r))
        .isEqualTo("*4\r\n$6\r\nserver\r\n$5\r\ntally\r\n$5\r\nproto\r\n:3\r\n$-1\r\n");
    r.protocol(3);
    r.map(m).nil();
    assertThat(text(r))
        .isEqualTo("%2\r\n$6\r\nserver\r\n$5\r\ntally\r\n$5\r\nproto\r\n:3\r\n_\r\n");
  }

  @Test
  void arraysOfBulks() {
    RespReply r = new RespReply();
    r.bulks(List.of("a", "bc")).array(0);
    assertThat(text(r)).isEqualTo("*2\r\n$1\r\na\r\n$2\r\nbc\r\n*0\r\n");
    assertThat(r.take()).isEmpty();
  }
}
