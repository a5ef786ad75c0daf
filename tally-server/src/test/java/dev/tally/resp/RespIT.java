package dev.tally.resp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.Tally;
import dev.tally.config.TallyConfig;
import dev.tally.testing.TallyClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Redis-protocol listener of a real node, driven by clients nobody here wrote: {@code
 * redis-cli} and Lettuce (which says {@code HELLO 3} on connect), plus raw sockets for pipelines
 * and hostile frames. Counts must agree with the HTTP API.
 */
class RespIT {

  @TempDir Path dir;
  private Tally node;
  private RedisClient lettuce;

  @BeforeEach
  void start() {
    start(dir.resolve("data"));
  }

  /** A node with its RESP listener on a free port, and a Lettuce client for it. */
  private void start(Path data, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "--port",
                "0",
                "--resp-port",
                "0",
                "--data-dir",
                data.toString(),
                "--host",
                "127.0.0.1"));
    args.addAll(List.of(extra));
    node = Tally.start(TallyConfig.parse(args.toArray(new String[0]), Map.of()), Clock.systemUTC());
    lettuce = RedisClient.create(RedisURI.create("127.0.0.1", node.respPort()));
  }

  @AfterEach
  void stop() {
    if (lettuce != null) {
      lettuce.shutdown();
    }
    if (node != null) {
      node.close();
    }
  }

  @Test
  void lettuce_incrementsReadsAndPipelines_andHttpAgrees() throws Exception {
    try (StatefulRedisConnection<String, String> c = lettuce.connect()) {
      RedisCommands<String, String> r = c.sync();
      assertThat(r.ping()).isEqualTo("PONG");
      assertThat(r.incr("likes:812")).isEqualTo(1);
      assertThat(r.incrby("likes:812", 41)).isEqualTo(42);
      assertThat(r.decr("likes:812")).isEqualTo(41);
      assertThat(r.get("likes:812")).isEqualTo("41");
      assertThat(r.get("views:812")).isEqualTo("0");

      // a pipeline of 2,000 increments over 20 posts, answered in order
      RedisAsyncCommands<String, String> a = c.async();
      c.setAutoFlushCommands(false);
      List<RedisFuture<Long>> futures = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) {
        futures.add(a.incr("views:" + (100 + i % 20)));
      }
      c.flushCommands();
      c.setAutoFlushCommands(true);
      for (int i = 0; i < futures.size(); i++) {
        assertThat(futures.get(i).get(10, TimeUnit.SECONDS)).isEqualTo(i / 20 + 1);
      }
      List<String> keys = new ArrayList<>();
      for (int p = 100; p < 120; p++) {
        keys.add("views:" + p);
      }
      TallyClient http = new TallyClient(node.port());
      for (var kv : r.mget(keys.toArray(new String[0]))) {
        long post = Long.parseLong(kv.getKey().substring("views:".length()));
        assertThat(kv.getValue()).isEqualTo("100");
        assertThat(http.count(post, "views")).isEqualTo(100);
      }
      assertThat(http.count(812, "likes")).isEqualTo(41);
    }
  }

  @Test
  void redisCli_runsCommands_andGetsRedisErrors() throws Exception {
    assertThat(cli("INCR", "likes:7")).isEqualTo("1");
    assertThat(cli("INCRBY", "likes:7", "4")).isEqualTo("5");
    assertThat(cli("GET", "likes:7")).isEqualTo("5");
    assertThat(cli("TALLY.INCRBY", "likes:7", "10", "key-1")).isEqualTo("15");
    assertThat(cli("TALLY.INCRBY", "likes:7", "10", "key-1")).isEqualTo("15");
    assertThat(cli("SET", "likes:7", "0")).startsWith("ERR unknown command 'SET'");
    assertThat(cli("INCRBY", "likes:7", "abc"))
        .isEqualTo("ERR value is not an integer or out of range");
    assertThat(cli("GET", "likes:7")).isEqualTo("15");
  }

  @Test
  void hostileFrames_getAnErrorAndTheConnectionClosed_nothingApplied() throws Exception {
    for (String frame :
        List.of(
            "*2\r\n$4\r\nINCR\r\n$999999999\r\n",
            "*1\r\n+INCR\r\n",
            "*99999999\r\n\r\n",
            "x".repeat(70_000))) {
      try (Socket s = new Socket("127.0.0.1", node.respPort())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(frame.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        InputStream in = s.getInputStream();
        String reply = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(reply)
            .as(frame.substring(0, Math.min(30, frame.length())))
            .startsWith("-ERR Protocol error");
      }
    }
    try (StatefulRedisConnection<String, String> c = lettuce.connect()) {
      assertThat(c.sync().get("likes:1")).isEqualTo("0");
    }
  }

  @Test
  void aPipelineOverManyPosts_isAnsweredInOrder_withThreeCommitters() throws Exception {
    stop();
    start(dir.resolve("three-committers"), "--committers", "3");
    try (StatefulRedisConnection<String, String> c = lettuce.connect()) {
      // each round of the pipeline spans the three committers and is answered as one
      RedisAsyncCommands<String, String> a = c.async();
      c.setAutoFlushCommands(false);
      List<RedisFuture<Long>> futures = new ArrayList<>();
      for (int i = 0; i < 3_000; i++) {
        futures.add(a.incr("likes:" + (500 + i % 30)));
      }
      c.flushCommands();
      c.setAutoFlushCommands(true);
      for (int i = 0; i < futures.size(); i++) {
        assertThat(futures.get(i).get(10, TimeUnit.SECONDS))
            .as("reply %d", i)
            .isEqualTo(i / 30 + 1);
      }
      TallyClient http = new TallyClient(node.port());
      for (int p = 500; p < 530; p++) {
        assertThat(http.count(p, "likes")).isEqualTo(100);
      }
    }
  }

  @Test
  void aPipelineWrittenInOneGo_isAnsweredInOrder_pastTheBoundOfCommandsWaiting() throws Exception {
    int n = 3 * RespServerVerticle.MAX_PIPELINE; // the connection pauses and resumes reading
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append("*2\r\n$4\r\nINCR\r\n$7\r\nlikes:3\r\n");
    }
    sb.append("*1\r\n$4\r\nQUIT\r\n");
    try (Socket s = new Socket("127.0.0.1", node.respPort())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(sb.toString().getBytes(StandardCharsets.ISO_8859_1));
      String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      StringBuilder want = new StringBuilder();
      for (int i = 1; i <= n; i++) {
        want.append(':').append(i).append("\r\n");
      }
      want.append("+OK\r\n");
      assertThat(reply).isEqualTo(want.toString());
    }
  }

  @Test
  void withAuthOn_commandsNeedAuth_andAWrongKeyIsRefused() throws Exception {
    node.close();
    lettuce.shutdown();
    java.nio.file.Files.writeString(dir.resolve("keys"), "web:k-resp-0123456789abcdef\n");
    start(dir.resolve("d2"), "--auth", "all", "--api-keys-file", dir.resolve("keys").toString());
    assertThat(cli("INCR", "likes:1")).startsWith("NOAUTH");
    assertThat(cli("GET", "likes:1")).startsWith("NOAUTH");
    // redis-cli reports the failed AUTH, then runs the command unauthenticated
    assertThat(cli("-a", "wrong", "--no-auth-warning", "INCR", "likes:1"))
        .contains("WRONGPASS")
        .contains("NOAUTH");
    assertThat(cli("-a", "k-resp-0123456789abcdef", "--no-auth-warning", "INCR", "likes:1"))
        .isEqualTo("1");
    RedisClient authed =
        RedisClient.create(
            RedisURI.builder()
                .withHost("127.0.0.1")
                .withPort(node.respPort())
                .withPassword("k-resp-0123456789abcdef".toCharArray())
                .build());
    try (StatefulRedisConnection<String, String> c = authed.connect()) {
      assertThat(c.sync().incr("likes:1")).isEqualTo(2);
    } finally {
      authed.shutdown();
    }
  }

  /** redis-benchmark's INCR load on padded random keys: every increment answered is counted. */
  @Test
  void redisBenchmark_incrementsAreAllCounted() throws Exception {
    // __rand_int__ is 12 digits, zero-padded: the leading 1 keeps post 0 out
    Process p =
        new ProcessBuilder(
                "redis-benchmark",
                "-h",
                "127.0.0.1",
                "-p",
                "" + node.respPort(),
                "-n",
                "5000",
                "-r",
                "1000",
                "-c",
                "16",
                "-P",
                "8",
                "-q",
                "INCR",
                "likes:1__rand_int__")
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("redis-benchmark finished").isTrue();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(said).isZero();
    assertThat(said).doesNotContain("ERR");
    StringBuilder posts = new StringBuilder();
    for (int i = 0; i < 1000; i++) {
      posts.append(i == 0 ? "" : ",").append(1_000_000_000_000L + i);
    }
    String body =
        new TallyClient(node.port())
            .send(
                "POST",
                "/v1/counts/query",
                "{\"posts\":[" + posts + "],\"counters\":[\"likes\"]}",
                "Content-Type",
                "application/json")
            .body();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"count\":(\\d+)").matcher(body);
    long total = 0;
    while (m.find()) {
      total += Long.parseLong(m.group(1));
    }
    assertThat(total).as(said).isEqualTo(5000);
  }

  /** Debian's python3-redis (redis-py): another client, outside the JVM. */
  @Test
  void pythonRedis_countsPipelinesAndSeesRefusals() throws Exception {
    String script =
        String.join(
            "\n",
            "import sys, redis",
            "r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]))",
            "out = [r.ping(), r.incr('likes:42'), r.incrby('likes:42', 9), r.decr('likes:42')]",
            "out.append(r.get('likes:42').decode())",
            "p = r.pipeline(transaction=False)",
            "for i in range(300):",
            "    p.incr('views:%d' % (42 + i % 3))",
            "out.append(p.execute()[-1])",
            "out.append([v.decode() for v in r.mget('views:42', 'views:43', 'views:44')])",
            "out.append(r.execute_command('TALLY.INCRBY', 'likes:42', 5, 'py-1'))",
            "out.append(r.execute_command('TALLY.INCRBY', 'likes:42', 5, 'py-1'))",
            "try:",
            "    r.set('likes:42', 0)",
            "except redis.ResponseError as e:",
            "    out.append(str(e).split(',')[0])",
            "print(out)");
    Process p =
        new ProcessBuilder("/usr/bin/python3", "-c", script, "" + node.respPort())
            .redirectErrorStream(true)
            .start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("python finished").isTrue();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertThat(p.exitValue()).as(said).isZero();
    assertThat(said)
        .isEqualTo(
            "[True, 1, 10, 9, '9', 100, ['100', '100', '100'], 14, 14,"
                + " \"unknown command 'SET'\"]");
    assertThat(new TallyClient(node.port()).count(42, "likes")).isEqualTo(14);
  }

  private String cli(String... args) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(List.of("redis-cli", "-h", "127.0.0.1", "-p", "" + node.respPort()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("redis-cli finished").isTrue();
      return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    } finally {
      p.destroyForcibly();
    }
  }
}
