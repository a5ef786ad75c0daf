package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.codec.StringCodec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Latin1CodecTest {

  private static final Latin1Codec CODEC = Latin1Codec.INSTANCE;

  /** Every byte value, as the slots and record fields the cluster code sends are made. */
  private static String everyByte() {
    byte[] b = new byte[256];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) i;
    }
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  private static byte[] bytes(ByteBuf buf) {
    byte[] b = new byte[buf.readableBytes()];
    buf.readBytes(b);
    return b;
  }

  @Test
  void writesEveryCharAsItsByte_intoTheCommandBuffer() {
    String s = everyByte();
    ByteBuf key = Unpooled.buffer();
    ByteBuf value = Unpooled.buffer();

    CODEC.encodeKey(s, key);
    CODEC.encodeValue(s, value);

    byte[] expected = s.getBytes(StandardCharsets.ISO_8859_1);
    assertThat(bytes(key)).containsExactly(expected);
    assertThat(bytes(value)).containsExactly(expected);
    assertThat(CODEC.estimateSize(s)).isEqualTo(expected.length);
    assertThat(CODEC.isEstimateExact()).isTrue();
  }

  @Test
  void sendsWhatLettucesOwnIso88591CodecSends() {
    StringCodec lettuce = new StringCodec(StandardCharsets.ISO_8859_1);
    String s = "t{" + everyByte() + "}";
    ByteBuf ours = Unpooled.buffer();
    ByteBuf theirs = Unpooled.buffer();

    CODEC.encodeValue(s, ours);
    lettuce.encodeValue(s, theirs);

    assertThat(bytes(ours)).containsExactly(bytes(theirs));
    assertThat(CODEC.encodeKey(s)).isEqualTo(lettuce.encodeKey(s));
  }

  @Test
  void decodesBytesBackToTheSameString_leavingTheBufferAsItWas() {
    String s = everyByte();
    ByteBuffer reply = ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));

    assertThat(CODEC.decodeValue(reply)).isEqualTo(s);
    assertThat(reply.position()).isZero();
    assertThat(CODEC.decodeKey(reply)).isEqualTo(s);
  }

  @Test
  void nullIsTheEmptyString() {
    ByteBuf buf = Unpooled.buffer();
    CODEC.encodeValue(null, buf);

    assertThat(buf.readableBytes()).isZero();
    assertThat(CODEC.encodeKey(null).remaining()).isZero();
    assertThat(CODEC.estimateSize(null)).isZero();
  }
}
