package dev.tally.resp;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;

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
  private final Context context;
  private final RespCommands commands;
  private final RespCommands.Session session;
  private final RespDecoder decoder;
  private final int maxPipeline;
  private final ArrayDeque<CompletableFuture<byte[]>> replies = new ArrayDeque<>();
  private boolean paused;
  private boolean closing;

  RespConnection(NetSocket socket, RespCommands commands, RespDecoder decoder, int maxPipeline) {
    this.socket = socket;
    this.context = Vertx.currentContext();
    this.commands = commands;
    this.session = commands.open(socket.remoteAddress().hostAddress());
    this.decoder = decoder;
    this.maxPipeline = maxPipeline;
  }

  void start() {
    socket.handler(this::received);
    socket.drainHandler(v -> readMoreIfRoom());
  }

  private void received(Buffer data) {
    if (closing) {
      return;
    }
    byte[] bytes = data.getBytes();
    decoder.feed(bytes, 0, bytes.length);
    parse();
  }

  /** Runs every complete command buffered, while the pipeline has room. */
  private void parse() {
    while (!closing && replies.size() < maxPipeline) {
      List<byte[]> command;
      try {
        command = decoder.next();
      } catch (RespDecoder.ProtocolError e) {
        RespReply error = new RespReply();
        replies.add(CompletableFuture.completedFuture(error.error(e.getMessage()).take()));
        closing = true;
        break;
      }
      if (command == null) {
        break;
      }
      CompletableFuture<byte[]> reply = commands.run(session, command).toCompletableFuture();
      replies.add(reply);
      if (session.closing()) {
        closing = true;
      }
      if (!reply.isDone()) {
        reply.whenComplete((r, e) -> context.runOnContext(v -> flush()));
      }
    }
    flush();
  }

  /** Writes the replies that are ready, in order; then reads on, pauses or closes. */
  private void flush() {
    Buffer out = null;
    while (!replies.isEmpty() && replies.peek().isDone()) {
      byte[] r = replies.poll().getNow(null);
      if (r == null) {
        r = new RespReply().error("ERR internal error").take();
      }
      if (out == null) {
        out = Buffer.buffer(r.length);
      }
      out.appendBytes(r);
    }
    if (out != null) {
      socket.write(out);
    }
    if (closing && replies.isEmpty()) {
      socket.end();
      return;
    }
    readMoreIfRoom();
  }

  private void readMoreIfRoom() {
    boolean full = replies.size() >= maxPipeline || socket.writeQueueFull();
    if (full && !paused) {
      socket.pause();
      paused = true;
    } else if (!full && paused && replies.size() <= maxPipeline / 2) {
      socket.resume();
      paused = false;
      if (decoder.buffered() > 0) {
        parse();
      }
    }
  }
}
