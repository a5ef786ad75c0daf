package dev.tally.resp;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterNames;
import dev.tally.counter.IdempotencyKeys;
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
 * <p>Each command's reply is an {@link Answer}, ready at once or later, which the connection writes
 * out in command order. Thread-safe: the state of a connection lives in its {@link Session}.
 */
public final class RespCommands {

  /**
   * One command's reply, in RESP bytes: ready when {@link #run} returns, or later, when its write
   * commits or its read completes. An answer made ready later is followed by its session's {@code
   * answered} callback (once for a whole round of writes), so the connection need not watch each
   * answer. A plain field and not a future: most answers are ready at once, and a write's is made
   * ready on the connection's own event loop.
   */
  public static final class Answer {
    private volatile byte[] bytes; // written once; volatile: a read's completes on another thread
    private io.micrometer.core.instrument.Counter[] meters; // ok, error; set by run()

    Answer() {}

    static Answer of(byte[] bytes) {
      Answer a = new Answer();
      a.bytes = bytes;
      return a;
    }

    /** True once the reply is made. */
    public boolean ready() {
      return bytes != null;
    }

    /** The reply's length in bytes, once {@link #ready}. */
    public int length() {
      return bytes.length;
    }

    /** The reply, once {@link #ready}; counts the command as answered, with or without an error. */
    public byte[] take() {
      byte[] b = bytes;
      if (b != null && meters != null) {
        meters[b.length == 0 || b[0] == '-' ? 1 : 0].increment();
        meters = null;
      }
      return b;
    }

    void complete(byte[] reply) {
      bytes = reply;
    }
  }

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

    // after answers were made ready later: once per round of writes, once per late read
    final Runnable answered;

    Session(long id, String address, Runnable answered) {
      this.id = id;
      this.address = address;
      this.answered = answered;
    }

    /** True once the client asked to end the connection ({@code QUIT}): close after the reply. */
    public boolean closing() {
      return closeAfterReply;
    }
  }

  private static final String NOT_INTEGER = "ERR value is not an integer or out of range";
  private static final String BAD_KEY =
      "ERR an idempotency key must be 1-"
          + IdempotencyKeys.MAX_LENGTH
          + " visible ASCII characters";

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

  /**
   * A new connection's session; {@code address} is the client's, for rate limits. {@code answered}
   * runs after answers were made ready later than {@link #run} returned them, on the thread that
   * made them ready: the connection's event loop for writes ({@link #submit}'s {@code loop}), a
   * reader thread for a read that had to wait for the store or Redis.
   */
  public Session open(String address, Runnable answered) {
    return new Session(sessions.incrementAndGet(), address, answered);
  }

  /**
   * Runs {@code args} (the command name first) and returns its answer. A counter write waits in the
   * session until {@link #submit}, so that the writes of one read from the socket go to the write
   * path together.
   */
  public Answer run(Session s, List<byte[]> args) {
    String name = commandName(args.get(0));
    io.micrometer.core.instrument.Counter[] meters = counted.get(name);
    if (meters == null) {
      meters = counted.computeIfAbsent(COMMANDS.contains(name) ? name : "OTHER", this::meters);
    }
    Answer a = execute(s, name, args);
    a.meters = meters;
    return a;
  }

  // the counter commands, matched without making a string of the name
  private static final String[] COUNTER_COMMANDS = {
    "INCR", "GET", "INCRBY", "DECR", "DECRBY", "MGET", "TALLY.INCRBY"
  };

  /** The command's name in upper case; the counter commands' without a new string. */
  static String commandName(byte[] raw) {
    for (String c : COUNTER_COMMANDS) {
      if (c.length() == raw.length && sameIgnoringAsciiCase(raw, c)) {
        return c;
      }
    }
    return text(raw).toUpperCase(Locale.ROOT);
  }

  private static boolean sameIgnoringAsciiCase(byte[] raw, String upper) {
    for (int i = 0; i < raw.length; i++) {
      int b = raw[i];
      if (b >= 'a' && b <= 'z') {
        b -= 'a' - 'A';
      }
      if (b != upper.charAt(i)) {
        return false;
      }
    }
    return true;
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
    QueuedWrite[] round = s.queued.toArray(new QueuedWrite[0]);
    s.queued.clear();
    Write[] batch = new Write[round.length];
    for (int i = 0; i < batch.length; i++) {
      batch[i] = round[i].write();
    }
    try {
      writes.submit(
          batch,
          results ->
              loop.accept(
                  () -> {
                    for (int i = 0; i < round.length; i++) {
                      QueuedWrite q = round[i];
                      q.reply().complete(written(results[i], q.protocol()));
                    }
                    s.answered.run();
                  }));
    } catch (TallyException e) {
      for (QueuedWrite q : round) {
        q.reply().complete(error(e, q.protocol()));
      }
      s.answered.run();
    }
  }

  /** A counter write waiting for its round's {@link #submit}, with the protocol to answer in. */
  private record QueuedWrite(Write write, Answer reply, int protocol) {}

  private Answer execute(Session s, String command, List<byte[]> args) {
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
        default -> Answer.of(connection(s, command, args, out).take());
      };
    } catch (Refusal e) {
      out.error(e.getMessage());
      return Answer.of(out.take());
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
  private Answer write(Session s, List<byte[]> args, int arity, int sign) {
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
    if (key != null && !IdempotencyKeys.valid(key)) {
      throw new Refusal(BAD_KEY);
    }
    int protocol = s.protocol;
    try {
      access.checkWrite(s.authorization, s.address, 1);
      access.checkPost(id.postId(), 1);
    } catch (TallyException e) {
      return Answer.of(error(e, protocol));
    }
    if (delta == 0) {
      return counts(s, List.of(id), false); // adds nothing: the count as it is
    }
    Answer reply = new Answer();
    s.queued.add(new QueuedWrite(new Write(id, delta, key), reply, protocol));
    return reply;
  }

  private static byte[] written(WriteResult r, int protocol) {
    if (r.outcome() == WriteResult.Outcome.FAILED) {
      return error(r.error(), protocol);
    }
    return RespReply.integerReply(r.count());
  }

  private Answer read(Session s, List<byte[]> args, boolean many) {
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
      return Answer.of(error(e, s.protocol));
    }
    return counts(s, ids, many);
  }

  /** GET answers a bulk string of the count, as Redis answers GET of a key INCR made. */
  private Answer counts(Session s, List<CounterId> ids, boolean array) {
    int protocol = s.protocol;
    CountReader.Counts now = counts.peek(ids);
    if (now != null) {
      return Answer.of(countsReply(now, protocol, array));
    }
    CompletionStage<CountReader.Counts> later;
    try {
      later = counts.read(ids);
    } catch (TallyException e) {
      return Answer.of(error(e, protocol));
    }
    Answer answer = new Answer();
    later.whenComplete(
        (c, failure) -> {
          byte[] reply;
          try {
            reply =
                failure == null
                    ? countsReply(c, protocol, array)
                    : error(
                        failure instanceof TallyException t
                            ? t
                            : failure.getCause() instanceof TallyException t2
                                ? t2
                                : new TallyException(ErrorKind.INTERNAL, "cannot read the counts"),
                        protocol);
          } catch (RuntimeException e) {
            reply =
                error(new TallyException(ErrorKind.INTERNAL, "cannot read the counts"), protocol);
          }
          answer.complete(reply);
          s.answered.run();
        });
    return answer;
  }

  private static byte[] countsReply(CountReader.Counts c, int protocol, boolean array) {
    RespReply out = new RespReply();
    out.protocol(protocol);
    if (array) {
      out.array(c.counts().length);
    }
    for (long n : c.counts()) {
      out.bulk(Long.toString(n));
    }
    return out.take();
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
    int colon = key.length - 1;
    while (colon >= 0 && key[colon] != ':') {
      colon--;
    }
    if (colon <= 0 || colon == key.length - 1) {
      throw new Refusal(
          "ERR key must be <counter>:<postId>, e.g. likes:812; got '" + text(key) + "'");
    }
    int code = names.codeOrMinusOne(key, 0, colon);
    if (code < 0) {
      throw new Refusal(
          "ERR unknown counter '"
              + new String(key, 0, colon, StandardCharsets.UTF_8)
              + "'; counters: "
              + names.names());
    }
    // leading zeros allowed (unlike the HTTP API) so that tools which pad numbers into keys, like
    // redis-benchmark's __rand_int__, name posts: likes:0812 is the same counter as likes:812
    long post = PostIds.parse(key, colon + 1, key.length, true);
    if (post <= 0) {
      throw new Refusal(
          "ERR post id must be a positive 64-bit integer in decimal; got '"
              + new String(key, colon + 1, key.length - colon - 1, StandardCharsets.UTF_8)
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
