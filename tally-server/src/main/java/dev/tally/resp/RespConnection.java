package dev.tally.resp;

import dev.tally.loop.Handoff;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One RESP client connection: cuts its bytes into commands, runs them, and writes the replies in
 * the order the commands came, however their stages complete (writes wait for their group commit,
 * which answers many pipelined commands of many connections at once).
 *
 * <p>Bounded: at most {@code maxPipeline} commands wait for their replies; beyond that the
 * connection stops reading until half of them are answered, and it also stops while the socket's
 * write queue is full (a client that never reads its replies). A frame the decoder refuses is
 * answered with its error after the replies before it, and the connection is closed, as Redis does.
 *
 * <p>Confined to the connection's event loop: replies completing on other threads hop back to it.
 */
final class RespConnection {

  // the most bytes one write copies together: a reply larger than this goes out alone
  private static final int MAX_FLUSH_BYTES = 1 << 20;

  private final NetSocket socket;
  // the socket as a channel that takes Netty buffers: a flush's replies go out as one array of
  // exactly their size, wrapped rather than copied into a Buffer that grows as it is appended to.
  // Heap arrays, not pooled direct buffers: a write that Vert.x still queues when the connection
  // closes is cancelled without being released, which would leak a pooled buffer
  private final NetSocketInternal channel;
  private final Handoff loop;
  private final RespCommands commands;
  private final RespCommands.Session session;
  private final RespDecoder decoder;
  private final int maxPipeline;
  private final ArrayDeque<RespCommands.Answer> replies = new ArrayDeque<>();
  private boolean paused;
  private boolean closing;
  private boolean parsing;
  private boolean starved = true;
  private final AtomicBoolean flushScheduled = new AtomicBoolean();

  RespConnection(NetSocket socket, RespCommands commands, RespDecoder decoder, int maxPipeline) {
    this.socket = socket;
    this.channel = (NetSocketInternal) socket;
    this.loop = Handoff.toThisLoop();
    this.commands = commands;
    this.session = commands.open(socket.remoteAddress().hostAddress(), this::scheduleFlush);
    this.decoder = decoder;
    this.maxPipeline = maxPipeline;
  }

  void start() {
    // the transport's buffers as they come, rather than each copied into a Buffer first
    channel.messageHandler(this::received);
    socket.drainHandler(v -> updateReading());
  }

  private void received(Object message) {
    try {
      if (closing || !(message instanceof ByteBuf data)) {
        return;
      }
      decoder.feed(data);
    } finally {
      ReferenceCountUtil.release(message);
    }
    starved = false;
    parse();
  }

  /** Runs every complete command buffered, while the pipeline has room; then flushes. */
  private void parse() {
    if (parsing) {
      return;
    }
    parsing = true;
    try {
      while (!closing && replies.size() < maxPipeline) {
        List<byte[]> command;
        try {
          command = decoder.next();
        } catch (RespDecoder.ProtocolError e) {
          RespReply error = new RespReply();
          replies.add(RespCommands.Answer.of(error.error(e.getMessage()).take()));
          closing = true;
          break;
        }
        if (command == null) {
          starved = true; // only new bytes can make the next command
          break;
        }
        replies.add(commands.run(session, command));
        if (session.closing()) {
          closing = true;
        }
      }
    } finally {
      parsing = false;
      commands.submit(session, loop::run);
    }
    flush();
  }

  /**
   * After answers were made ready late: on this loop for a round of writes (the round's hand-off,
   * see {@link RespCommands#submit}), on a reader thread for a read. One hop to the event loop for
   * however many of this connection's answers are ready before it runs ({@link Handoff}).
   */
  private void scheduleFlush() {
    if (flushScheduled.compareAndSet(false, true)) {
      loop.run(this::flush);
    }
  }

  /** Writes the replies that are ready, in order; then reads on, pauses or closes. */
  private void flush() {
    // cleared before looking: a reply completing after the look schedules the next flush
    flushScheduled.set(false);
    while (!replies.isEmpty() && replies.peek().ready()) {
      writeReady();
    }
    if (closing) {
      if (replies.isEmpty()) {
        socket.end();
      }
      return;
    }
    updateReading();
  }

  /**
   * Writes the replies ready at the head of the queue, up to {@link #MAX_FLUSH_BYTES} (the first
   * one whatever its size), as one message; at least one must be ready.
   */
  private void writeReady() {
    int ready = 0;
    long bytes = 0;
    for (RespCommands.Answer a : replies) {
      if (!a.ready() || (ready > 0 && bytes + a.length() > MAX_FLUSH_BYTES)) {
        break;
      }
      ready++;
      bytes += a.length();
    }
    if (ready == 1) {
      channel.writeMessage(Unpooled.wrappedBuffer(replies.poll().take()));
      return;
    }
    byte[] out = new byte[(int) bytes];
    int at = 0;
    for (int i = 0; i < ready; i++) {
      byte[] r = replies.poll().take();
      System.arraycopy(r, 0, out, at, r.length);
      at += r.length;
    }
    channel.writeMessage(Unpooled.wrappedBuffer(out));
  }

  /**
   * Pauses the socket while the pipeline is full or the client does not read its replies; otherwise
   * reads on, and runs the commands already buffered that waited for room.
   */
  private void updateReading() {
    if (closing) {
      return;
    }
    boolean full = replies.size() >= maxPipeline || socket.writeQueueFull();
    if (full) {
      if (!paused) {
        paused = true; // set first: pause and resume may call back into this connection
        socket.pause();
      }
      return;
    }
    if (paused && replies.size() <= maxPipeline / 2) {
      paused = false;
      socket.resume();
    }
    if (!starved && !parsing && replies.size() < maxPipeline) {
      parse();
    }
  }
}
