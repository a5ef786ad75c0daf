package dev.tally.resp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.access.AccessControl;
import dev.tally.engine.Aggregator;
import dev.tally.engine.LocalCountReader;
import dev.tally.engine.ReadCache;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.testing.ManualClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command layer on a real engine and store: replies as a Redis client reads them. */
class RespCommandsTest {

  @TempDir Path dir;

  private RocksCounterStore store;
  private Aggregator aggregator;
  private ExecutorService reads;
  private RespCommands commands;
  private RespCommands.Session session;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @BeforeEach
  void open() {
    store = RocksCounterStore.open(dir, List.of("likes", "views"), 8 << 20);
    ReadCache cache = new ReadCache(store, 10_000);
    aggregator =
        new Aggregator(
            store,
            cache,
            new ManualClock(Instant.parse("2030-10-10T12:11:42Z")),
            new Aggregator.Settings(
                1_000, 10_000, 10_000, Duration.ofHours(24), Duration.ofSeconds(1)),
            new SimpleMeterRegistry());
    aggregator.start();
    reads = Executors.newSingleThreadExecutor();
    commands =
        new RespCommands(
            store.names(),
            AccessControl.open(Clock.systemUTC(), new SimpleMeterRegistry()),
            aggregator,
            new LocalCountReader(cache, reads),
            "test-version",
            registry);
    session = commands.open("127.0.0.1", () -> {});
  }

  @AfterEach
  void close() {
    aggregator.close();
    reads.shutdownNow();
    store.close();
  }

  private static List<byte[]> args(String... args) {
    List<byte[]> a = new ArrayList<>();
    for (String s : args) {
      a.add(s.getBytes(StandardCharsets.UTF_8));
    }
    return a;
  }

  /** One command as a connection runs it: then the round's writes are submitted. */
  private String run(String... args) throws Exception {
    RespCommands.Answer reply = commands.run(session, args(args));
    commands.submit(session, Runnable::run);
    return text(reply);
  }

  private static String text(RespCommands.Answer reply) throws Exception {
    dev.tally.testing.Poll.until(
        "the answer",
        java.time.Duration.ofSeconds(10),
        java.time.Duration.ofMillis(1),
        reply::ready,
        Boolean.TRUE::equals);
    return new String(reply.take(), StandardCharsets.UTF_8);
  }

  @Test
  void theWritesOfOneRound_goToTheWritePathTogether_andAreAnsweredOnTheLoop() throws Exception {
    var a = commands.run(session, args("INCR", "likes:5"));
    var b = commands.run(session, args("INCRBY", "likes:5", "2"));
    var c = commands.run(session, args("DECR", "views:5"));
    assertThat(a.ready()).as("waits for the round's submit").isFalse();
    java.util.concurrent.BlockingQueue<Runnable> loop =
        new java.util.concurrent.LinkedBlockingQueue<>();
    commands.submit(session, loop::add);
    Runnable answers = loop.poll(10, TimeUnit.SECONDS);
    assertThat(answers).as("one hand-off for the whole round").isNotNull();
    assertThat(List.of(a, b, c)).as("replies are made on the loop").noneMatch(f -> f.ready());
    answers.run();
    assertThat(text(a)).isEqualTo(":1\r\n");
    assertThat(text(b)).isEqualTo(":3\r\n");
    assertThat(text(c)).isEqualTo(":-1\r\n");
    assertThat(loop).isEmpty();
  }

  @Test
  void aRoundOfWrites_isFollowedByOneAnsweredCall_withEveryAnswerReadyByThen() throws Exception {
    List<Boolean> readyWhenCalled = new ArrayList<>();
    RespCommands.Answer[] answers = new RespCommands.Answer[2];
    RespCommands.Session s =
        commands.open(
            "127.0.0.1", () -> readyWhenCalled.add(answers[0].ready() && answers[1].ready()));
    answers[0] = commands.run(s, args("INCR", "likes:9"));
    answers[1] = commands.run(s, args("incr", "likes:9"));
    java.util.concurrent.BlockingQueue<Runnable> loop =
        new java.util.concurrent.LinkedBlockingQueue<>();
    commands.submit(s, loop::add);
    loop.poll(10, TimeUnit.SECONDS).run();
    assertThat(readyWhenCalled).containsExactly(true);
    assertThat(text(answers[1])).isEqualTo(":2\r\n");
  }

  @Test
  void commandNames_matchInAnyCase() {
    assertThat(RespCommands.commandName("incrBY".getBytes(StandardCharsets.US_ASCII)))
        .isSameAs("INCRBY");
    assertThat(RespCommands.commandName("tally.IncrBy".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo("TALLY.INCRBY");
    assertThat(RespCommands.commandName("get".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo("GET");
    assertThat(RespCommands.commandName("set".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo("SET");
    assertThat(RespCommands.commandName("GETS".getBytes(StandardCharsets.US_ASCII)))
        .isEqualTo("GETS");
    assertThat(RespCommands.commandName("inc{".getBytes(StandardCharsets.US_ASCII)))
        .as("only letters fold")
        .isEqualTo("INC{");
  }

  @Test
  void aRoundTheWritePathRefuses_answersEveryWriteWithTheRetriableError() throws Exception {
    RespCommands refusing =
        new RespCommands(
            store.names(),
            AccessControl.open(Clock.systemUTC(), new SimpleMeterRegistry()),
            (writes, callback) -> {
              throw new dev.tally.error.TallyException(
                  dev.tally.error.ErrorKind.OVERLOADED, "too many writes are waiting");
            },
            new LocalCountReader(new ReadCache(store, 10), reads),
            "test-version",
            registry);
    RespCommands.Session s = refusing.open("127.0.0.1", () -> {});
    var a = refusing.run(s, args("INCR", "likes:7"));
    var b = refusing.run(s, args("DECRBY", "likes:7", "3"));
    refusing.submit(s, Runnable::run);
    assertThat(text(a)).startsWith("-TRYAGAIN too many writes are waiting");
    assertThat(text(b)).startsWith("-TRYAGAIN too many writes are waiting");
    assertThat(run("GET", "likes:7")).as("nothing changed").isEqualTo("$1\r\n0\r\n");
  }

  @Test
  void counterCommands_answerAsRedisAnswersThem() throws Exception {
    assertThat(run("INCR", "likes:812")).isEqualTo(":1\r\n");
    assertThat(run("incrby", "likes:812", "41")).isEqualTo(":42\r\n");
    assertThat(run("DECR", "likes:812")).isEqualTo(":41\r\n");
    assertThat(run("DECRBY", "likes:812", "-9")).isEqualTo(":50\r\n");
    assertThat(run("INCRBY", "likes:812", "0")).isEqualTo("$2\r\n50\r\n");
    assertThat(run("GET", "likes:812")).isEqualTo("$2\r\n50\r\n");
    assertThat(run("GET", "views:812")).as("never written").isEqualTo("$1\r\n0\r\n");
    assertThat(run("MGET", "likes:812", "views:812", "likes:1"))
        .isEqualTo("*3\r\n$2\r\n50\r\n$1\r\n0\r\n$1\r\n0\r\n");
  }

  @Test
  void paddedPostIds_nameTheSamePost_asRedisBenchmarkWritesThem() throws Exception {
    assertThat(run("INCR", "likes:000000000812")).isEqualTo(":1\r\n");
    assertThat(run("GET", "likes:812")).isEqualTo("$1\r\n1\r\n");
  }

  @Test
  void theIdempotentForm_refusesTheKeysTheHttpApiRefuses_andChangesNothing() throws Exception {
    String longest = "k".repeat(255);
    assertThat(run("TALLY.INCRBY", "views:8", "1", longest)).isEqualTo(":1\r\n");
    for (String bad : List.of("k".repeat(256), "", "with space", "caf\u00e9", "tab\tkey")) {
      assertThat(run("TALLY.INCRBY", "views:8", "1", bad))
          .as(bad)
          .isEqualTo("-ERR an idempotency key must be 1-255 visible ASCII characters\r\n");
    }
    assertThat(run("GET", "views:8")).isEqualTo("$1\r\n1\r\n");
  }

  @Test
  void theIdempotentForm_appliesAKeyOnce_andRepeatsItsAnswer() throws Exception {
    assertThat(run("TALLY.INCRBY", "views:7", "5", "k-1")).isEqualTo(":5\r\n");
    assertThat(run("INCR", "views:7")).isEqualTo(":6\r\n");
    assertThat(run("TALLY.INCRBY", "views:7", "5", "k-1")).as("a replay").isEqualTo(":5\r\n");
    assertThat(run("GET", "views:7")).isEqualTo("$1\r\n6\r\n");
    assertThat(run("TALLY.INCRBY", "views:7", "4", "k-1"))
        .startsWith("-ERR ")
        .contains("different write");
  }

  @Test
  void badInput_getsRedisErrorTexts_andChangesNothing() throws Exception {
    assertThat(run("INCRBY", "likes:9", "x"))
        .isEqualTo("-ERR value is not an integer or out of range\r\n");
    assertThat(run("INCR")).isEqualTo("-ERR wrong number of arguments for 'incr' command\r\n");
    assertThat(run("INCR", "likes:9", "extra"))
        .isEqualTo("-ERR wrong number of arguments for 'incr' command\r\n");
    assertThat(run("SET", "likes:9", "5"))
        .isEqualTo("-ERR unknown command 'SET', with args beginning with: 'likes:9' '5' \r\n");
    assertThat(run("INCR", "likes")).startsWith("-ERR key must be <counter>:<postId>");
    assertThat(run("INCR", ":5")).startsWith("-ERR key must be <counter>:<postId>");
    assertThat(run("INCR", "likes:")).startsWith("-ERR key must be <counter>:<postId>");
    assertThat(run("INCR", "shares:9")).startsWith("-ERR unknown counter 'shares'");
    assertThat(run("INCR", "likes:x:9")).startsWith("-ERR unknown counter 'likes:x'");
    assertThat(run("INCR", "likes:9x")).startsWith("-ERR post id must be").contains("'9x'");
    assertThat(run("INCR", "likes:0")).startsWith("-ERR post id must be");
    assertThat(run("INCR", "likes:-9")).startsWith("-ERR post id must be");
    assertThat(run("INCR", "likes:99999999999999999999")).startsWith("-ERR post id must be");
    assertThat(run("DECRBY", "likes:9", "-9223372036854775808"))
        .isEqualTo("-ERR value is not an integer or out of range\r\n");
    assertThat(run("GET", "likes:9")).isEqualTo("$1\r\n0\r\n");
    assertThat(
            registry.counter("tally.resp.commands", "command", "incr", "outcome", "error").count())
        .isEqualTo(11);
    assertThat(
            registry.counter("tally.resp.commands", "command", "other", "outcome", "error").count())
        .isEqualTo(1);
    assertThat(registry.counter("tally.resp.commands", "command", "get", "outcome", "ok").count())
        .isEqualTo(1);
  }

  @Test
  void connectionCommands_realClientsSendOnConnect() throws Exception {
    assertThat(run("PING")).isEqualTo("+PONG\r\n");
    assertThat(run("PING", "hi")).isEqualTo("$2\r\nhi\r\n");
    assertThat(run("ECHO", "x y")).isEqualTo("$3\r\nx y\r\n");
    assertThat(run("SELECT", "0")).isEqualTo("+OK\r\n");
    assertThat(run("SELECT", "1")).isEqualTo("-ERR DB index is out of range\r\n");
    assertThat(run("CLIENT", "SETNAME", "app")).isEqualTo("+OK\r\n");
    assertThat(run("CLIENT", "GETNAME")).isEqualTo("$3\r\napp\r\n");
    assertThat(run("CLIENT", "SETINFO", "lib-name", "lettuce")).isEqualTo("+OK\r\n");
    assertThat(run("COMMAND", "DOCS")).isEqualTo("*0\r\n");
    assertThat(run("INFO")).contains("tally_version:test-version").contains("key_format");
    assertThat(run("HELLO", "4")).isEqualTo("-NOPROTO unsupported protocol version\r\n");
    assertThat(run("HELLO", "3", "SETNAME", "app2"))
        .startsWith("%6\r\n$6\r\nserver\r\n$5\r\ntally\r\n");
    assertThat(run("CLIENT", "GETNAME")).isEqualTo("$4\r\napp2\r\n");
    assertThat(run("GET", "likes:77")).isEqualTo("$1\r\n0\r\n");
    assertThat(run("RESET")).isEqualTo("+RESET\r\n");
    assertThat(run("CLIENT", "GETNAME")).isEqualTo("$-1\r\n");
    assertThat(run("QUIT")).isEqualTo("+OK\r\n");
    assertThat(session.closing()).isTrue();
  }
}
