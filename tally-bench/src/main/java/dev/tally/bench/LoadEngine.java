package dev.tally.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.HdrHistogram.Histogram;

/**
 * Drives HTTP/1.1 keep-alive connections with one request in flight each, from a few I/O threads
 * (one selector each), like wrk: little client CPU per request, so the server is what is measured.
 *
 * <p>Closed loop ({@code ratePerSecond == 0}): each connection sends its next request as soon as
 * the previous answer is in. Fixed rate: each connection has a schedule of intended send times;
 * latency is measured from the intended time, not the actual send, so a stalled server shows up in
 * the percentiles instead of silently lowering the request rate (coordinated omission).
 *
 * <p>Concurrency: each connection belongs to one I/O thread; per-thread histograms and counters are
 * merged after the run. The {@link History} is thread-safe.
 */
public final class LoadEngine {

  /**
   * Settings of one run. With {@code warmupEndsWhen} set (else null), the warm-up ends as soon as
   * that file exists (checked every {@link #WARMUP_POLL_MILLIS} ms), or after {@code warmupNanos}
   * at the latest: a caller that watches the server (its JIT, its caches) starts the measured
   * window when the server is ready, on the same connections.
   */
  public record Settings(
      List<InetSocketAddress> targets,
      int connections,
      int threads,
      long warmupNanos,
      long durationNanos,
      double ratePerSecond,
      long seed,
      Path warmupEndsWhen) {}

  /** How often the warm-up's end file is looked for. */
  static final long WARMUP_POLL_MILLIS = 10;

  /** Merged results of a run's measured window. */
  public static final class Result {
    public final Histogram write = histogram();
    public final Histogram read = histogram();
    public final Histogram batch = histogram();
    public long requests;
    public long items;
    public long errors;
    public long status2xx;
    public long status4xx;
    public long status5xx;
    public long measuredNanos;

    /**
     * The measured window in {@link #TICK_NANOS} ticks, by intended send time: answers counted and
     * the worst latency (µs) of each tick, so a stall shows when it happened, not only that it did.
     */
    public final long[] tickCount;

    public final long[] tickMaxMicros;

    /** The wall-clock time (ms since the epoch) at which the measured window starts. */
    public long windowStartEpochMillis;

    Result(long durationNanos) {
      int ticks = (int) Math.max(1, (durationNanos + TICK_NANOS - 1) / TICK_NANOS);
      tickCount = new long[ticks];
      tickMaxMicros = new long[ticks];
    }

    static Histogram histogram() {
      return new Histogram(3_600_000_000L, 3); // µs, up to an hour
    }

    void add(Result o) {
      write.add(o.write);
      read.add(o.read);
      batch.add(o.batch);
      requests += o.requests;
      items += o.items;
      errors += o.errors;
      status2xx += o.status2xx;
      status4xx += o.status4xx;
      status5xx += o.status5xx;
      for (int i = 0; i < tickCount.length; i++) {
        tickCount[i] += o.tickCount[i];
        tickMaxMicros[i] = Math.max(tickMaxMicros[i], o.tickMaxMicros[i]);
      }
    }
  }

  /** The width of one timeline tick: 100 ms. */
  public static final long TICK_NANOS = 100_000_000L;

  private final Settings settings;
  private final Workload workload;
  private final History history;
  // the measured window, [measureFrom, end) by intended send time; moved earlier at most once, when
  // the warm-up's end file appears (end is written first, so a thread that sees the new start sees
  // the new end)
  private volatile long measureFrom;
  private volatile long end;

  public LoadEngine(Settings settings, Workload workload, History history) {
    this.settings = settings;
    this.workload = workload;
    this.history = history;
  }

  public Result run() throws InterruptedException {
    long epochMillisAtStart = System.currentTimeMillis();
    long start = System.nanoTime();
    end = start + settings.warmupNanos() + settings.durationNanos();
    measureFrom = start + settings.warmupNanos();
    Thread watcher = settings.warmupEndsWhen() == null ? null : watchWarmupEnd(start);
    List<Worker> workers = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < settings.threads(); t++) {
      Worker w = new Worker(t, start);
      workers.add(w);
      threads.add(Thread.ofPlatform().name("load-" + t).start(w));
    }
    for (Thread t : threads) {
      t.join();
    }
    if (watcher != null) {
      watcher.interrupt();
      watcher.join();
    }
    Result total = new Result(settings.durationNanos());
    for (Worker w : workers) {
      total.add(w.result);
    }
    total.measuredNanos = settings.durationNanos();
    total.windowStartEpochMillis = epochMillisAtStart + (measureFrom - start) / 1_000_000;
    return total;
  }

  /** Ends the warm-up when the settings' file appears, unless the warm-up is over by then. */
  private Thread watchWarmupEnd(long start) {
    Path file = settings.warmupEndsWhen();
    return Thread.ofPlatform()
        .name("load-warmup-end")
        .daemon()
        .start(
            () -> {
              try {
                while (System.nanoTime() < measureFrom) {
                  if (Files.exists(file)) {
                    long now = System.nanoTime();
                    if (now < measureFrom) {
                      end = now + settings.durationNanos();
                      measureFrom = now;
                      System.err.printf(
                          "window: starts after %.1f s of warm-up (%s)%n",
                          (now - start) / 1e9, file);
                    }
                    return;
                  }
                  Thread.sleep(WARMUP_POLL_MILLIS);
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
  }

  private final class Conn {
    final int id;
    final InetSocketAddress target;
    SocketChannel ch;
    SelectionKey key;
    ByteBuffer out;
    final ByteBuffer in = ByteBuffer.allocate(1 << 20);
    Workload.Request req;
    long intended;
    long nextDue;
    long interval;
    long seq;
    boolean busy;
    long reconnectAt;

    Conn(int id, InetSocketAddress target) {
      this.id = id;
      this.target = target;
    }
  }

  private final class Worker implements Runnable {
    final int index;
    final long start;
    final Result result = new Result(settings.durationNanos());
    final SplittableRandom random;
    final List<Conn> conns = new ArrayList<>();

    Worker(int index, long start) {
      this.index = index;
      this.start = start;
      this.random = new SplittableRandom(settings.seed() * 31 + index);
    }

    @Override
    public void run() {
      try (Selector selector = Selector.open()) {
        int total = settings.connections();
        for (int c = index; c < total; c += settings.threads()) {
          Conn conn = new Conn(c, settings.targets().get(c % settings.targets().size()));
          if (settings.ratePerSecond() > 0) {
            conn.interval = (long) (1e9 * total / settings.ratePerSecond());
            conn.nextDue = start + conn.interval * c / total;
          } else {
            conn.nextDue = start;
          }
          connect(selector, conn);
          conns.add(conn);
        }
        loop(selector);
      } catch (IOException e) {
        throw new IllegalStateException("load thread failed: " + e, e);
      }
    }

    private void connect(Selector selector, Conn c) {
      try {
        c.ch = SocketChannel.open();
        c.ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        c.ch.connect(c.target);
        c.ch.configureBlocking(false);
        c.key = c.ch.register(selector, SelectionKey.OP_READ, c);
        c.in.clear();
        c.busy = false;
      } catch (IOException e) {
        c.ch = null;
        c.reconnectAt = System.nanoTime() + 100_000_000L;
      }
    }

    private void loop(Selector selector) throws IOException {
      while (true) {
        long now = System.nanoTime();
        long end = LoadEngine.this.end;
        long drainUntil = end + 5_000_000_000L;
        boolean sending = now < end;
        int busy = 0;
        long wake = Long.MAX_VALUE;
        for (Conn c : conns) {
          if (c.ch == null) {
            if (sending && now >= c.reconnectAt) {
              connect(selector, c);
            } else {
              wake = Math.min(wake, c.reconnectAt);
            }
            continue;
          }
          if (!c.busy && sending) {
            if (c.nextDue <= now) {
              send(c, now);
            } else {
              wake = Math.min(wake, c.nextDue);
            }
          }
          if (c.busy) {
            busy++;
          }
        }
        if (!sending && (busy == 0 || now > drainUntil)) {
          for (Conn c : conns) {
            if (c.ch != null) {
              c.ch.close();
            }
          }
          return;
        }
        long waitNanos = wake == Long.MAX_VALUE ? 10_000_000L : wake - System.nanoTime();
        if (waitNanos > 1_000_000L) {
          selector.select(Math.min(10, waitNanos / 1_000_000L));
        } else {
          selector.selectNow();
        }
        var it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
          SelectionKey k = it.next();
          it.remove();
          Conn c = (Conn) k.attachment();
          if (!k.isValid()) {
            continue;
          }
          try {
            if (k.isWritable()) {
              flush(c);
            }
            if (k.isReadable()) {
              read(c);
            }
          } catch (IOException e) {
            fail(c);
          }
        }
      }
    }

    private void send(Conn c, long now) {
      c.req = workload.next(random, c.id, c.seq++);
      c.intended = settings.ratePerSecond() > 0 ? c.nextDue : now;
      c.out = ByteBuffer.wrap(c.req.bytes());
      c.busy = true;
      for (History.Op op : c.req.ops()) {
        history.sent(op);
      }
      try {
        flush(c);
      } catch (IOException e) {
        fail(c);
      }
    }

    private void flush(Conn c) throws IOException {
      c.ch.write(c.out);
      c.key.interestOps(
          c.out.hasRemaining()
              ? SelectionKey.OP_READ | SelectionKey.OP_WRITE
              : SelectionKey.OP_READ);
    }

    private void read(Conn c) throws IOException {
      int n = c.ch.read(c.in);
      if (n < 0) {
        throw new IOException("connection closed by the server");
      }
      if (workload.protocol() == Workload.Protocol.RESP) {
        int status = respReply(c.in.array(), c.in.position());
        if (status > 0) {
          complete(c, status, "", System.nanoTime());
          c.in.clear();
        }
        return;
      }
      int headerEnd = headerEnd(c.in);
      if (headerEnd < 0) {
        return;
      }
      byte[] buf = c.in.array();
      int status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
      int length = contentLength(buf, headerEnd);
      int total = headerEnd + 4 + length;
      if (c.in.position() < total) {
        return;
      }
      long done = System.nanoTime();
      complete(c, status, new String(buf, headerEnd + 4, length, StandardCharsets.US_ASCII), done);
      // one request in flight: anything after this answer would be a protocol error
      c.in.clear();
    }

    private void complete(Conn c, int status, String body, long done) {
      long measureFrom = LoadEngine.this.measureFrom;
      boolean measured = c.intended >= measureFrom && c.intended < end;
      Workload.Request r = c.req;
      if (measured) {
        long micros = Math.max(1, (done - c.intended) / 1_000);
        switch (r.kind()) {
          case WRITE -> result.write.recordValue(micros);
          case READ -> result.read.recordValue(micros);
          default -> result.batch.recordValue(micros);
        }
        int tick = (int) ((c.intended - measureFrom) / TICK_NANOS);
        result.tickCount[tick]++;
        result.tickMaxMicros[tick] = Math.max(result.tickMaxMicros[tick], micros);
        result.requests++;
        result.items += workload.itemsPerRequest(r.kind());
        if (status < 300) {
          result.status2xx++;
        } else if (status < 500) {
          result.status4xx++;
        } else {
          result.status5xx++;
        }
      }
      if (r.ops().length > 0) {
        acknowledge(r, status, body);
      }
      c.busy = false;
      c.nextDue = settings.ratePerSecond() > 0 ? c.nextDue + c.interval : done;
    }

    private void acknowledge(Workload.Request r, int status, String body) {
      if (status != 200) {
        return;
      }
      if (r.kind() != Workload.Kind.BATCH) {
        history.acknowledged(r.ops()[0]);
        return;
      }
      // batch: one {"status":N,...} per item, in order
      int from = 0;
      for (History.Op op : r.ops()) {
        int at = body.indexOf("\"status\":", from);
        if (at < 0) {
          return;
        }
        int s = Integer.parseInt(body.substring(at + 9, at + 12));
        if (s == 200) {
          history.acknowledged(op);
        }
        from = at + 12;
      }
    }

    private void fail(Conn c) {
      if (c.intended >= measureFrom && c.intended < end) {
        result.errors++;
      }
      try {
        c.ch.close();
      } catch (IOException ignored) {
        // closing a broken connection: nothing to do
      }
      c.ch = null;
      c.busy = false;
      c.reconnectAt = System.nanoTime() + 100_000_000L;
      c.nextDue = Math.max(c.nextDue, c.reconnectAt);
    }
  }

  /**
   * Whether {@code b[0, len)} holds one whole RESP reply: 0 while incomplete, else 200 for a value
   * (integer, simple string, bulk string or nil) and 500 for an error reply ({@code -ERR ...}).
   *
   * @throws IOException on a reply type the load's commands never get
   */
  static int respReply(byte[] b, int len) throws IOException {
    int eol = -1;
    for (int i = 1; i < len; i++) {
      if (b[i] == '\n' && b[i - 1] == '\r') {
        eol = i - 1;
        break;
      }
    }
    if (eol < 0) {
      return 0;
    }
    return switch (b[0]) {
      case ':', '+' -> 200;
      case '-' -> 500;
      case '$' -> {
        int size = Integer.parseInt(new String(b, 1, eol - 1, StandardCharsets.US_ASCII));
        yield size < 0 || len >= eol + 2 + size + 2 ? 200 : 0;
      }
      default -> throw new IOException("unexpected RESP reply type '" + (char) b[0] + "'");
    };
  }

  static int headerEnd(ByteBuffer in) {
    byte[] b = in.array();
    for (int i = 3; i < in.position(); i++) {
      if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') {
        return i - 3;
      }
    }
    return -1;
  }

  static int contentLength(byte[] b, int headerEnd) {
    String head = new String(b, 0, headerEnd, StandardCharsets.US_ASCII);
    int i = 0;
    while (true) {
      int eol = head.indexOf("\r\n", i);
      String line = eol < 0 ? head.substring(i) : head.substring(i, eol);
      if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
        return Integer.parseInt(line.substring(15).trim());
      }
      if (eol < 0) {
        return 0;
      }
      i = eol + 2;
    }
  }
}
