package dev.tally.engine;

import java.util.Arrays;

/**
 * The committer's copy of the counters it wrote or read last: counter → (P, N, updated-at second),
 * in one flat array of longs, so that a million counters are one array rather than a million map
 * entries, ids and values for the garbage collector to trace and move (which took a quarter of a
 * node's CPU under writes spread over a million counters; docs/performance-notes.md). A slot is
 * four longs side by side, 32 bytes: post id, P, N, and the updated-at second with the counter's
 * code and recently-used bit below it; so a lookup of a counter not in the CPU's cache costs one
 * cache line, not one per field.
 *
 * <p>Open addressing with linear probing over a power-of-two table filled to at most three
 * quarters; deletions shift the following run back, so no tombstones build up. When {@code
 * maxEntries} are held, putting a new counter evicts one by the CLOCK rule: a hand walks the table,
 * clearing the recently-used bit of the entries it passes and evicting the first one whose bit was
 * already clear, so counters in use stay and cold ones go, as with least-recently-used but without
 * a list to maintain on every access. A counter gets its bit when found or updated, not when added.
 *
 * <p>A slot number returned by {@link #find} is valid until the next {@link #put} or {@link
 * #clear}. Not thread-safe: the committer thread owns it.
 */
final class CounterTable {

  private static final long EMPTY = 0; // post ids are positive
  private static final int STRIDE = 4; // longs per slot: post, P, N, meta
  private static final int P = 1;
  private static final int N = 2;
  private static final int META = 3; // second << 9 | code << 1 | used
  private static final long MAX_SECOND = (1L << 54) - 1;

  private final int maxEntries;
  private final int mask;
  private final long[] t;
  private int size;
  private int hand;

  /** A table holding up to {@code maxEntries} counters; 0 holds none. */
  CounterTable(int maxEntries) {
    if (maxEntries < 0 || maxEntries > (1 << 27)) {
      throw new IllegalArgumentException("maxEntries out of range: " + maxEntries);
    }
    this.maxEntries = maxEntries;
    int capacity = Integer.highestOneBit(Math.max(2, (int) (maxEntries * 4L / 3) + 1) - 1) << 1;
    this.mask = capacity - 1;
    this.t = new long[maxEntries == 0 ? 0 : capacity * STRIDE];
  }

  int size() {
    return size;
  }

  /** The slot holding counter (post, code), marked as recently used; or -1. */
  int find(long post, int code) {
    if (maxEntries == 0) {
      return -1;
    }
    for (int i = home(post, code); ; i = (i + 1) & mask) {
      int at = i * STRIDE;
      long p = t[at];
      if (p == EMPTY) {
        return -1;
      }
      long meta = t[at + META];
      if (p == post && code(meta) == code) {
        t[at + META] = meta | 1;
        return i;
      }
    }
  }

  /**
   * Reads the first place where counter (post, code) would be and returns what is there, for a
   * caller about to look up many counters: touching them all first, with loads that do not wait for
   * one another, lets the CPU fetch their cache lines at once instead of one after another.
   */
  long touch(long post, int code) {
    return maxEntries == 0 ? 0 : t[home(post, code) * STRIDE];
  }

  long p(int slot) {
    return t[slot * STRIDE + P];
  }

  long n(int slot) {
    return t[slot * STRIDE + N];
  }

  long updatedAtSecond(int slot) {
    return t[slot * STRIDE + META] >>> 9;
  }

  /** Sets counter (post, code), adding it (and evicting another when full) if it is not held. */
  void put(long post, int code, long p, long n, long updatedAtSecond) {
    if (maxEntries == 0) {
      return;
    }
    if (post <= 0) {
      throw new IllegalArgumentException("post id must be positive, got " + post);
    }
    if (updatedAtSecond < 0 || updatedAtSecond > MAX_SECOND) {
      throw new IllegalArgumentException("second out of range: " + updatedAtSecond);
    }
    int i = home(post, code);
    for (; t[i * STRIDE] != EMPTY; i = (i + 1) & mask) {
      if (t[i * STRIDE] == post && code(t[i * STRIDE + META]) == code) {
        set(i, code, p, n, updatedAtSecond, true);
        return;
      }
    }
    if (size == maxEntries) {
      evictOne();
      // the eviction may have shifted entries into the free slot found above: probe again
      i = home(post, code);
      while (t[i * STRIDE] != EMPTY) {
        i = (i + 1) & mask;
      }
    }
    t[i * STRIDE] = post;
    // a newcomer earns its bit when used again: a wave of counters touched once evicts its own
    // kind before the counters that keep being written
    set(i, code, p, n, updatedAtSecond, false);
    size++;
  }

  /** Forgets every counter. */
  void clear() {
    Arrays.fill(t, EMPTY);
    size = 0;
    hand = 0;
  }

  private void set(int i, int code, long p, long n, long updatedAtSecond, boolean used) {
    int at = i * STRIDE;
    t[at + P] = p;
    t[at + N] = n;
    t[at + META] = updatedAtSecond << 9 | (code & 0xffL) << 1 | (used ? 1 : 0);
  }

  private static int code(long meta) {
    return (int) (meta >>> 1) & 0xff;
  }

  private void evictOne() {
    while (true) {
      int at = hand * STRIDE;
      hand = (hand + 1) & mask;
      if (t[at] == EMPTY) {
        continue;
      }
      if ((t[at + META] & 1) != 0) {
        t[at + META] &= ~1L;
        continue;
      }
      remove(at / STRIDE);
      return;
    }
  }

  /** Empties slot {@code i} and moves back the entries after it that probed past it. */
  private void remove(int i) {
    int free = i;
    for (int j = (i + 1) & mask; t[j * STRIDE] != EMPTY; j = (j + 1) & mask) {
      int h = home(t[j * STRIDE], code(t[j * STRIDE + META]));
      // j may move to `free` unless its home lies cyclically in (free, j]
      boolean stays = free <= j ? (free < h && h <= j) : (free < h || h <= j);
      if (!stays) {
        System.arraycopy(t, j * STRIDE, t, free * STRIDE, STRIDE);
        free = j;
      }
    }
    Arrays.fill(t, free * STRIDE, free * STRIDE + STRIDE, 0L);
    size--;
  }

  private int home(long post, int code) {
    long h = (post * 0x9E3779B97F4A7C15L) ^ ((long) code * 0xC2B2AE3D27D4EB4FL);
    return (int) (h ^ (h >>> 29) ^ (h >>> 47)) & mask;
  }
}
