package dev.tally.testing;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/** Redis-protocol frames written and read by hand, for tests that drive a raw socket. */
public final class RawResp {

  private RawResp() {}

  /** A command as a RESP array of bulk strings. */
  public static String command(String... args) {
    StringBuilder sb = new StringBuilder("*").append(args.length).append("\r\n");
    for (String a : args) {
      sb.append('$').append(a.length()).append("\r\n").append(a).append("\r\n");
    }
    return sb.toString();
  }

  /** One reply line without its CRLF; fails when the connection closes first. */
  public static String readLine(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) != '\n') {
      if (c < 0) {
        throw new EOFException("connection closed after '" + sb + "'");
      }
      if (c != '\r') {
        sb.append((char) c);
      }
    }
    return sb.toString();
  }
}
