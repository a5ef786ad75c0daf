package dev.tally.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A live subscription to one post's counts ({@link TallyClient#subscribe}): a thread of its own
 * reads the event stream and hands each event to the listener, in order; it reconnects after a lost
 * or refused stream until {@link #close}.
 */
public final class Subscription implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final TallyClient client;
  private final long postId;
  private final Consumer<LiveEvent> onEvent;
  private final Consumer<Throwable> onError;
  private final Thread thread;
  private volatile boolean closed;
  private volatile Stream<String> open;
  private volatile int connections;

  Subscription(
      TallyClient client, long postId, Consumer<LiveEvent> onEvent, Consumer<Throwable> onError) {
    this.client = client;
    this.postId = postId;
    this.onEvent = onEvent;
    this.onError = onError;
    this.thread = Thread.ofPlatform().daemon().name("tally-live-" + postId).start(this::run);
  }

  /** How many times a stream was opened (1 plus the reconnections). */
  public int connections() {
    return connections;
  }

  private void run() {
    Duration retry = Duration.ofSeconds(2); // until the node says otherwise
    int failures = 0;
    while (!closed) {
      boolean gotEvents = false;
      try {
        HttpResponse<Stream<String>> r = client.openStream(postId);
        if (r.statusCode() != 200) {
          r.body().close();
          throw new IOException("stream answered " + r.statusCode());
        }
        connections++;
        open = r.body();
        Map<String, String> event = new LinkedHashMap<>();
        for (Iterator<String> lines = r.body().iterator(); lines.hasNext() && !closed; ) {
          String line = lines.next();
          if (line.isEmpty()) {
            String data = event.get("data");
            if (data != null) {
              onEvent.accept(parse(data));
              gotEvents = true;
              failures = 0;
            }
            event.clear();
          } else if (!line.startsWith(":")) { // a comment (keep-alive)
            int colon = line.indexOf(':');
            String field = colon < 0 ? line : line.substring(0, colon);
            String value = colon < 0 ? "" : line.substring(colon + 1).stripLeading();
            if (field.equals("retry")) {
              try {
                retry = Duration.ofMillis(Long.parseLong(value));
              } catch (NumberFormatException ignored) {
                // not a number: keep the last one
              }
            } else if (field.equals("data")) {
              event.merge("data", value, (a, b) -> a + "\n" + b);
            }
          }
        }
        if (!closed) {
          throw new IOException("the stream ended");
        }
      } catch (IOException | RuntimeException e) {
        if (closed) {
          return;
        }
        if (onError != null) {
          onError.accept(e);
        }
        failures = gotEvents ? 1 : failures + 1;
      } catch (InterruptedException e) {
        return;
      } finally {
        Stream<String> s = open;
        if (s != null) {
          s.close();
        }
      }
      if (!closed) {
        Duration pause = client.backoff().delay(Math.min(failures, 16), retry);
        try {
          Thread.sleep(pause);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  private LiveEvent parse(String data) {
    try {
      JsonNode n = JSON.readTree(data);
      Map<String, Count> counts = new LinkedHashMap<>();
      n.path("counts")
          .properties()
          .forEach(c -> counts.put(c.getKey(), TallyClient.count(c.getValue())));
      return new LiveEvent(
          Long.parseLong(n.path("post_id").asText()), n.path("snapshot").asBoolean(), counts);
    } catch (IOException e) {
      throw new IllegalStateException("unreadable event: " + e.getMessage(), e);
    }
  }

  /** Stops the subscription: no event is delivered once this returns. */
  @Override
  public void close() {
    closed = true;
    Stream<String> s = open;
    if (s != null) {
      s.close();
    }
    thread.interrupt();
    if (Thread.currentThread() != thread) {
      try {
        thread.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
