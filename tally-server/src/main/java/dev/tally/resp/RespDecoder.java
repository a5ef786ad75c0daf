package dev.tally.resp;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Cuts a connection's bytes into Redis commands: RESP arrays of bulk strings ({@code
 * *2\r\n$4\r\nINCR\r\n$8\r\nlikes:81\r\n}), as every client library sends, and inline commands
 * ({@code PING\r\n}), as a person at a terminal types. Bytes may arrive in any pieces; {@link
 * #next} returns each command once it is complete.
 *
 * <p>Bounded: a command may have at most {@code maxArgs} arguments of at most {@code maxBulkBytes}
 * bytes each, and an inline command at most {@code maxInlineBytes}; the declared sizes are checked
 * as soon as they are read, so a client announcing a huge string is refused before it sends it. A
 * frame that breaks the protocol or a bound throws {@link ProtocolError} with Redis's own message
 * text; the connection should then answer it and close, as Redis does.
 *
 * <p>Not thread-safe: one per connection, used by its event loop.
 */
public final class RespDecoder {

  /** A frame that cannot be read: answer {@link #getMessage} as an error and close. */
  public static final class ProtocolError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ProtocolError(String message) {
      super(message, null, false, false);
    }
  }

  private final int maxArgs;
  private final int maxBulkBytes;
  private final int maxInlineBytes;
  private byte[] buf = new byte[4096];
  private int start;
  private int end;

  public RespDecoder(int maxArgs, int maxBulkBytes, int maxInlineBytes) {
    if (maxArgs < 1 || maxBulkBytes < 1 || maxInlineBytes < 1) {
      throw new IllegalArgumentException("bounds must be positive");
    }
    this.maxArgs = maxArgs;
    this.maxBulkBytes = maxBulkBytes;
    this.maxInlineBytes = maxInlineBytes;
  }

  /**
   * Appends the readable bytes of a buffer read from the connection (the transport's own, copied
   * once, straight into this decoder's), and marks them read.
   */
  public void feed(ByteBuf data) {
    int length = data.readableBytes();
    if (end + length > buf.length) {
      int live = end - start;
      if (live + length <= buf.length / 2) {
        System.arraycopy(buf, start, buf, 0, live); // room enough once the consumed part goes
      } else {
        byte[] bigger = new byte[Math.max(buf.length * 2, live + length)];
        System.arraycopy(buf, start, bigger, 0, live);
        buf = bigger;
      }
      start = 0;
      end = live;
    }
    data.readBytes(buf, end, length);
    end += length;
  }

  /** The size of the internal buffer, for tests of its bound. */
  int capacity() {
    return buf.length;
  }

  /** Bytes received and not yet returned as part of a command. */
  public int buffered() {
    return end - start;
  }

  /**
   * The next complete command, its arguments as raw bytes (the command name first), or null when
   * more bytes are needed. Empty arrays and blank inline lines are skipped, as Redis does.
   *
   * @throws ProtocolError when the bytes cannot be a command within the bounds
   */
  public List<byte[]> next() {
    while (start < end) {
      List<byte[]> command =
          buf[start] == '*'
              ? array()
              : buf[start] == '\r' || buf[start] == '\n' ? skip() : inline();
      if (command == null) {
        return null;
      }
      if (!command.isEmpty()) {
        return command;
      }
    }
    return null;
  }

  /** A blank line between commands. */
  private List<byte[]> skip() {
    start++;
    return List.of();
  }

  private List<byte[]> array() {
    int pos = start + 1;
    int lineEnd = lineEnd(pos, 32);
    if (lineEnd < 0) {
      return null;
    }
    long count = number(pos, lineEnd, "invalid multibulk length");
    if (count > maxArgs) {
      throw new ProtocolError("ERR Protocol error: invalid multibulk length");
    }
    pos = lineEnd + 2;
    if (count <= 0) {
      start = pos; // *0 and *-1: nothing to run
      return List.of();
    }
    List<byte[]> args = new ArrayList<>((int) count);
    for (int i = 0; i < count; i++) {
      if (pos >= end) {
        return null;
      }
      if (buf[pos] != '$') {
        throw new ProtocolError(
            "ERR Protocol error: expected '$', got '" + (char) (buf[pos] & 0xff) + "'");
      }
      int headerEnd = lineEnd(pos + 1, 32);
      if (headerEnd < 0) {
        return null;
      }
      long length = number(pos + 1, headerEnd, "invalid bulk length");
      if (length < 0 || length > maxBulkBytes) {
        throw new ProtocolError("ERR Protocol error: invalid bulk length");
      }
      int dataStart = headerEnd + 2;
      if (dataStart + length + 2 > end) {
        return null;
      }
      int dataEnd = dataStart + (int) length;
      if (buf[dataEnd] != '\r' || buf[dataEnd + 1] != '\n') {
        throw new ProtocolError("ERR Protocol error: invalid bulk length");
      }
      args.add(Arrays.copyOfRange(buf, dataStart, dataEnd));
      pos = dataEnd + 2;
    }
    start = pos;
    return args;
  }

  private List<byte[]> inline() {
    int newline = -1;
    for (int i = start; i < end; i++) {
      if (buf[i] == '\n') {
        newline = i;
        break;
      }
    }
    if (newline < 0) {
      if (end - start > maxInlineBytes) {
        throw new ProtocolError("ERR Protocol error: too big inline request");
      }
      return null;
    }
    if (newline - start > maxInlineBytes) {
      throw new ProtocolError("ERR Protocol error: too big inline request");
    }
    int lineEnd = newline > start && buf[newline - 1] == '\r' ? newline - 1 : newline;
    String line = new String(buf, start, lineEnd - start, StandardCharsets.ISO_8859_1);
    start = newline + 1;
    List<byte[]> args = new ArrayList<>();
    for (String word : line.trim().split("[ \t]+")) {
      if (word.isEmpty()) {
        continue;
      }
      if (word.indexOf('"') >= 0 || word.indexOf('\'') >= 0) {
        throw new ProtocolError("ERR Protocol error: unbalanced quotes in request");
      }
      if (args.size() == maxArgs) {
        throw new ProtocolError("ERR Protocol error: invalid multibulk length");
      }
      args.add(word.getBytes(StandardCharsets.ISO_8859_1));
    }
    return args;
  }

  /**
   * Index of the {@code \r} of the CRLF ending the line at {@code from}, or -1 when not here yet.
   */
  private int lineEnd(int from, int maxLength) {
    int limit = Math.min(end - 1, from + maxLength);
    for (int i = from; i < limit; i++) {
      if (buf[i] == '\r' && buf[i + 1] == '\n') {
        return i;
      }
    }
    if (end - from > maxLength) {
      throw new ProtocolError("ERR Protocol error: too big count or length line");
    }
    return -1;
  }

  private long number(int from, int to, String what) {
    if (from == to || to - from > 19) {
      throw new ProtocolError("ERR Protocol error: " + what);
    }
    boolean negative = buf[from] == '-';
    long n = 0;
    for (int i = negative ? from + 1 : from; i < to; i++) {
      int d = buf[i] - '0';
      if (d < 0 || d > 9) {
        throw new ProtocolError("ERR Protocol error: " + what);
      }
      n = n * 10 + d;
    }
    if (negative && to == from + 1) {
      throw new ProtocolError("ERR Protocol error: " + what);
    }
    return negative ? -n : n;
  }
}
