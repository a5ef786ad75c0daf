package dev.tally.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.counter.CounterId;
import dev.tally.counter.Slot;
import org.junit.jupiter.api.Test;

class RedisSlotsTest {

  @Test
  void key_tagsThePostSoItsCountersShareAClusterSlot() {
    assertThat(RedisSlots.key(new CounterId(812, 1))).isEqualTo("t:{mk}:1");
    assertThat(RedisSlots.key(new CounterId(812, 255))).isEqualTo("t:{mk}:73");
    assertThat(RedisSlots.key(new CounterId(Long.MAX_VALUE, 2))).isEqualTo("t:{1y2p0ij32e8e7}:2");
  }

  @Test
  void writerField_isHexSoItNeverClashesWithTheTotalField() {
    assertThat(RedisSlots.writerField(0)).isEqualTo("0");
    assertThat(RedisSlots.writerField(29)).isEqualTo("1d");
    assertThat(RedisSlots.writerField(-1)).isEqualTo("ffffffffffffffff");
    for (long w = 0; w < 100_000; w++) {
      assertThat(RedisSlots.writerField(w)).isNotEqualTo(RedisSlots.TOTAL_FIELD);
    }
  }

  @Test
  void encode_dropsAZeroN() {
    assertThat(RedisSlots.encode(new Slot(42, 0))).isEqualTo("42");
    assertThat(RedisSlots.encode(new Slot(42, 7))).isEqualTo("42:7");
    assertThat(RedisSlots.encode(Slot.ZERO)).isEqualTo("0");
  }

  @Test
  void script_isBundledAndItsShaIsTheOneRedisComputes() {
    assertThat(RedisSlots.SCRIPT).contains("HINCRBY");
    assertThat(RedisSlots.sha1Hex("")).isEqualTo("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assertThat(RedisSlots.SCRIPT_SHA).hasSize(40);
  }
}
