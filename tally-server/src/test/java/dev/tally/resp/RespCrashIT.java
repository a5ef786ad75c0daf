package dev.tally.resp;

import static dev.tally.testing.RawResp.command;
import static dev.tally.testing.RawResp.readLine;
import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a real node right after it answered a pipeline of increments over the Redis protocol:
 * every answered increment is there after the restart, and the idempotent form replays.
 */
class RespCrashIT {

  @TempDir Path tmp;

  @Test
  void kill9_afterAnAnsweredPipeline_losesNothingAnswered() throws Exception {
    Path data = tmp.resolve("data");
    Path log = tmp.resolve("node.log");
    NodeProcess node = NodeProcess.start(data, log, "--resp-port", "0");
    try {
      int n = 2_000;
      StringBuilder pipeline = new StringBuilder();
      for (int i = 0; i < n; i++) {
        String key = "likes:" + (1 + i % 10);
        String idem = "crash-" + i;
        if (i % 2 == 0) {
          pipeline.append(command("INCR", key));
        } else {
          pipeline.append(command("TALLY.INCRBY", key, "1", idem));
        }
      }
      int answered = 0;
      try (Socket s = new Socket("127.0.0.1", node.respPort())) {
        s.setSoTimeout(30_000);
        s.getOutputStream().write(pipeline.toString().getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        // every reply is one integer line
        while (answered < n) {
          String line = readLine(in);
          assertThat(line).as("reply %d", answered).startsWith(":");
          answered++;
        }
      }
      node.kill();
      node = NodeProcess.start(data, log, "--resp-port", "0");
      TallyClient http = new TallyClient(node.port());
      long total = 0;
      for (int post = 1; post <= 10; post++) {
        total += http.count(post, "likes");
      }
      assertThat(total).as("answered increments after kill -9").isEqualTo(answered);
      try (Socket s = new Socket("127.0.0.1", node.respPort())) {
        s.setSoTimeout(30_000);
        s.getOutputStream()
            .write(
                command("TALLY.INCRBY", "likes:2", "1", "crash-1")
                    .getBytes(StandardCharsets.ISO_8859_1));
        readLine(s.getInputStream());
      }
      long after = 0;
      for (int post = 1; post <= 10; post++) {
        after += http.count(post, "likes");
      }
      assertThat(after).as("a replayed idempotency key adds nothing").isEqualTo(answered);
    } finally {
      node.close();
    }
  }
}
