package dev.tally.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Server-Sent Events client over the JDK HTTP client: reads a stream line by line on its own
 * thread and queues each event (bounded). Thread-safe; {@link #close} ends the connection.
 */
public final class SseClient implements AutoCloseable {

  /** One event as received. */
  public record Event(String id, String data, long receivedNanos) {

    /** The count of {@code counter} in this event, or null when the event does not carry it. */
    public Long count(String counter) {
      Matcher m =
          Pattern.compile("\"" + Pattern.quote(counter) + "\":\\{\"count\":(-?\\d+)").matcher(data);
      return m.find() ? Long.parseLong(m.group(1)) : null;
    }
  }

  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final BlockingQueue<Event> events = new ArrayBlockingQueue<>(100_000);
  private final HttpResponse<Stream<String>> response;
  private final Thread reader;
  private volatile int keepAlives;

  private SseClient(String url) throws IOException, InterruptedException {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(url)).header("Accept", "text/event-stream").build();
    this.response = http.send(req, HttpResponse.BodyHandlers.ofLines());
    this.reader = Thread.ofPlatform().daemon().name("sse-client").start(this::read);
  }

  /** Opens {@code GET /v1/{post}/stream} and returns once the response headers are in. */
  public static SseClient open(int port, long post) throws IOException, InterruptedException {
    return new SseClient("http://127.0.0.1:" + port + "/v1/" + post + "/stream");
  }

  public HttpResponse<Stream<String>> response() {
    return response;
  }

  private void read() {
    String id = null;
    StringBuilder data = new StringBuilder();
    try {
      Iterator<String> it = response.body().iterator();
      while (it.hasNext()) {
        String line = it.next();
        if (line.isEmpty()) {
          if (!data.isEmpty()) {
            events.offer(new Event(id, data.toString(), System.nanoTime()));
          }
          data.setLength(0);
        } else if (line.startsWith(":")) {
          keepAlives++;
        } else if (line.startsWith("id: ")) {
          id = line.substring(4);
        } else if (line.startsWith("data: ")) {
          data.append(line, 6, line.length());
        }
      }
    } catch (UncheckedIOException | IllegalStateException e) {
      // closed
    }
  }

  /** The next event, or null after {@code timeout}. */
  public Event next(Duration timeout) throws InterruptedException {
    return events.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The first event (skipping others) that matches, or null after {@code timeout}. */
  public Event await(Predicate<Event> match, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return null;
      }
      Event e = events.poll(left, TimeUnit.NANOSECONDS);
      if (e != null && match.test(e)) {
        return e;
      }
    }
  }

  /** The first event where {@code counter} has {@code value}, or null after {@code timeout}. */
  public Event awaitCount(String counter, long value, Duration timeout)
      throws InterruptedException {
    return await(e -> Long.valueOf(value).equals(e.count(counter)), timeout);
  }

  public int keepAlives() {
    return keepAlives;
  }

  public boolean ended() {
    return !reader.isAlive();
  }

  @Override
  public void close() {
    http.shutdownNow();
    try {
      response.body().close();
    } catch (RuntimeException e) {
      // already closed
    }
  }
}
