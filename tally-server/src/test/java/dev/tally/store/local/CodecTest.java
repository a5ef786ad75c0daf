package dev.tally.store.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tally.counter.CounterId;
import dev.tally.counter.CounterValue;
import dev.tally.counter.Slot;
import dev.tally.store.IdempotencyRecord;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

class CodecTest {

  @Property
  void counterValue_roundTrips(
      @ForAll @LongRange(min = 0) long p,
      @ForAll @LongRange(min = 0) long n,
      @ForAll @LongRange(min = 0) long at) {
    CounterValue v = new CounterValue(new Slot(p, n), at);
    assertThat(Codec.counterValue(Codec.counterValue(v))).isEqualTo(v);
  }

  @Property
  void idempotencyRecord_roundTrips(
      @ForAll @LongRange(min = 1) long post,
      @ForAll @IntRange(min = 1, max = 255) int code,
      @ForAll long delta,
      @ForAll long count,
      @ForAll @LongRange(min = 0) long at) {
    IdempotencyRecord r =
        new IdempotencyRecord(new CounterId(post, code), delta, count, at, at + 86_400);
    assertThat(Codec.idempotencyRecord(Codec.idempotencyRecord(r))).isEqualTo(r);
  }

  @Test
  void counterValue_typicalCounterIsSmall() {
    CounterValue v = new CounterValue(new Slot(812, 3), 1_900_000_000L);
    assertThat(Codec.counterValue(v)).hasSizeLessThanOrEqualTo(9);
  }

  @Test
  void counterValue_corruptBytesAreRejected() {
    assertThatThrownBy(() -> Codec.counterValue(new byte[] {(byte) 0x80}))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> Codec.counterValue(new byte[] {1, 1, 1, 1}))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void expiryKey_sortsByTimeThenKey() {
    byte[] k = Codec.keyBytes("abc");
    byte[] early = Codec.expiryKey(100, k);
    byte[] late = Codec.expiryKey(1L << 40, Codec.keyBytes("a"));
    assertThat(java.util.Arrays.compareUnsigned(early, late)).isNegative();
    assertThat(Codec.expiryOf(early)).isEqualTo(100);
    assertThat(Codec.keyOfExpiry(early)).isEqualTo(k);
  }

  @Test
  void keyBytes_putAHashPrefixFrom0x80_beforeTheKey_whichNeverChanges() {
    assertThat(Codec.keyBytes("k")).containsExactly(0x81, 0xeb, 0x0a, 'k');
    byte[] uuid = Codec.keyBytes("550e8400-e29b-41d4-a716-446655440000");
    assertThat(java.util.Arrays.copyOf(uuid, 3)).containsExactly(0x82, 0xe2, 0xa2);
    assertThat(new String(uuid, 3, uuid.length - 3, java.nio.charset.StandardCharsets.US_ASCII))
        .isEqualTo("550e8400-e29b-41d4-a716-446655440000");
    assertThat(Codec.isLegacyKey(Codec.keyBytes("k"))).isFalse();
    assertThat(Codec.isLegacyKey(Codec.legacyKeyBytes("k"))).isTrue();
    assertThat(Codec.legacyKeyBytes("k")).containsExactly('k');
  }

  @Test
  void keyBytes_spreadKeysEvenlyOverThePrefixes() {
    int[] perPrefix = new int[Codec.KEY_PREFIXES];
    for (int i = 0; i < 200_000; i++) {
      byte[] b = Codec.keyBytes("req-" + i);
      perPrefix[((b[0] & 0x7F) << 16) | ((b[1] & 0xFF) << 8) | (b[2] & 0xFF)]++;
    }
    // 0.76 keys a prefix: about 53 % of the prefixes taken, by a few keys each at most
    assertThat(java.util.Arrays.stream(perPrefix).filter(n -> n > 0).count())
        .isBetween(135_000L, 145_000L);
    assertThat(java.util.Arrays.stream(perPrefix).max().orElseThrow()).isLessThan(10);
  }

  @Test
  void expiryValue_namesKeysWithoutTheirPrefix_andGivesItBack() {
    Codec.ExpiryKeys more = new Codec.ExpiryKeys(1);
    byte[] a = Codec.keyBytes("a");
    byte[] b = Codec.keyBytes("b".repeat(255));
    more.add(a);
    more.add(b);
    byte[] value = more.toBytes();
    assertThat(value).hasSize(1 + 1 + 1 + 255);
    List<byte[]> keys = new ArrayList<>();
    Codec.moreKeysOfExpiry(value, false, keys);
    assertThat(keys).containsExactly(a, b);

    // an entry of the earlier form names bare keys, and gets them so
    keys.clear();
    Codec.moreKeysOfExpiry(new byte[] {1, 'x', 2, 'y', 'z'}, true, keys);
    assertThat(keys).containsExactly(new byte[] {'x'}, new byte[] {'y', 'z'});
    assertThatThrownBy(() -> Codec.moreKeysOfExpiry(new byte[] {3, 'x'}, false, new ArrayList<>()))
        .isInstanceOf(IllegalStateException.class);
  }
}
