package dev.tally.engine;

import java.util.Arrays;

/**
 * The committer's copy of the counters it wrote or read last: counter → (P, N, updated-at second),
 * in flat primitive arrays, so that a million counters are a few arrays of longs rather than a
 * million map entries, ids and values for the garbage collector to trace and move (which took a
 * quarter of a node's CPU under writes spread over a million counters; docs/performance-notes.md).
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

  private final int maxEntries;
  private final int mask;
  private final long[] posts;
  private final byte[] codes;
  private final long[] ps;
  private final long[] ns;
  private final long[] seconds;
  private final boolean[] used;
  private int size;
  private int hand;

  /** A table holding up to {@code maxEntries} counters; 0 holds none. */
  CounterTable(int maxEntries) {
    if (maxEntries < 0 || maxEntries > (1 << 29)) {
      throw new IllegalArgumentException("maxEntries out of range: " + maxEntries);
    }
    this.maxEntries = maxEntries;
    int capacity = Integer.highestOneBit(Math.max(2, (int) (maxEntries * 4L / 3) + 1) - 1) << 1;
    this.mask = capacity - 1;
    this.posts = new long[maxEntries == 0 ? 0 : capacity];
    this.codes = new byte[posts.length];
    this.ps = new long[posts.length];
    this.ns = new long[posts.length];
    this.seconds = new long[posts.length];
    this.used = new boolean[posts.length];
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
      long p = posts[i];
      if (p == EMPTY) {
        return -1;
      }
      if (p == post && codes[i] == (byte) code) {
        used[i] = true;
        return i;
      }
    }
  }

  long p(int slot) {
    return ps[slot];
  }

  long n(int slot) {
    return ns[slot];
  }

  long updatedAtSecond(int slot) {
    return seconds[slot];
  }

  /** Sets counter (post, code), adding it (and evicting another when full) if it is not held. */
  void put(long post, int code, long p, long n, long updatedAtSecond) {
    if (maxEntries == 0) {
      return;
    }
    if (post <= 0) {
      throw new IllegalArgumentException("post id must be positive, got " + post);
    }
    int i = home(post, code);
    for (; posts[i] != EMPTY; i = (i + 1) & mask) {
      if (posts[i] == post && codes[i] == (byte) code) {
        set(i, p, n, updatedAtSecond);
        return;
      }
    }
    if (size == maxEntries) {
      evictOne();
      // the eviction may have shifted entries into the free slot found above: probe again
      i = home(post, code);
      while (posts[i] != EMPTY) {
        i = (i + 1) & mask;
      }
    }
    posts[i] = post;
    codes[i] = (byte) code;
    set(i, p, n, updatedAtSecond);
    // a newcomer earns its bit when used again: a wave of counters touched once evicts its own
    // kind before the counters that keep being written
    used[i] = false;
    size++;
  }

  /** Forgets every counter. */
  void clear() {
    Arrays.fill(posts, EMPTY);
    Arrays.fill(used, false);
    size = 0;
    hand = 0;
  }

  private void set(int i, long p, long n, long updatedAtSecond) {
    ps[i] = p;
    ns[i] = n;
    seconds[i] = updatedAtSecond;
    used[i] = true;
  }

  private void evictOne() {
    while (true) {
      int i = hand;
      hand = (hand + 1) & mask;
      if (posts[i] == EMPTY) {
        continue;
      }
      if (used[i]) {
        used[i] = false;
        continue;
      }
      remove(i);
      return;
    }
  }

  /** Empties slot {@code i} and moves back the entries after it that probed past it. */
  private void remove(int i) {
    int free = i;
    for (int j = (i + 1) & mask; posts[j] != EMPTY; j = (j + 1) & mask) {
      int h = home(posts[j], codes[j] & 0xff);
      // j may move to `free` unless its home lies cyclically in (free, j]
      boolean stays = free <= j ? (free < h && h <= j) : (free < h || h <= j);
      if (!stays) {
        posts[free] = posts[j];
        codes[free] = codes[j];
        ps[free] = ps[j];
        ns[free] = ns[j];
        seconds[free] = seconds[j];
        used[free] = used[j];
        free = j;
      }
    }
    posts[free] = EMPTY;
    used[free] = false;
    size--;
  }

  private int home(long post, int code) {
    long h = (post * 0x9E3779B97F4A7C15L) ^ ((long) code * 0xC2B2AE3D27D4EB4FL);
    return (int) (h ^ (h >>> 29) ^ (h >>> 47)) & mask;
  }
}
