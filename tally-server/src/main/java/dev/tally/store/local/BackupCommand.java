package dev.tally.store.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * {@code tally backup [--url URL] [--token TOKEN]}: asks the node serving at {@code URL} (default
 * {@code http://127.0.0.1:8080}, or {@code TALLY_URL}) for an online backup ({@code POST
 * /admin/backup}; the node needs {@code --backup-dir}) and prints the backup's directory. {@code
 * --token} (or {@code TALLY_TOKEN}) is a bearer token with write scope, for nodes with {@code
 * --auth}. Not thread-safe; runs once, from main.
 */
public final class BackupCommand {

  /** The command's name on the command line. */
  public static final String NAME = "backup";

  private BackupCommand() {}

  /**
   * Runs the command.
   *
   * @return the exit code: 0 done, 1 the node refused or failed, 2 bad usage
   */
  public static int run(String[] args, Map<String, String> env, PrintStream out, PrintStream err) {
    String url = env.getOrDefault("TALLY_URL", "http://127.0.0.1:8080");
    String token = env.get("TALLY_TOKEN");
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if ((a.equals("--url") || a.equals("--token")) && i + 1 < args.length) {
        if (a.equals("--url")) {
          url = args[++i];
        } else {
          token = args[++i];
        }
      } else if (a.startsWith("--url=")) {
        url = a.substring("--url=".length());
      } else if (a.startsWith("--token=")) {
        token = a.substring("--token=".length());
      } else {
        err.println(
            "tally backup: unknown argument "
                + a
                + "\nusage: tally backup [--url http://127.0.0.1:8080] [--token TOKEN]");
        return 2;
      }
    }
    URI uri;
    try {
      uri = URI.create(url.replaceAll("/+$", "") + "/admin/backup");
      if (uri.getScheme() == null || uri.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
    } catch (IllegalArgumentException e) {
      err.println("tally backup: bad --url " + url + ": " + e.getMessage());
      return 2;
    }
    HttpRequest.Builder request =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofMinutes(10)) // a large store's copy when it cannot hard-link
            .POST(HttpRequest.BodyPublishers.noBody());
    if (token != null && !token.isEmpty()) {
      request.header("Authorization", "Bearer " + token);
    }
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      HttpResponse<String> r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
      JsonNode body = new ObjectMapper().readTree(r.body().isEmpty() ? "{}" : r.body());
      if (r.statusCode() == 200) {
        out.println(body.path("path").asText());
        return 0;
      }
      err.println(
          "tally backup: "
              + r.statusCode()
              + " "
              + body.path("detail").asText(body.path("title").asText("no detail")));
      return 1;
    } catch (IOException e) {
      err.println("tally backup: cannot reach " + uri + ": " + e);
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
  }
}
