package dev.tally.bench;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Builds the requests of a load run: single increments, single reads, the seed's read:write mix, or
 * batch writes, over posts picked by a {@link KeyChooser}. Stateless apart from its settings; each
 * I/O thread passes its own random source and sequence numbers.
 */
public final class Workload {

  /** What a run sends. */
  public enum Kind {
    WRITE,
    READ,
    MIX,
    BATCH
  }

  /**
   * The wire protocol: tally's HTTP API, or Redis's RESP (INCR and GET of one key per post) for the
   * reference measured by the same client, with the same schedule and latency accounting.
   */
  public enum Protocol {
    HTTP,
    RESP
  }

  /** One request on the wire, with the increments it carries (for the history). */
  public record Request(byte[] bytes, Kind kind, History.Op[] ops) {}

  private final Kind kind;
  private final KeyChooser keys;
  private final String counter;
  private final int readsPerWrite;
  private final int batchSize;
  private final boolean idempotent;
  private final String runId;
  private final String host;
  private final Protocol protocol;

  public Workload(
      Kind kind,
      KeyChooser keys,
      String counter,
      int readsPerWrite,
      int batchSize,
      boolean idempotent,
      String runId,
      String host,
      Protocol protocol) {
    if (protocol == Protocol.RESP && (kind == Kind.BATCH || idempotent)) {
      throw new IllegalArgumentException(
          "--protocol resp sends INCR and GET only: no batches, idempotency keys or --check");
    }
    this.kind = kind;
    this.keys = keys;
    this.counter = counter;
    this.readsPerWrite = readsPerWrite;
    this.batchSize = batchSize;
    this.idempotent = idempotent;
    this.runId = runId;
    this.host = host;
    this.protocol = protocol;
  }

  public Protocol protocol() {
    return protocol;
  }

  /** The next request; {@code seq} makes idempotency keys unique per connection. */
  public Request next(SplittableRandom random, int connection, long seq) {
    return switch (kind) {
      case WRITE -> write(random, connection, seq);
      case READ -> read(random);
      case MIX ->
          random.nextInt(readsPerWrite + 1) == 0 ? write(random, connection, seq) : read(random);
      case BATCH -> batch(random, connection, seq);
    };
  }

  private String key(int connection, long seq, int item) {
    return runId + "-" + connection + "-" + seq + (item >= 0 ? "-" + item : "");
  }

  private Request write(SplittableRandom random, int connection, long seq) {
    long post = keys.next(random);
    if (protocol == Protocol.RESP) {
      return new Request(resp("INCR", post), Kind.WRITE, new History.Op[0]);
    }
    String body = "{\"action\":\"increment\"}";
    StringBuilder sb = new StringBuilder(192);
    sb.append("PUT /v1/").append(post).append('/').append(counter).append(" HTTP/1.1\r\n");
    sb.append("Host: ").append(host).append("\r\nContent-Type: application/json\r\n");
    History.Op op = null;
    if (idempotent) {
      op = new History.Op(post, counter, key(connection, seq, -1));
      sb.append("Idempotency-Key: ").append(op.key()).append("\r\n");
    }
    sb.append("Content-Length: ").append(body.length()).append("\r\n\r\n").append(body);
    return new Request(
        sb.toString().getBytes(StandardCharsets.US_ASCII),
        Kind.WRITE,
        op == null ? new History.Op[0] : new History.Op[] {op});
  }

  private Request read(SplittableRandom random) {
    long post = keys.next(random);
    if (protocol == Protocol.RESP) {
      return new Request(resp("GET", post), Kind.READ, new History.Op[0]);
    }
    String req = "GET /v1/" + post + "/" + counter + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
    return new Request(req.getBytes(StandardCharsets.US_ASCII), Kind.READ, new History.Op[0]);
  }

  private Request batch(SplittableRandom random, int connection, long seq) {
    StringBuilder body = new StringBuilder(batchSize * 80).append("{\"writes\":[");
    History.Op[] ops = new History.Op[idempotent ? batchSize : 0];
    for (int i = 0; i < batchSize; i++) {
      long post = keys.next(random);
      if (i > 0) {
        body.append(',');
      }
      body.append("{\"post_id\":").append(post).append(",\"counter\":\"").append(counter);
      body.append("\",\"action\":\"increment\"");
      if (idempotent) {
        ops[i] = new History.Op(post, counter, key(connection, seq, i));
        body.append(",\"idempotency_key\":\"").append(ops[i].key()).append('"');
      }
      body.append('}');
    }
    body.append("]}");
    byte[] b = body.toString().getBytes(StandardCharsets.US_ASCII);
    String head =
        "POST /v1/counts HTTP/1.1\r\nHost: "
            + host
            + "\r\nContent-Type: application/json\r\nContent-Length: "
            + b.length
            + "\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    byte[] all = new byte[h.length + b.length];
    System.arraycopy(h, 0, all, 0, h.length);
    System.arraycopy(b, 0, all, h.length, b.length);
    return new Request(all, Kind.BATCH, ops);
  }

  /** {@code command counter:post} as a RESP array of bulk strings. */
  private byte[] resp(String command, long post) {
    String key = counter + ":" + post;
    return ("*2\r\n$"
            + command.length()
            + "\r\n"
            + command
            + "\r\n$"
            + key.length()
            + "\r\n"
            + key
            + "\r\n")
        .getBytes(StandardCharsets.US_ASCII);
  }

  public int itemsPerRequest(Kind k) {
    return k == Kind.BATCH ? batchSize : 1;
  }
}
