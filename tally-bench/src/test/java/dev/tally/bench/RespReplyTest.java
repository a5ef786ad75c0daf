package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class RespReplyTest {

  private static int reply(String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    return LoadEngine.respReply(b, b.length);
  }

  @Test
  void integerAndSimpleRepliesCompleteAtTheirLineEnd() throws IOException {
    assertThat(reply(":42\r\n")).isEqualTo(200);
    assertThat(reply("+OK\r\n")).isEqualTo(200);
    assertThat(reply(":42\r")).isZero();
    assertThat(reply(":4")).isZero();
  }

  @Test
  void bulkRepliesWaitForTheirWholeValue() throws IOException {
    assertThat(reply("$3\r\n12")).isZero();
    assertThat(reply("$3\r\n123\r")).isZero();
    assertThat(reply("$3\r\n123\r\n")).isEqualTo(200);
    assertThat(reply("$-1\r\n")).isEqualTo(200); // nil: a key never incremented
  }

  @Test
  void errorRepliesCountAsServerErrors() throws IOException {
    assertThat(reply("-ERR value is not an integer or out of range\r\n")).isEqualTo(500);
  }

  @Test
  void unknownReplyTypesAreRefused() {
    assertThatThrownBy(() -> reply("*1\r\n:1\r\n")).isInstanceOf(IOException.class);
  }
}
