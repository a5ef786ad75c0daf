package dev.tally.cluster;

import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.ToByteBufEncoder;
import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The Redis connection's codec: strings whose chars are bytes, one to one (ISO-8859-1), so that
 * binary keys, fields and script arguments travel as strings unchanged. Keys and values are written
 * straight into the command's buffer, one byte per char: Lettuce's own {@code StringCodec} takes
 * that path only for US-ASCII and UTF-8 and sends every other charset through a {@code
 * CharsetEncoder} and a scratch buffer per argument, which was a fifth of the Redis I/O thread's
 * time under cluster writes (two arguments per pushed counter). A char above 255 cannot occur in a
 * string made from bytes; were one passed, it would be written as {@code '?'}. Stateless and
 * thread-safe. A null key or value is written as the empty string, as {@code StringCodec} does.
 */
final class Latin1Codec implements RedisCodec<String, String>, ToByteBufEncoder<String, String> {

  static final Latin1Codec INSTANCE = new Latin1Codec();

  private Latin1Codec() {}

  @Override
  public String decodeKey(ByteBuffer bytes) {
    return decode(bytes);
  }

  @Override
  public String decodeValue(ByteBuffer bytes) {
    return decode(bytes);
  }

  @Override
  public ByteBuffer encodeKey(String key) {
    return encode(key);
  }

  @Override
  public ByteBuffer encodeValue(String value) {
    return encode(value);
  }

  @Override
  public void encodeKey(String key, ByteBuf target) {
    write(key, target);
  }

  @Override
  public void encodeValue(String value, ByteBuf target) {
    write(value, target);
  }

  @Override
  public int estimateSize(Object keyOrValue) {
    return keyOrValue instanceof String s ? s.length() : 0;
  }

  @Override
  public boolean isEstimateExact() {
    return true;
  }

  private static void write(String s, ByteBuf target) {
    if (s != null) {
      // Netty writes ISO-8859-1 a char to a byte, without an encoder
      target.writeCharSequence(s, StandardCharsets.ISO_8859_1);
    }
  }

  private static ByteBuffer encode(String s) {
    return ByteBuffer.wrap(s == null ? new byte[0] : s.getBytes(StandardCharsets.ISO_8859_1));
  }

  private static String decode(ByteBuffer bytes) {
    if (bytes == null) {
      return null;
    }
    byte[] b = new byte[bytes.remaining()];
    bytes.get(bytes.position(), b); // leaves the buffer's position where Lettuce left it
    return new String(b, StandardCharsets.ISO_8859_1);
  }
}
