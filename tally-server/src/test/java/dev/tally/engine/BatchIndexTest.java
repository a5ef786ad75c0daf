package dev.tally.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class BatchIndexTest {

  private record Key(long post, int code) {}

  @Test
  void answersAsAMapWould_overBatchesOfEverySize_andForgetsEachBatch() {
    SplittableRandom random = new SplittableRandom(20261206L);
    BatchIndex index = new BatchIndex(4);
    for (int b = 0; b < 300; b++) {
      Map<Key, Integer> model = new HashMap<>();
      int n = b % 50 == 0 ? 5_000 : random.nextInt(200); // some batches force growth
      for (int i = 0; i < n; i++) {
        // few distinct posts, several codes, extreme ids: collisions and repeats
        long post =
            random.nextInt(8) == 0 ? Long.MAX_VALUE - random.nextInt(3) : random.nextInt(n + 1);
        Key k = new Key(post, random.nextInt(4));
        Integer want = model.get(k);
        assertThat(index.get(k.post(), k.code())).isEqualTo(want == null ? -1 : want);
        if (want == null) {
          index.put(k.post(), k.code(), model.size());
          model.put(k, model.size());
        }
      }
      assertThat(index.size()).isEqualTo(model.size());
      for (Map.Entry<Key, Integer> e : model.entrySet()) {
        assertThat(index.get(e.getKey().post(), e.getKey().code())).isEqualTo(e.getValue());
      }
      index.clear();
      for (Key k : model.keySet()) {
        assertThat(index.get(k.post(), k.code())).isEqualTo(-1);
      }
    }
  }
}
