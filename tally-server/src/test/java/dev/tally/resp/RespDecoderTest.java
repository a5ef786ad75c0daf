package dev.tally.resp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RespDecoderTest {

  private final RespDecoder decoder = new RespDecoder(16, 64, 128);

  private void feed(String s) {
    byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
    decoder.feed(Unpooled.wrappedBuffer(b));
  }

  private List<String> next() {
    List<byte[]> c = decoder.next();
    if (c == null) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (byte[] a : c) {
      out.add(new String(a, StandardCharsets.ISO_8859_1));
    }
    return out;
  }

  @Test
  void anArrayOfBulkStrings_isOneCommand() {
    feed("*2\r\n$4\r\nINCR\r\n$8\r\nlikes:81\r\n");
    assertThat(next()).containsExactly("INCR", "likes:81");
    assertThat(next()).isNull();
    assertThat(decoder.buffered()).isZero();
  }

  @Test
  void bytesArrivingOneByOne_makeTheSameCommands() {
    String pipeline = "*2\r\n$3\r\nGET\r\n$7\r\nviews:1\r\n*1\r\n$4\r\nPING\r\n";
    List<List<String>> got = new ArrayList<>();
    for (char ch : pipeline.toCharArray()) {
      feed(String.valueOf(ch));
      List<String> c;
      while ((c = next()) != null) {
        got.add(c);
      }
    }
    assertThat(got).containsExactly(List.of("GET", "views:1"), List.of("PING"));
  }

  @Test
  void aPipelineInOneRead_givesEveryCommandInOrder() {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      sb.append("*2\r\n$4\r\nINCR\r\n$")
          .append(("likes:" + i).length())
          .append("\r\nlikes:")
          .append(i)
          .append("\r\n");
    }
    feed(sb.toString());
    for (int i = 0; i < 100; i++) {
      assertThat(next()).containsExactly("INCR", "likes:" + i);
    }
    assertThat(next()).isNull();
  }

  @Test
  void bulkStringsAreBinary_crlfInsideIsData() {
    feed("*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n");
    assertThat(next()).containsExactly("ECHO", "a\r\nb");
  }

  @Test
  void inlineCommands_blankLinesAndEmptyArraysAreSkipped() {
    feed("\r\nPING\r\n  INCR   likes:5 \n*0\r\n*-1\r\nGET likes:5\r\n");
    assertThat(next()).containsExactly("PING");
    assertThat(next()).containsExactly("INCR", "likes:5");
    assertThat(next()).containsExactly("GET", "likes:5");
    assertThat(next()).isNull();
  }

  @Test
  void aHugeDeclaredBulk_isRefusedBeforeItsBytesArrive() {
    feed("*2\r\n$4\r\nINCR\r\n$100000\r\n");
    assertThatThrownBy(this::next)
        .isInstanceOf(RespDecoder.ProtocolError.class)
        .hasMessage("ERR Protocol error: invalid bulk length");
  }

  @Test
  void tooManyArguments_isRefused() {
    feed("*17\r\n");
    assertThatThrownBy(this::next).hasMessage("ERR Protocol error: invalid multibulk length");
  }

  @Test
  void malformedFrames_getRedisErrorTexts() {
    for (String[] c :
        new String[][] {
          {"*x\r\n", "ERR Protocol error: invalid multibulk length"},
          {"*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'"},
          {"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"},
          {"*1\r\n$4\r\nPINGxx", "ERR Protocol error: invalid bulk length"},
          {"*1\r\n$\r\n", "ERR Protocol error: invalid bulk length"},
          {"SET \"a b\" 1\r\n", "ERR Protocol error: unbalanced quotes in request"},
          {"*1" + "1".repeat(40), "ERR Protocol error: too big count or length line"},
          {"x".repeat(200), "ERR Protocol error: too big inline request"},
        }) {
      RespDecoder d = new RespDecoder(16, 64, 128);
      byte[] b = c[0].getBytes(StandardCharsets.ISO_8859_1);
      d.feed(Unpooled.wrappedBuffer(b));
      assertThatThrownBy(d::next).as(c[0]).hasMessage(c[1]);
    }
  }

  @Test
  void theBufferIsReused_notGrownWithoutLimit_byAStreamOfSmallCommands() {
    for (int i = 0; i < 10_000; i++) {
      feed("*1\r\n$4\r\nPING\r\n");
      assertThat(next()).containsExactly("PING");
    }
    assertThat(decoder.buffered()).isZero();
    assertThat(decoder.capacity()).isEqualTo(4096);
  }

  @Test
  void aTransportBuffer_isCopiedInAndMarkedRead() {
    RespDecoder d = new RespDecoder(8, 64, 64);
    ByteBuf first =
        Unpooled.copiedBuffer("*2\r\n$4\r\nINCR\r\n$7\r\nli", StandardCharsets.US_ASCII);
    d.feed(first);
    assertThat(first.readableBytes()).isZero();
    assertThat(d.next()).isNull();
    d.feed(Unpooled.copiedBuffer("kes:7\r\n", StandardCharsets.US_ASCII));
    assertThat(d.next())
        .extracting(b -> new String(b, StandardCharsets.US_ASCII))
        .containsExactly("INCR", "likes:7");
    assertThat(d.buffered()).isZero();
  }
}
