package dev.tally.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Gives a node {@code --posts} distinct counters, fast: one increment of {@code --counter} on each
 * post from {@code --first-post} on, sent as batch writes ({@code POST /v1/counts}, {@code --batch}
 * items each) over {@code --connections} concurrent requests. Every post is written exactly once,
 * so afterwards each of these counters is 1 (on a node that had none of them). Prints a JSON
 * report; exits 1 when a write could not be applied.
 *
 * <pre>
 * java -cp tally-bench/target/tally-bench.jar dev.tally.bench.Filler --target 127.0.0.1:18193 \
 *   --posts 1000000 [--first-post 1] [--counter likes] [--batch 1000] [--connections 4] \
 *   [--timeout 30s] [--json fill.json]
 * </pre>
 *
 * A request the node turns away as a whole ({@code 429}, {@code 503}: nothing of it is applied) is
 * sent again, and so are the items answered {@code 503} or {@code 429} within a batch (an item is
 * applied or not on its own): up to 50 attempts each, with a growing pause. Any other failed item,
 * or a request without an answer (its writes are in doubt), stops the fill.
 */
public final class Filler {

  private static final Pattern STATUS = Pattern.compile("\"status\":(\\d+)");
  private static final int ATTEMPTS = 50;

  private Filler() {}

  /** What a fill did: counters written, requests sent (retries included), items sent again. */
  public record Result(long counters, long requests, long retriedItems, double seconds) {}

  /** A fill that failed; the message says which write and why. */
  public static final class FillException extends Exception {
    private static final long serialVersionUID = 1L;

    FillException(String message) {
      super(message);
    }
  }

  /**
   * Writes once to each of {@code posts} posts from {@code firstPost} on at {@code base} (e.g.
   * http://127.0.0.1:8080).
   */
  public static Result fill(
      URI base,
      long firstPost,
      long posts,
      String counter,
      int batch,
      int connections,
      Duration timeout)
      throws FillException, InterruptedException {
    if (posts < 1 || batch < 1 || connections < 1) {
      throw new IllegalArgumentException("posts, batch and connections must be at least 1");
    }
    long batches = (posts + batch - 1) / batch;
    AtomicLong next = new AtomicLong();
    AtomicLong requests = new AtomicLong();
    AtomicLong retried = new AtomicLong();
    AtomicReference<String> failure = new AtomicReference<>();
    URI uri = base.resolve("/v1/counts");
    long t0 = System.nanoTime();
    try (HttpClient http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(timeout)
            .build()) {
      List<Thread> workers = new ArrayList<>();
      for (int c = 0; c < connections; c++) {
        workers.add(
            Thread.ofPlatform()
                .name("fill-" + c)
                .start(
                    () -> {
                      long b;
                      while (failure.get() == null && (b = next.getAndIncrement()) < batches) {
                        long from = firstPost + b * batch;
                        long to = Math.min(firstPost + posts, from + batch);
                        List<Long> todo = new ArrayList<>((int) (to - from));
                        for (long p = from; p < to; p++) {
                          todo.add(p);
                        }
                        try {
                          send(http, uri, counter, todo, timeout, requests, retried);
                        } catch (FillException e) {
                          failure.compareAndSet(null, e.getMessage());
                        } catch (InterruptedException e) {
                          failure.compareAndSet(null, "interrupted");
                          Thread.currentThread().interrupt();
                        }
                      }
                    }));
      }
      for (Thread w : workers) {
        w.join();
      }
    }
    if (failure.get() != null) {
      throw new FillException(failure.get());
    }
    return new Result(posts, requests.get(), retried.get(), (System.nanoTime() - t0) / 1e9);
  }

  /** Writes {@code posts} in one batch, sending again what the node turned away. */
  private static void send(
      HttpClient http,
      URI uri,
      String counter,
      List<Long> posts,
      Duration timeout,
      AtomicLong requests,
      AtomicLong retried)
      throws FillException, InterruptedException {
    List<Long> todo = posts;
    for (int attempt = 1; ; attempt++) {
      HttpResponse<String> resp;
      try {
        requests.incrementAndGet();
        resp =
            http.send(
                HttpRequest.newBuilder(uri)
                    .timeout(timeout)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body(counter, todo)))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        throw new FillException(
            "batch from post "
                + todo.getFirst()
                + " got no answer (its writes are in doubt): "
                + e);
      }
      List<Long> again = new ArrayList<>();
      int status = resp.statusCode();
      if (status == 429 || status == 503) {
        again = todo;
      } else if (status != 200) {
        throw new FillException(
            "batch from post " + todo.getFirst() + " answered " + status + ": " + resp.body());
      } else {
        List<Integer> statuses = new ArrayList<>(todo.size());
        for (Matcher m = STATUS.matcher(resp.body()); m.find(); ) {
          statuses.add(Integer.parseInt(m.group(1)));
        }
        if (statuses.size() != todo.size()) {
          throw new FillException(
              "batch of "
                  + todo.size()
                  + " from post "
                  + todo.getFirst()
                  + " answered "
                  + statuses.size()
                  + " results");
        }
        for (int i = 0; i < statuses.size(); i++) {
          int s = statuses.get(i);
          if (s == 429 || s == 503) {
            again.add(todo.get(i));
          } else if (s != 200) {
            throw new FillException("post " + todo.get(i) + " answered " + s + ": " + resp.body());
          }
        }
      }
      if (again.isEmpty()) {
        return;
      }
      if (attempt >= ATTEMPTS) {
        throw new FillException(
            again.size() + " writes from post " + again.getFirst() + " still turned away");
      }
      retried.addAndGet(again.size());
      todo = again;
      Thread.sleep(Math.min(1000, 20L * attempt));
    }
  }

  /** The batch write body: one increment of {@code counter} per post. */
  static String body(String counter, List<Long> posts) {
    StringBuilder sb = new StringBuilder(16 + posts.size() * (48 + counter.length()));
    sb.append("{\"writes\":[");
    for (int i = 0; i < posts.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append("{\"post_id\":").append(posts.get(i)).append(",\"counter\":\"").append(counter);
      sb.append("\",\"action\":\"increment\"}");
    }
    return sb.append("]}").toString();
  }

  /** The result as one JSON object. */
  public static String json(Result r) {
    return String.format(
        Locale.ROOT,
        "{\"counters\":%d,\"requests\":%d,\"retried_items\":%d,\"seconds\":%.2f,"
            + "\"counters_per_s\":%.0f}",
        r.counters(),
        r.requests(),
        r.retriedItems(),
        r.seconds(),
        r.counters() / Math.max(r.seconds(), 1e-9));
  }

  public static void main(String[] args) throws Exception {
    var o = LoadGenerator.parse(args);
    Result r;
    try {
      r =
          fill(
              URI.create("http://" + o.getOrDefault("target", "127.0.0.1:8080")),
              Long.parseLong(o.getOrDefault("first-post", "1")),
              Long.parseLong(o.getOrDefault("posts", "1000000")),
              o.getOrDefault("counter", "likes"),
              Integer.parseInt(o.getOrDefault("batch", "1000")),
              Integer.parseInt(o.getOrDefault("connections", "4")),
              LoadGenerator.duration(o.getOrDefault("timeout", "30s")));
    } catch (FillException e) {
      System.err.println("fill failed: " + e.getMessage());
      System.exit(1);
      return;
    }
    String json = json(r);
    System.out.println(json);
    if (o.containsKey("json")) {
      Files.writeString(Path.of(o.get("json")), json + "\n");
    }
  }
}
