package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.counter.Slot;
import io.lettuce.core.cluster.SlotHash;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RedisSlotsTest {

  @Test
  void key_isTheBucketOfThePost_soAPostsCountersShareOneKey() {
    CounterId likes = new CounterId(812, 1);
    CounterId views = new CounterId(812, 2);
    assertThat(RedisSlots.key(likes, 65_536)).isEqualTo(RedisSlots.key(views, 65_536));
    assertThat(RedisSlots.key(likes, 65_536)).matches("t:\\{[0-9a-z]+\\}");
    assertThat(RedisSlots.key(likes, 1)).isEqualTo("t:{0}");
    // sequential post ids spread over the buckets
    Set<String> keys = new HashSet<>();
    for (long post = 1; post <= 10_000; post++) {
      keys.add(RedisSlots.key(new CounterId(post, 1), 100));
    }
    assertThat(keys).hasSize(100);
  }

  @Test
  void bucketKey_isTheBucketInBase36InATag_soItsSlotIsTheTags() {
    // the names buckets have had in Redis since the first layout, and the cluster slots they hash
    // to (Redis's CRC16 of the tag): a change would orphan every record
    Map<Integer, String> names =
        Map.of(
            0,
            "t:{0}",
            35,
            "t:{z}",
            36,
            "t:{10}",
            46_656,
            "t:{1000}",
            65_535,
            "t:{1ekf}",
            (1 << 24) - 1,
            "t:{9zldr}");
    Map<Integer, Integer> slots =
        Map.of(
            0, 13_907, 35, 8_157, 36, 247, 46_656, 11_326, 65_535, 12_662, (1 << 24) - 1, 14_717);
    for (Map.Entry<Integer, String> e : names.entrySet()) {
      assertThat(RedisSlots.bucketKey(e.getKey())).isEqualTo(e.getValue());
      assertThat(SlotHash.getSlot(RedisSlots.bucketKey(e.getKey())))
          .isEqualTo(slots.get(e.getKey()));
    }
  }

  @Test
  void field_isTheCountersNineBytes() {
    String f = RedisSlots.field(new CounterId(0x0102030405060708L, 0xFF));
    assertThat(f).hasSize(9);
    assertThat(f.charAt(0)).isEqualTo((char) 1);
    assertThat(f.charAt(7)).isEqualTo((char) 8);
    assertThat(f.charAt(8)).isEqualTo((char) 0xFF);
  }

  @Test
  void values_roundTrip_andSumEveryWritersPartIntoTheTotal() {
    Map<Long, Slot> writers = new LinkedHashMap<>();
    writers.put(7L, new Slot(300, 2));
    writers.put(-1L, new Slot(RedisSlots.MAX_COMPONENT, RedisSlots.MAX_COMPONENT - 5));
    writers.put(0x2AL, Slot.ZERO);
    long second = 1_795_000_000L;
    String stored = RedisSlots.encode(second, writers);
    for (int i = 0; i < stored.length(); i++) {
      assertThat((int) stored.charAt(i)).as("one byte per char").isLessThan(256);
    }
    StoredCounter v = RedisSlots.decode(stored);
    assertThat(v.total()).isEqualTo(298 + 5);
    assertThat(v.updatedAtSecond()).isEqualTo(second);
    assertThat(v.writers()).isEqualTo(3);
    assertThat(v.slotOf(7)).isEqualTo(new Slot(300, 2));
    assertThat(v.slotOf(-1))
        .isEqualTo(new Slot(RedisSlots.MAX_COMPONENT, RedisSlots.MAX_COMPONENT - 5));
    assertThat(v.slotOf(99)).isEqualTo(Slot.ZERO);
  }

  @Test
  void oneWriterWithSmallCounts_costsAFewBytesOfValue() {
    long second = 1_795_000_000L; // 2026: 4 bytes of time until 2028
    assertThat(RedisSlots.encode(second, Map.of(7L, new Slot(100, 0)))).hasSize(14);
    assertThat(RedisSlots.encode(second, Map.of(7L, new Slot(1_000_000, 12)))).hasSize(16);
  }

  @Test
  void writerNames_areHex() {
    assertThat(RedisSlots.writerField(29)).isEqualTo("1d");
    assertThat(RedisSlots.writerField(-1)).isEqualTo("ffffffffffffffff");
    assertThat(RedisSlots.writerBytes(-1)).hasSize(8);
  }

  @Test
  void script_isBundledAndItsShaIsTheOneRedisComputes() {
    assertThat(RedisSlots.MERGE.text()).contains("HSET");
    assertThat(LuaScript.sha1Hex("")).isEqualTo("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assertThat(RedisSlots.MERGE.sha()).hasSize(40);
  }
}
