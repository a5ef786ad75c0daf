package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The column families' options as RocksDB took them: read back from the OPTIONS file it wrote. */
class StoreLayoutTest {

  @TempDir Path tmp;

  @Test
  void counters_areUpdatedInPlace_inAHashedMemtable_underAFewLockStripes() throws Exception {
    Map<String, String> counters = familyOptions(openAndReadOptions(), "counters");

    assertThat(counters)
        .containsEntry("inplace_update_support", "true")
        .containsEntry("inplace_update_num_locks", "64")
        .hasEntrySatisfying(
            "memtable_factory", v -> assertThat(v).contains("HashLinkListRepFactory"));
  }

  @Test
  void idempotencyKeys_sitInAHashedMemtable_andTheExpiryIndexInASkipList() throws Exception {
    List<String> options = openAndReadOptions();

    assertThat(familyOptions(options, "idempotency"))
        .containsEntry("inplace_update_support", "false")
        .hasEntrySatisfying(
            "memtable_factory", v -> assertThat(v).contains("HashLinkListRepFactory"));
    assertThat(familyOptions(options, "idempotency-expiry"))
        .hasEntrySatisfying("memtable_factory", v -> assertThat(v).contains("SkipListFactory"));
  }

  /** Opens and closes a store in a fresh directory; the lines of the newest OPTIONS file. */
  private List<String> openAndReadOptions() throws Exception {
    Path dir = tmp.resolve("db");
    new StoreDb(dir, new StoreLayout(8 << 20), () -> {}).close();
    try (Stream<Path> files = Files.list(dir)) {
      Path newest =
          files
              .filter(p -> p.getFileName().toString().startsWith("OPTIONS-"))
              .max((a, b) -> optionsNumber(a) - optionsNumber(b))
              .orElseThrow();
      return Files.readAllLines(newest);
    }
  }

  private static int optionsNumber(Path p) {
    return Integer.parseInt(p.getFileName().toString().substring("OPTIONS-".length()));
  }

  /** The {@code key=value} lines of one column family's {@code [CFOptions "name"]} section. */
  private static Map<String, String> familyOptions(List<String> lines, String family)
      throws IOException {
    Map<String, String> out = new HashMap<>();
    boolean in = false;
    for (String line : lines) {
      String t = line.trim();
      if (t.startsWith("[")) {
        in = t.equals("[CFOptions \"" + family + "\"]");
        continue;
      }
      int eq = t.indexOf('=');
      if (in && eq > 0) {
        out.put(t.substring(0, eq), t.substring(eq + 1));
      }
    }
    if (out.isEmpty()) {
      throw new IOException("no options for column family " + family);
    }
    return out;
  }
}
