package dev.tally.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class HttpFloorTest {

  @Test
  void answersWritesAfterTheirBodyAndReadsAtOnce_withANodesAnswerShape() throws Exception {
    try (HttpFloor floor = HttpFloor.start("127.0.0.1", 0);
        HttpClient client = HttpClient.newHttpClient()) {
      URI uri = URI.create("http://127.0.0.1:" + floor.port() + "/v1/812/likes");
      HttpResponse<String> put =
          client.send(
              HttpRequest.newBuilder(uri)
                  .PUT(HttpRequest.BodyPublishers.ofString("{\"action\":\"increment\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> get =
          client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
      for (HttpResponse<String> r : java.util.List.of(put, get)) {
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(r.body()).isEqualTo("{\"count\":1,\"updated_at\":\"2026-11-23T06:09:06Z\"}");
      }
    }
  }
}
