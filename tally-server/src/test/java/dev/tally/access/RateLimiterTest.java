package dev.tally.access;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RateLimiterTest {

  private static final long S = 1_000_000_000L;

  @Test
  void burstIsAllowed_thenTheSustainedRate() {
    RateLimiter<String> r = new RateLimiter<>(10, 5, 1000); // 10/s, burst 5
    long t = 100 * S;
    for (int i = 0; i < 5; i++) {
      assertThat(r.tryAcquire("c", 1, t)).isZero();
    }
    long wait = r.tryAcquire("c", 1, t);
    assertThat(wait).isEqualTo(S / 10);
    assertThat(r.tryAcquire("c", 1, t + wait)).isZero();
    assertThat(r.tryAcquire("c", 1, t + wait)).isPositive();
  }

  @Test
  void keysAreIndependent() {
    RateLimiter<String> r = new RateLimiter<>(1, 1, 1000);
    assertThat(r.tryAcquire("a", 1, S)).isZero();
    assertThat(r.tryAcquire("a", 1, S)).isPositive();
    assertThat(r.tryAcquire("b", 1, S)).isZero();
  }

  @Test
  void batchCostsOneUnitPerItem_andOverBurstIsRefused() {
    RateLimiter<String> r = new RateLimiter<>(100, 50, 1000);
    assertThat(r.tryAcquire("c", 40, S)).isZero();
    assertThat(r.tryAcquire("c", 20, S)).isPositive();
    assertThat(r.tryAcquire("c", 10, S)).isZero();
  }

  @Test
  void idleKeysRefill() {
    RateLimiter<String> r = new RateLimiter<>(2, 2, 1000);
    assertThat(r.tryAcquire("c", 2, S)).isZero();
    assertThat(r.tryAcquire("c", 1, S)).isPositive();
    assertThat(r.tryAcquire("c", 2, S + S)).isZero();
  }
}
