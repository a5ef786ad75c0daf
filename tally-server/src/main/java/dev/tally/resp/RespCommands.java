package dev.tally.resp;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.PostIds;
import dev.tally.engine.CountReader;
import dev.tally.engine.Write;
import dev.tally.engine.WritePath;
import dev.tally.engine.WriteResult;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What tally answers to Redis commands. Counter commands ({@code INCR}, {@code DECR}, {@code
 * INCRBY}, {@code DECRBY}, {@code GET}, {@code MGET}, and the idempotent {@code TALLY.INCRBY key
 * delta idempotency-key}) go through the same write path and count reader as the HTTP API; a key
 * names a counter as {@code <counter>:<postId>} ({@code likes:812}). The connection commands real
 * clients send on connect are answered as Redis answers them; anything else is an error reply and
 * changes nothing.
 *
 * <p>Each command's reply is produced by a stage, which the connection writes out in command order.
 * Thread-safe: the state of a connection lives in its {@link Session}.
 */
public final class RespCommands {

  /** One connection's state. Used by one connection at a time. */
  public static final class Session {
    final long id;
    final String address;
    int protocol = 2;
    String name;
    boolean closeAfterReply;

    /** The credentials AUTH or HELLO presented, as an Authorization header value; or null. */
    String authorization;

    // the counter writes of the commands run since the last submit()
    final List<QueuedWrite> queued = new ArrayList<>();

    Session(long id, String address) {
      this.id = id;
      this.address = address;
    }

    /** True once the client asked to end the connection ({@code QUIT}): close after the reply. */
    public boolean closing() {
      return closeAfterReply;
    }
  }

  private static final String NOT_INTEGER = "ERR value is not an integer or out of range";

  private final CounterNames names;
  private final dev.tally.access.AccessControl access;
  private final WritePath writes;
  private final CountReader counts;
  private final String version;
  private final AtomicLong sessions = new AtomicLong();
  private final io.micrometer.core.instrument.MeterRegistry registry;
  private final Map<String, io.micrometer.core.instrument.Counter[]> counted =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param access who may read and write, and how fast: the same rules as the HTTP API, with the
   *     credentials a connection presented with {@code AUTH} (an API key or a token)
   */
  public RespCommands(
      CounterNames names,
      dev.tally.access.AccessControl access,
      WritePath writes,
      CountReader counts,
      String version,
      io.micrometer.core.instrument.MeterRegistry registry) {
    this.names = names;
    this.registry = registry;
    this.access = access;
    this.writes = writes;
    this.counts = counts;
    this.version = version;
  }

  /** A new connection's session; {@code address} is the client's, for rate limits. */
  public Session open(String address) {
    return new Session(sessions.incrementAndGet(), address);
  }

  /**
   * Runs {@code args} (the command name first); completes with the reply's bytes. A counter write
   * waits in the session until {@link #submit}, so that the writes of one read from the socket go
   * to the write path together.
   */
  public CompletionStage<byte[]> run(Session s, List<byte[]> args) {
    String name = text(args.get(0)).toUpperCase(Locale.ROOT);
    io.micrometer.core.instrument.Counter[] meters =
        counted.computeIfAbsent(COMMANDS.contains(name) ? name : "OTHER", this::meters);
    return execute(s, name, args)
        .whenComplete(
            (reply, error) ->
                meters[error != null || reply.length == 0 || reply[0] == '-' ? 1 : 0].increment());
  }

  /** The command's counters: answered without and with an error reply. */
  private io.micrometer.core.instrument.Counter[] meters(String command) {
    io.micrometer.core.instrument.Counter[] m = new io.micrometer.core.instrument.Counter[2];
    for (int i = 0; i < 2; i++) {
      m[i] =
          io.micrometer.core.instrument.Counter.builder("tally.resp.commands")
              .description("Redis-protocol commands answered, by command and outcome")
              .tag("command", command.toLowerCase(Locale.ROOT))
              .tag("outcome", i == 0 ? "ok" : "error")
              .register(registry);
    }
    return m;
  }

  /**
   * Hands the counter writes {@link #run} gathered in {@code s} to the write path in one
   * submission. Their replies are made on the connection's event loop, through {@code loop}, not on
   * the committer thread that answers the whole group commit.
   */
  public void submit(Session s, java.util.function.Consumer<Runnable> loop) {
    if (s.queued.isEmpty()) {
      return;
    }
    List<QueuedWrite> round = List.copyOf(s.queued);
    s.queued.clear();
    Write[] batch = new Write[round.size()];
    for (int i = 0; i < batch.length; i++) {
      batch[i] = round.get(i).write();
    }
    try {
      writes.submit(
          batch,
          results ->
              loop.accept(
                  () -> {
                    for (int i = 0; i < batch.length; i++) {
                      QueuedWrite q = round.get(i);
                      q.reply().complete(written(results[i], q.protocol()));
                    }
                  }));
    } catch (TallyException e) {
      for (QueuedWrite q : round) {
        q.reply().complete(error(e, q.protocol()));
      }
    }
  }

  /** A counter write waiting for its round's {@link #submit}, with the protocol to answer in. */
  private record QueuedWrite(Write write, CompletableFuture<byte[]> reply, int protocol) {}

  private CompletionStage<byte[]> execute(Session s, String command, List<byte[]> args) {
    RespReply out = new RespReply();
    out.protocol(s.protocol);
    try {
      return switch (command) {
        case "INCR" -> write(s, args, 2, 1);
        case "DECR" -> write(s, args, 2, -1);
        case "INCRBY" -> write(s, args, 3, 1);
        case "DECRBY" -> write(s, args, 3, -1);
        case "TALLY.INCRBY" -> write(s, args, 4, 1);
        case "GET" -> read(s, args, false);
        case "MGET" -> read(s, args, true);
        default -> CompletableFuture.completedFuture(connection(s, command, args, out).take());
      };
    } catch (Refusal e) {
      out.error(e.getMessage());
      return CompletableFuture.completedFuture(out.take());
    }
  }

  /** A command answered with an error reply, nothing changed. */
  private static final class Refusal extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Refusal(String message) {
      super(message, null, false, false);
    }
  }

  private RespReply connection(Session s, String command, List<byte[]> args, RespReply out) {
    switch (command) {
      case "PING" -> {
        arity(args, 1, 2);
        return args.size() == 1 ? out.simple("PONG") : out.bulk(args.get(1));
      }
      case "ECHO" -> {
        arity(args, 2, 2);
        return out.bulk(args.get(1));
      }
      case "HELLO" -> {
        return hello(s, args, out);
      }
      case "AUTH" -> {
        arity(args, 2, 3);
        authenticate(s, args.get(args.size() - 1));
        return out.simple("OK");
      }
      case "SELECT" -> {
        arity(args, 2, 2);
        if (!text(args.get(1)).equals("0")) {
          throw new Refusal("ERR DB index is out of range");
        }
        return out.simple("OK");
      }
      case "CLIENT" -> {
        return client(s, args, out);
      }
      case "COMMAND" -> {
        String sub = args.size() > 1 ? text(args.get(1)).toUpperCase(Locale.ROOT) : "";
        return sub.equals("COUNT") ? out.integer(COMMANDS.size()) : out.array(0);
      }
      case "INFO" -> {
        return out.bulk(info());
      }
      case "QUIT" -> {
        s.closeAfterReply = true;
        return out.simple("OK");
      }
      case "RESET" -> {
        s.protocol = 2;
        s.name = null;
        out.protocol(2);
        return out.simple("RESET");
      }
      default -> throw new Refusal(unknown(command, args));
    }
  }

  /** The commands tally answers, for {@code COMMAND COUNT}. */
  static final List<String> COMMANDS =
      List.of(
          "INCR",
          "DECR",
          "INCRBY",
          "DECRBY",
          "TALLY.INCRBY",
          "GET",
          "MGET",
          "PING",
          "ECHO",
          "HELLO",
          "SELECT",
          "CLIENT",
          "COMMAND",
          "INFO",
          "QUIT",
          "RESET");

  private RespReply hello(Session s, List<byte[]> args, RespReply out) {
    int protocol = s.protocol;
    int i = 1;
    if (args.size() > 1) {
      Long v = integer(args.get(1));
      if (v == null) {
        throw new Refusal("ERR Protocol version is not an integer or out of range");
      }
      if (v != 2 && v != 3) {
        throw new Refusal("NOPROTO unsupported protocol version");
      }
      protocol = v.intValue();
      i = 2;
    }
    String name = s.name;
    while (i < args.size()) {
      String option = text(args.get(i)).toUpperCase(Locale.ROOT);
      if (option.equals("SETNAME") && i + 1 < args.size()) {
        name = text(args.get(i + 1));
        i += 2;
      } else if (option.equals("AUTH") && i + 2 < args.size()) {
        authenticate(s, args.get(i + 2));
        i += 3;
      } else {
        throw new Refusal("ERR Syntax error in HELLO option '" + text(args.get(i)) + "'");
      }
    }
    s.protocol = protocol;
    s.name = name;
    out.protocol(protocol);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("server", "tally");
    m.put("version", version);
    m.put("proto", protocol);
    m.put("id", s.id);
    m.put("mode", "standalone");
    m.put("role", "master");
    out.map(m);
    return out;
  }

  /** AUTH's password is an API key or a token; the user name, if any, is not looked at. */
  private void authenticate(Session s, byte[] secret) {
    String authorization = "Bearer " + text(secret);
    try {
      access.authenticate(authorization, s.address);
    } catch (TallyException e) {
      throw new Refusal("WRONGPASS invalid username-password pair or user is disabled.");
    }
    s.authorization = authorization;
  }

  private RespReply client(Session s, List<byte[]> args, RespReply out) {
    if (args.size() < 2) {
      throw new Refusal("ERR wrong number of arguments for 'client' command");
    }
    String sub = text(args.get(1)).toUpperCase(Locale.ROOT);
    switch (sub) {
      case "SETNAME" -> {
        arity(args, 3, 3);
        String name = text(args.get(2));
        if (name.contains(" ") || name.contains("\n")) {
          throw new Refusal(
              "ERR Client names cannot contain spaces, newlines or special characters.");
        }
        s.name = name.isEmpty() ? null : name;
        return out.simple("OK");
      }
      case "GETNAME" -> {
        return s.name == null ? out.nil() : out.bulk(s.name);
      }
      case "ID" -> {
        return out.integer(s.id);
      }
      case "INFO" -> {
        return out.bulk("id=" + s.id + " name=" + (s.name == null ? "" : s.name) + " db=0\n");
      }
      case "SETINFO" -> {
        arity(args, 4, 4);
        return out.simple("OK");
      }
      default ->
          throw new Refusal("ERR unknown subcommand '" + text(args.get(1)) + "'. Try CLIENT HELP.");
    }
  }

  private String info() {
    return "# Server\r\nredis_version:7.0.0\r\ntally_version:"
        + version
        + "\r\nredis_mode:standalone\r\n\r\n# Tally\r\ncounters:"
        + String.join(",", names.names())
        + "\r\nkey_format:<counter>:<postId>\r\n";
  }

  /**
   * INCR and friends: {@code sign} is the direction, {@code arity} the argument count including the
   * command (2: no amount, 3: an amount, 4: an amount and an idempotency key).
   */
  private CompletionStage<byte[]> write(Session s, List<byte[]> args, int arity, int sign) {
    arity(args, arity, arity);
    CounterId id = counter(args.get(1));
    long delta = sign;
    if (arity >= 3) {
      Long amount = integer(args.get(2));
      if (amount == null || (sign < 0 && amount == Long.MIN_VALUE)) {
        throw new Refusal(NOT_INTEGER);
      }
      delta = sign * amount;
    }
    String key = arity == 4 ? text(args.get(3)) : null;
    int protocol = s.protocol;
    try {
      access.checkWrite(s.authorization, s.address, 1);
      access.checkPost(id.postId(), 1);
    } catch (TallyException e) {
      return CompletableFuture.completedFuture(error(e, protocol));
    }
    if (delta == 0) {
      return counts(List.of(id), protocol, false); // adds nothing: the count as it is
    }
    CompletableFuture<byte[]> reply = new CompletableFuture<>();
    s.queued.add(new QueuedWrite(new Write(id, delta, key), reply, protocol));
    return reply;
  }

  private static byte[] written(WriteResult r, int protocol) {
    RespReply out = new RespReply();
    out.protocol(protocol);
    if (r.outcome() == WriteResult.Outcome.FAILED) {
      return error(r.error(), protocol);
    }
    return out.integer(r.count()).take();
  }

  private CompletionStage<byte[]> read(Session s, List<byte[]> args, boolean many) {
    if (many ? args.size() < 2 : args.size() != 2) {
      throw new Refusal(wrongArity(args));
    }
    List<CounterId> ids = new ArrayList<>(args.size() - 1);
    for (int i = 1; i < args.size(); i++) {
      ids.add(counter(args.get(i)));
    }
    try {
      access.checkRead(s.authorization, s.address);
    } catch (TallyException e) {
      return CompletableFuture.completedFuture(error(e, s.protocol));
    }
    return counts(ids, s.protocol, many);
  }

  /** GET answers a bulk string of the count, as Redis answers GET of a key INCR made. */
  private CompletionStage<byte[]> counts(List<CounterId> ids, int protocol, boolean array) {
    CountReader.Counts now = counts.peek(ids);
    CompletionStage<CountReader.Counts> later;
    try {
      later = now != null ? CompletableFuture.completedFuture(now) : counts.read(ids);
    } catch (TallyException e) {
      return CompletableFuture.completedFuture(error(e, protocol));
    }
    return later.handle(
        (c, failure) -> {
          if (failure != null) {
            return error(
                failure instanceof TallyException t
                    ? t
                    : failure.getCause() instanceof TallyException t2
                        ? t2
                        : new TallyException(ErrorKind.INTERNAL, "cannot read the counts"),
                protocol);
          }
          RespReply out = new RespReply();
          out.protocol(protocol);
          if (array) {
            out.array(ids.size());
          }
          for (long n : c.counts()) {
            out.bulk(Long.toString(n));
          }
          return out.take();
        });
  }

  /**
   * A tally failure as a RESP error: missing credentials as {@code NOAUTH}, insufficient ones as
   * {@code NOPERM}, retriable kinds (rate limits, overload, a store that cannot write now) as
   * {@code TRYAGAIN}, the others as {@code ERR}.
   */
  static byte[] error(TallyException e, int protocol) {
    RespReply out = new RespReply();
    out.protocol(protocol);
    String text =
        switch (e.kind()) {
          case UNAUTHORIZED -> "NOAUTH Authentication required: " + e.getMessage();
          case FORBIDDEN -> "NOPERM " + e.getMessage();
          default -> (e.kind().retriable() ? "TRYAGAIN " : "ERR ") + e.getMessage();
        };
    return out.error(text).take();
  }

  /** The counter a key names: {@code <counter>:<postId>}. */
  private CounterId counter(byte[] key) {
    String k = text(key);
    int colon = k.lastIndexOf(':');
    if (colon <= 0 || colon == k.length() - 1) {
      throw new Refusal("ERR key must be <counter>:<postId>, e.g. likes:812; got '" + k + "'");
    }
    int code = names.codeOrMinusOne(k.substring(0, colon));
    if (code < 0) {
      throw new Refusal(
          "ERR unknown counter '" + k.substring(0, colon) + "'; counters: " + names.names());
    }
    // leading zeros allowed (unlike the HTTP API) so that tools which pad numbers into keys, like
    // redis-benchmark's __rand_int__, name posts: likes:0812 is the same counter as likes:812
    long post = PostIds.parse(k.substring(colon + 1), true);
    if (post <= 0) {
      throw new Refusal(
          "ERR post id must be a positive 64-bit integer in decimal; got '"
              + k.substring(colon + 1)
              + "'");
    }
    return new CounterId(post, code);
  }

  /** A Redis integer argument, or null when it is not one. */
  private static Long integer(byte[] b) {
    String s = text(b);
    if (s.isEmpty() || s.length() > 20 || (s.length() > 1 && s.charAt(0) == '0')) {
      return null;
    }
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static void arity(List<byte[]> args, int min, int max) {
    if (args.size() < min || args.size() > max) {
      throw new Refusal(wrongArity(args));
    }
  }

  private static String wrongArity(List<byte[]> args) {
    return "ERR wrong number of arguments for '"
        + text(args.get(0)).toLowerCase(Locale.ROOT)
        + "' command";
  }

  private static String unknown(String command, List<byte[]> args) {
    StringBuilder sb =
        new StringBuilder("ERR unknown command '")
            .append(text(args.get(0)))
            .append("', with args beginning with: ");
    for (int i = 1; i < args.size() && i <= 3; i++) {
      sb.append('\'').append(text(args.get(i))).append("' ");
    }
    return sb.toString();
  }

  private static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
