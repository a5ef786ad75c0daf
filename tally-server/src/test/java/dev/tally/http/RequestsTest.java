package dev.tally.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterNames;
import dev.tally.error.ErrorKind;
import dev.tally.error.TallyException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RequestsTest {

  private static final CounterNames NAMES = CounterNames.of(Map.of("likes", 1, "views", 2));

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static AbstractThrowableAssert<?, ? extends Throwable> assertKind(
      Runnable r, ErrorKind kind) {
    return assertThatThrownBy(r::run)
        .isInstanceOf(TallyException.class)
        .matches(e -> ((TallyException) e).kind() == kind, "kind " + kind);
  }

  @Test
  void postId_acceptsPositive64BitDecimals() {
    assertThat(Requests.postId("1")).isEqualTo(1);
    assertThat(Requests.postId("9223372036854775807")).isEqualTo(Long.MAX_VALUE);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "0",
        "-1",
        "+1",
        "01",
        "1.0",
        "1e3",
        "abc",
        "9223372036854775808",
        "99999999999999999999",
        " 1"
      })
  void postId_rejectsEverythingElse(String s) {
    assertKind(() -> Requests.postId(s), ErrorKind.BAD_REQUEST)
        .hasMessageNotContaining(s.isBlank() ? "\u0000" : s);
  }

  @Test
  void action_parsesIncrementAndDecrement() {
    assertThat(Requests.action(b("{\"action\":\"increment\"}"))).isEqualTo(1);
    assertThat(Requests.action(b(" { \"action\" : \"decrement\" } "))).isEqualTo(-1);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "{}",
        "[]",
        "null",
        "{action: \"increment\"}",
        "{\"action\":\"Increment\"}",
        "{\"action\":1}",
        "{\"action\":\"increment\",\"extra\":1}",
        "{\"action\":\"increment\",\"action\":\"decrement\"}",
        "{\"action\":\"increment\"}{}",
        "{\"action\":\"increment\"",
        "{\"action\":[[[[[[[[[[[[]]]]]]]]]]]]}"
      })
  void action_rejectsMalformedBodies(String body) {
    assertKind(() -> Requests.action(b(body)), ErrorKind.BAD_REQUEST);
  }

  @Test
  void idempotencyKey_mustBeVisibleAscii() {
    assertThat(Requests.idempotencyKey(null)).isNull();
    assertThat(Requests.idempotencyKey("a-B_9.~")).isEqualTo("a-B_9.~");
    assertKind(() -> Requests.idempotencyKey(""), ErrorKind.BAD_REQUEST);
    assertKind(() -> Requests.idempotencyKey("has space"), ErrorKind.BAD_REQUEST);
    assertKind(() -> Requests.idempotencyKey("ü"), ErrorKind.BAD_REQUEST);
    assertKind(() -> Requests.idempotencyKey("k".repeat(256)), ErrorKind.BAD_REQUEST);
  }

  @Test
  void counterCode_unknownNameIsNotFound_withoutEchoingIt() {
    assertKind(() -> Requests.counterCode(NAMES, "<script>"), ErrorKind.NOT_FOUND)
        .hasMessageNotContaining("<script>")
        .hasMessageContaining("likes")
        .hasMessageContaining("views");
  }

  @Test
  void batchWrites_reportsInvalidItemsOneByOne() {
    List<Requests.Item> items =
        Requests.batchWrites(
            b(
                "{\"writes\":[{\"post_id\":1,\"counter\":\"likes\",\"action\":\"increment\",\"idempotency_key\":\"k\"},"
                    + "{\"post_id\":\"2\",\"counter\":\"nope\",\"action\":\"increment\"},"
                    + "{\"post_id\":0,\"counter\":\"likes\",\"action\":\"increment\"},"
                    + "{\"post_id\":3,\"counter\":\"views\",\"action\":\"decrement\",\"x\":{\"y\":1}},"
                    + "{\"post_id\":[1,2],\"counter\":\"views\",\"action\":\"twice\"},"
                    + "{\"post_id\":4,\"counter\":\"views\",\"action\":\"increment\"}]}"),
            NAMES,
            10);
    assertThat(items).hasSize(6);
    assertThat(items.get(4).error().kind()).isEqualTo(ErrorKind.BAD_REQUEST);
    assertThat(items.get(5).write().counter().postId()).isEqualTo(4);
    assertThat(items.get(0).write().idempotencyKey()).isEqualTo("k");
    assertThat(items.get(1).error().kind()).isEqualTo(ErrorKind.NOT_FOUND);
    assertThat(items.get(2).error().kind()).isEqualTo(ErrorKind.BAD_REQUEST);
    assertThat(items.get(3).error().kind()).isEqualTo(ErrorKind.BAD_REQUEST);
  }

  @Test
  void batchWrites_aDuplicateFieldFailsItsItem_andADuplicateWritesFieldTheBody() {
    List<Requests.Item> items =
        Requests.batchWrites(
            b(
                "{\"writes\":[{\"post_id\":1,\"post_id\":2,\"counter\":\"likes\",\"action\":\"increment\"},"
                    + "{\"post_id\":1,\"counter\":\"likes\",\"action\":\"increment\",\"action\":\"decrement\"},"
                    + "{\"post_id\":3,\"counter\":\"likes\",\"action\":\"increment\"}]}"),
            NAMES,
            10);
    assertThat(items.get(0).error().kind()).isEqualTo(ErrorKind.BAD_REQUEST);
    assertThat(items.get(0).error().getMessage()).contains("duplicate field \"post_id\"");
    assertThat(items.get(1).error().getMessage()).contains("duplicate field \"action\"");
    assertThat(items.get(2).write().counter().postId()).isEqualTo(3);
    String item = "{\"post_id\":1,\"counter\":\"likes\",\"action\":\"increment\"}";
    assertKind(
        () ->
            Requests.batchWrites(
                b("{\"writes\":[" + item + "],\"writes\":[" + item + "]}"), NAMES, 10),
        ErrorKind.BAD_REQUEST);
  }

  @Test
  void batchWrites_overTheItemLimitIsTooLarge() {
    String item = "{\"post_id\":1,\"counter\":\"likes\",\"action\":\"increment\"}";
    String body = "{\"writes\":[" + String.join(",", java.util.Collections.nCopies(3, item)) + "]}";
    assertKind(() -> Requests.batchWrites(b(body), NAMES, 2), ErrorKind.TOO_LARGE);
  }

  @Test
  void readQuery_defaultsToEveryCounter_andBoundsTheProduct() {
    Requests.ReadQuery q = Requests.readQuery("5,6", null, NAMES, 10);
    assertThat(q.posts()).containsExactly(5, 6);
    assertThat(q.codes()).hasSize(2);
    assertKind(() -> Requests.readQuery("1,2,3,4,5,6", null, NAMES, 10), ErrorKind.TOO_LARGE);
    assertKind(() -> Requests.readQuery("1,1", "likes", NAMES, 10), ErrorKind.BAD_REQUEST);
    assertKind(() -> Requests.readQuery(null, null, NAMES, 10), ErrorKind.BAD_REQUEST);
    Requests.ReadQuery body =
        Requests.readQuery(b("{\"posts\":[7,\"8\"],\"counters\":[\"views\"]}"), NAMES, 10);
    assertThat(body.posts()).containsExactly(7, 8);
    assertThat(body.codes()).containsExactly(2);
  }
}
