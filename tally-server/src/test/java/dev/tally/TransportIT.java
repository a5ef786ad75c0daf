package dev.tally;

import static dev.tally.testing.RawResp.command;
import static dev.tally.testing.RawResp.readLine;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.config.TallyConfig;
import dev.tally.loop.NetTransport;
import dev.tally.testing.TallyClient;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A node on each socket transport this host offers ({@code --transport}): HTTP writes and reads,
 * and a long Redis-protocol pipeline whose requests and replies span many socket reads and writes.
 */
class TransportIT {

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"io_uring", "epoll", "nio"})
  void aNodeOnTheTransport_answersHttpAndALongPipeline(String transport) throws Exception {
    try {
      NetTransport.parse(transport).pick();
    } catch (IllegalStateException notOffered) {
      assumeTrue(false, notOffered.getMessage());
    }
    String[] args = {
      "--port",
      "0",
      "--resp-port",
      "0",
      "--host",
      "127.0.0.1",
      "--transport",
      transport,
      "--data-dir",
      dir.resolve("data").toString()
    };
    try (Tally node = Tally.start(TallyConfig.parse(args, Map.of()), Clock.systemUTC())) {
      assertThat(node.transport().flag()).isEqualTo(transport);
      TallyClient http = new TallyClient(node.port());
      for (int i = 0; i < 50; i++) {
        assertThat(http.write(7, "likes", "increment", null).statusCode()).isEqualTo(200);
      }
      int n = 20_000;
      ByteArrayOutputStream pipeline = new ByteArrayOutputStream();
      for (int i = 0; i < n; i++) {
        String key = "likes:" + (7 + i % 3);
        pipeline.writeBytes(command("INCR", key).getBytes(StandardCharsets.US_ASCII));
      }
      long last7 = 0;
      try (Socket s = new Socket("127.0.0.1", node.respPort())) {
        s.setSoTimeout(30_000);
        // written beside the reads: a node stops reading a client that does not read its replies
        Thread writer =
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        s.getOutputStream().write(pipeline.toByteArray());
                        s.getOutputStream().flush();
                      } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                      }
                    });
        InputStream in = new java.io.BufferedInputStream(s.getInputStream());
        for (int i = 0; i < n; i++) {
          String line = readLine(in);
          assertThat(line).as("reply %d", i).startsWith(":");
          if (i % 3 == 0) {
            long v = Long.parseLong(line.substring(1));
            assertThat(v).as("likes:7 counts up in order").isEqualTo(last7 == 0 ? 51 : last7 + 1);
            last7 = v;
          }
        }
        writer.join();
      }
      assertThat(http.count(7, "likes")).isEqualTo(50 + (n + 2) / 3);
      assertThat(http.count(8, "likes") + http.count(9, "likes")).isEqualTo(n - (n + 2) / 3);
    }
  }
}
