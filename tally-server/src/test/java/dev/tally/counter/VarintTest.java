package dev.tally.counter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VarintTest {

  /** Values at the edges of every length, with their lengths. */
  private static final long[][] EDGES = {
    {0, 1},
    {1, 1},
    {127, 1},
    {128, 2},
    {(1L << 14) - 1, 2},
    {1L << 14, 3},
    {(1L << 21) - 1, 3},
    {1L << 21, 4},
    {(1L << 28) - 1, 4},
    {1L << 28, 5},
    {(1L << 56) - 1, 8},
    {1L << 56, 9},
    {Long.MAX_VALUE, 9},
    {Long.MIN_VALUE, 10},
    {-1, 10},
  };

  private static byte[] bytes(long v) {
    byte[] buf = new byte[Varint.MAX_LENGTH];
    return Arrays.copyOf(buf, Varint.put(buf, 0, v));
  }

  private static String chars(long v) {
    StringBuilder sb = new StringBuilder();
    Varint.put(sb, v);
    return sb.toString();
  }

  @Test
  void put_knownEncodings_matchLeb128() {
    assertThat(bytes(0)).containsExactly(0x00);
    assertThat(bytes(127)).containsExactly(0x7F);
    assertThat(bytes(128)).containsExactly(0x80, 0x01);
    assertThat(bytes(300)).containsExactly(0xAC, 0x02);
    assertThat(bytes((1L << 21) - 1)).containsExactly(0xFF, 0xFF, 0x7F);
    assertThat(bytes(1L << 21)).containsExactly(0x80, 0x80, 0x80, 0x01);
    assertThat(bytes(Long.MAX_VALUE))
        .containsExactly(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F);
    assertThat(bytes(-1))
        .containsExactly(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
  }

  @Test
  void bytes_edgesOfEveryLength_roundTrip() {
    for (long[] edge : EDGES) {
      byte[] b = bytes(edge[0]);
      assertThat(b).as("length of %d", edge[0]).hasSize((int) edge[1]);
      int[] pos = {0};
      assertThat(Varint.get(b, pos)).isEqualTo(edge[0]);
      assertThat(pos[0]).isEqualTo(b.length);
    }
  }

  @Test
  void chars_edgesOfEveryLength_roundTrip() {
    for (long[] edge : EDGES) {
      String s = chars(edge[0]);
      assertThat(s).as("length of %d", edge[0]).hasSize((int) edge[1]);
      int[] pos = {0};
      assertThat(Varint.get(s, pos)).isEqualTo(edge[0]);
      assertThat(pos[0]).isEqualTo(s.length());
    }
  }

  @Test
  void chars_areTheBytes_oneCharPerByte() {
    SplittableRandom random = new SplittableRandom(20_260_101);
    for (int i = 0; i < 10_000; i++) {
      long v = i < EDGES.length ? EDGES[i][0] : random.nextLong() >>> random.nextInt(64);
      byte[] b = bytes(v);
      String s = chars(v);
      assertThat(s).isEqualTo(new String(b, StandardCharsets.ISO_8859_1));
      int[] pos = {0};
      assertThat(Varint.get(s, pos)).isEqualTo(v);
      pos[0] = 0;
      assertThat(Varint.get(b, pos)).isEqualTo(v);
    }
  }

  @Test
  void get_readsOneVarintAfterAnother_fromAnyPosition() {
    long[] values = {5, 1L << 21, -1, 0, Long.MAX_VALUE, 128};
    byte[] buf = new byte[1 + values.length * Varint.MAX_LENGTH];
    StringBuilder sb = new StringBuilder("x");
    int end = 1;
    for (long v : values) {
      end = Varint.put(buf, end, v);
      Varint.put(sb, v);
    }
    int[] bytePos = {1};
    int[] charPos = {1};
    for (long v : values) {
      assertThat(Varint.get(buf, bytePos)).isEqualTo(v);
      assertThat(Varint.get(sb, charPos)).isEqualTo(v);
      assertThat(charPos[0]).isEqualTo(bytePos[0]);
    }
    assertThat(bytePos[0]).isEqualTo(end);
  }

  @Test
  void get_truncatedOrOverlongInput_isRejected() {
    assertThatThrownBy(() -> Varint.get(new byte[] {(byte) 0x80}, new int[] {0}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("truncated");
    assertThatThrownBy(() -> Varint.get(new byte[0], new int[] {0}))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> Varint.get("\u0080\u0080", new int[] {0}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("truncated");
    assertThatThrownBy(() -> Varint.get("", new int[] {0}))
        .isInstanceOf(IllegalStateException.class);
    byte[] eleven = new byte[11];
    Arrays.fill(eleven, (byte) 0x80);
    assertThatThrownBy(() -> Varint.get(eleven, new int[] {0}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("longer than 10");
    assertThatThrownBy(
            () -> Varint.get(new String(eleven, StandardCharsets.ISO_8859_1), new int[] {0}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("longer than 10");
  }
}
