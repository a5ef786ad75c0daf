package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.tally.testing.NodeProcess;
import dev.tally.testing.TallyClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAPI document a node serves at /openapi.json, against the node itself: real requests,
 * successes and each kind of problem, and every response checked for a documented status and
 * content type, and its body against the documented schema. A response the document does not
 * describe fails the test, so the document cannot drift from the code.
 */
class OpenApiIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static NodeProcess node;
  private static TallyClient client;
  private static JsonNode doc;

  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  static Path dir;

  @BeforeAll
  static void start() throws Exception {
    // a per-post rate limit, so a 429 can be asked for: the writes go to posts of their own, but
    // for the three to post 777 that end in the 429
    node =
        NodeProcess.start(
            dir.resolve("data"),
            dir.resolve("node.log"),
            "--rate-limit-post",
            "0.1",
            "--rate-limit-post-burst",
            "2",
            "--max-batch-items",
            "10");
    client = new TallyClient(node.port());
    HttpResponse<String> r = client.get("/openapi.json");
    assertThat(r.statusCode()).isEqualTo(200);
    doc = JSON.readTree(r.body());
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  /** One request and what the test expects of it (the document must then describe it). */
  private record Case(String method, String path, String body, int status, String... headers) {}

  @Test
  void everyAnswer_isDescribedByTheDocument() throws Exception {
    String big = "{\"action\":\"increment\",\"pad\":\"" + "x".repeat(5000) + "\"}";
    StringBuilder tooMany = new StringBuilder("{\"writes\":[");
    for (int i = 0; i < 11; i++) {
      tooMany
          .append(i == 0 ? "" : ",")
          .append("{\"post_id\":1,\"counter\":\"likes\",\"action\":\"increment\"}");
    }
    tooMany.append("]}");
    List<Case> cases =
        List.of(
            new Case("PUT", "/v1/812/likes", "{\"action\":\"increment\"}", 200),
            new Case(
                "PUT",
                "/v1/814/likes",
                "{\"action\":\"increment\"}",
                200,
                "Idempotency-Key",
                "k-1"),
            new Case(
                "PUT",
                "/v1/814/likes",
                "{\"action\":\"increment\"}",
                200,
                "Idempotency-Key",
                "k-1"),
            new Case(
                "PUT",
                "/v1/813/likes",
                "{\"action\":\"decrement\"}",
                422,
                "Idempotency-Key",
                "k-1"),
            new Case("GET", "/v1/812/likes", null, 200),
            new Case("GET", "/v1/999/views", null, 200),
            new Case("GET", "/v1/counts?posts=812,813&counters=likes,views", null, 200),
            new Case("POST", "/v1/counts/query", "{\"posts\":[812,\"813\"]}", 200),
            new Case(
                "POST",
                "/v1/counts",
                "{\"writes\":[{\"post_id\":815,\"counter\":\"likes\",\"action\":\"increment\"},"
                    + "{\"post_id\":\"9\",\"counter\":\"nosuch\",\"action\":\"increment\"}]}",
                200),
            new Case("GET", "/v1/812/live", null, 200),
            new Case("POST", "/v1/812/heartbeat", "{\"viewer_id\":\"v-1\"}", 200),
            new Case("POST", "/v1/812/heartbeat", "", 200),
            new Case("GET", "/health/live", null, 200),
            new Case("GET", "/health/ready", null, 200),
            new Case("GET", "/metrics", null, 200),
            new Case("GET", "/openapi.json", null, 200),
            new Case("GET", "/posts/812", null, 200),
            // problems
            new Case("GET", "/v1/0/likes", null, 400),
            new Case("PUT", "/v1/816/likes", "{\"action\":\"double\"}", 400),
            new Case("PUT", "/v1/817/likes", "{nope", 400),
            new Case("GET", "/v1/812/nosuch", null, 404),
            new Case("DELETE", "/v1/812/likes", null, 405),
            new Case("PUT", "/health/ready", "{}", 405),
            new Case("PUT", "/v1/818/likes", big, 413),
            new Case("POST", "/v1/counts", tooMany.toString(), 413),
            new Case("PUT", "/v1/819/likes", "action=increment", 415, "Content-Type", "text/plain"),
            new Case("POST", "/v1/812/heartbeat", "{\"viewer_id\":\"no spaces\"}", 400),
            new Case("GET", "/v1/counts?posts=812,812", null, 400),
            new Case("PUT", "/v1/777/likes", "{\"action\":\"increment\"}", 200),
            new Case("PUT", "/v1/777/likes", "{\"action\":\"increment\"}", 200),
            new Case("PUT", "/v1/777/likes", "{\"action\":\"increment\"}", 429));
    List<String> failures = new ArrayList<>();
    for (Case c : cases) {
      HttpResponse<String> r = client.send(c.method(), c.path(), c.body(), c.headers());
      String what = c.method() + " " + c.path() + " → " + r.statusCode();
      if (r.statusCode() != c.status()) {
        failures.add(what + ": expected " + c.status() + " (" + r.body() + ")");
        continue;
      }
      failures.addAll(check(c.method(), c.path(), r).stream().map(f -> what + ": " + f).toList());
    }
    assertThat(failures).isEmpty();
  }

  @Test
  void theDocumentIsOpenApi31_andItsSchemasAreValidJsonSchema() {
    assertThat(doc.get("openapi").asText()).isEqualTo("3.1.0");
    for (Iterator<Map.Entry<String, JsonNode>> it = doc.at("/components/schemas").fields();
        it.hasNext(); ) {
      String name = it.next().getKey();
      schema(JSON.createObjectNode().put("$ref", "#/components/schemas/" + name)); // loads
    }
  }

  /** What is wrong with {@code r} as an answer to {@code method path}, by the document. */
  private static List<String> check(String method, String path, HttpResponse<String> r)
      throws Exception {
    JsonNode op = operation(method, path.replaceFirst("\\?.*", ""));
    if (op == null) {
      return List.of("no operation in the document");
    }
    JsonNode response = op.at("/responses/" + r.statusCode());
    if (response.isMissingNode()) {
      return List.of("status not documented for the operation");
    }
    response = resolve(response);
    JsonNode content = response.get("content");
    if (content == null) {
      return r.body().isEmpty() ? List.of() : List.of("a body where the document has none");
    }
    String type = r.headers().firstValue("Content-Type").orElse("").replaceFirst(";.*", "").trim();
    JsonNode media = content.get(type);
    if (media == null) {
      return List.of(
          "content type " + type + " not documented (" + content.fieldNames().next() + ")");
    }
    if (!type.endsWith("json")) {
      return List.of();
    }
    Set<ValidationMessage> errors = schema(media.get("schema")).validate(JSON.readTree(r.body()));
    return errors.stream().map(e -> e.getMessage() + " in " + r.body()).toList();
  }

  /** The operation whose path template matches {@code path}, or null. */
  private static JsonNode operation(String method, String path) {
    JsonNode best = null;
    int bestLiteral = -1;
    for (Iterator<Map.Entry<String, JsonNode>> it = doc.get("paths").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String regex = "^" + e.getKey().replaceAll("\\{[^}]+}", "[^/]+") + "$";
      if (Pattern.matches(regex, path)) {
        int literal = e.getKey().replaceAll("\\{[^}]+}", "").length(); // the most specific wins
        JsonNode op = e.getValue().get(method.toLowerCase(java.util.Locale.ROOT));
        if (literal > bestLiteral) {
          bestLiteral = literal;
          best = op == null ? methodNotAllowed() : op;
        }
      }
    }
    return best;
  }

  /** A known path with another method: the document's shared 405 answer. */
  private static JsonNode methodNotAllowed() {
    ObjectNode op = JSON.createObjectNode();
    op.putObject("responses")
        .putObject("405")
        .put("$ref", "#/components/responses/MethodNotAllowed");
    return op;
  }

  private static JsonNode resolve(JsonNode n) {
    while (n.has("$ref")) {
      n = doc.at(n.get("$ref").asText().substring(1));
    }
    return n;
  }

  /** A JSON Schema 2020-12 validator for {@code schema}, its references into the document's. */
  private static JsonSchema schema(JsonNode schema) {
    ObjectNode root = JSON.createObjectNode();
    root.put("$schema", "https://json-schema.org/draft/2020-12/schema");
    root.set("components", doc.get("components"));
    root.setAll((ObjectNode) schema.deepCopy());
    return JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012).getSchema(root);
  }
}
