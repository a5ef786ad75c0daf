package dev.tally.resp;

import dev.tally.loop.Handoff;
import io.vertx.core.buffer.Buffer;
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

  private final NetSocket socket;
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
    this.loop = Handoff.toThisLoop();
    this.commands = commands;
    this.session = commands.open(socket.remoteAddress().hostAddress(), this::scheduleFlush);
    this.decoder = decoder;
    this.maxPipeline = maxPipeline;
  }

  void start() {
    socket.handler(this::received);
    socket.drainHandler(v -> updateReading());
  }

  private void received(Buffer data) {
    if (closing) {
      return;
    }
    byte[] bytes = data.getBytes();
    decoder.feed(bytes, 0, bytes.length);
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
    Buffer out = null;
    while (!replies.isEmpty() && replies.peek().ready()) {
      byte[] r = replies.poll().take();
      if (out == null) {
        out = Buffer.buffer(r.length);
      }
      out.appendBytes(r);
    }
    if (out != null) {
      socket.write(out);
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
