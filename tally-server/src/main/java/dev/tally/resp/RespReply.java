package dev.tally.resp;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Writes Redis replies, in RESP2 or RESP3 (chosen per connection with {@code HELLO}). The two
 * differ here only in how a null and a map are written: RESP2 has a null bulk string ({@code $-1})
 * and flattens a map into an array of keys and values, RESP3 has {@code _} and {@code %}.
 *
 * <p>Not thread-safe: one per connection's reply stream.
 */
public final class RespReply {

  private static final byte[] CRLF = {'\r', '\n'};

  private final ByteArrayOutputStream out = new ByteArrayOutputStream(256);
  private int protocol = 2;

  /** Switches to RESP {@code version} (2 or 3) for the replies that follow. */
  public void protocol(int version) {
    if (version != 2 && version != 3) {
      throw new IllegalArgumentException("RESP version must be 2 or 3, got " + version);
    }
    this.protocol = version;
  }

  public int protocol() {
    return protocol;
  }

  /** {@code +OK}: a status; must not contain CR or LF. */
  public RespReply simple(String s) {
    return line('+', s);
  }

  /** {@code -ERR …}: an error; the text starts with its code ({@code ERR}, {@code WRONGTYPE}…). */
  public RespReply error(String s) {
    return line('-', s.replace('\r', ' ').replace('\n', ' '));
  }

  /** {@code :42}. */
  public RespReply integer(long n) {
    out.writeBytes(integerReply(n));
    return this;
  }

  /**
   * {@code :42\r\n} as a whole reply, the same in RESP2 and RESP3: a counter write's answer, made
   * without a buffer.
   */
  static byte[] integerReply(long n) {
    return (":" + n + "\r\n").getBytes(StandardCharsets.US_ASCII);
  }

  /** {@code $5\r\nhello}. */
  public RespReply bulk(byte[] b) {
    line('$', Integer.toString(b.length));
    out.writeBytes(b);
    out.writeBytes(CRLF);
    return this;
  }

  public RespReply bulk(String s) {
    return bulk(s.getBytes(StandardCharsets.UTF_8));
  }

  /** The null reply: {@code $-1} in RESP2, {@code _} in RESP3. */
  public RespReply nil() {
    if (protocol == 3) {
      out.writeBytes(new byte[] {'_', '\r', '\n'});
      return this;
    }
    return line('$', "-1");
  }

  /** The header of an array of {@code n} replies, which the caller then writes. */
  public RespReply array(int n) {
    return line('*', Integer.toString(n));
  }

  /** An array of bulk strings. */
  public RespReply bulks(List<String> items) {
    array(items.size());
    for (String s : items) {
      bulk(s);
    }
    return this;
  }

  /**
   * A map of bulk-string keys to values written as bulk strings, or as integers where the value is
   * a {@link Number}: {@code %} in RESP3, a flat array of keys and values in RESP2.
   */
  public RespReply map(Map<String, ?> entries) {
    if (protocol == 3) {
      line('%', Integer.toString(entries.size()));
    } else {
      array(entries.size() * 2);
    }
    for (Map.Entry<String, ?> e : entries.entrySet()) {
      bulk(e.getKey());
      if (e.getValue() instanceof Number n) {
        integer(n.longValue());
      } else {
        bulk(String.valueOf(e.getValue()));
      }
    }
    return this;
  }

  /** The bytes written so far, and a fresh start. */
  public byte[] take() {
    byte[] b = out.toByteArray();
    out.reset();
    return b;
  }

  private RespReply line(char type, String s) {
    out.write(type);
    out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    out.writeBytes(CRLF);
    return this;
  }
}
