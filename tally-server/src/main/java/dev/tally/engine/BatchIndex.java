package dev.tally.engine;

/**
 * The counters of one group commit, by id: a map from (post id, counter code) to a small index, in
 * open-addressed primitive arrays that a commit clears in O(1) (each slot carries the number of the
 * batch that wrote it). A {@code HashMap<CounterId, …>} did the same with a node, a key object and
 * an {@code equals} call per lookup: a sixth of the committer's time under pipelined writes
 * (docs/performance-notes.md). One thread only.
 */
final class BatchIndex {

  private static final float LOAD = 0.5f;

  private long[] posts;
  private int[] codes;
  private int[] values;
  private int[] batches; // the batch that wrote the slot; other numbers mean empty
  private int batch = 1;
  private int size;
  private int mask;

  BatchIndex(int expected) {
    allocate(Integer.highestOneBit(Math.max(16, (int) (expected / LOAD)) - 1) << 1);
  }

  private void allocate(int capacity) {
    posts = new long[capacity];
    codes = new int[capacity];
    values = new int[capacity];
    batches = new int[capacity];
    mask = capacity - 1;
  }

  /** The value of (post, code) in this batch, or -1. */
  int get(long post, int code) {
    for (int i = home(post, code); ; i = (i + 1) & mask) {
      if (batches[i] != batch) {
        return -1;
      }
      if (posts[i] == post && codes[i] == code) {
        return values[i];
      }
    }
  }

  /** Maps (post, code), which must not be in this batch yet, to {@code value} (≥ 0). */
  void put(long post, int code, int value) {
    if (size + 1 > (mask + 1) * LOAD) {
      grow();
    }
    insert(post, code, value);
    size++;
  }

  private void insert(long post, int code, int value) {
    int i = home(post, code);
    while (batches[i] == batch) {
      i = (i + 1) & mask;
    }
    posts[i] = post;
    codes[i] = code;
    values[i] = value;
    batches[i] = batch;
  }

  private void grow() {
    long[] oldPosts = posts;
    int[] oldCodes = codes;
    int[] oldValues = values;
    int[] oldBatches = batches;
    int current = batch;
    allocate((mask + 1) * 2);
    batch = 1;
    for (int i = 0; i < oldPosts.length; i++) {
      if (oldBatches[i] == current) {
        insert(oldPosts[i], oldCodes[i], oldValues[i]);
      }
    }
  }

  /** Forgets every entry: the next batch starts empty. */
  void clear() {
    size = 0;
    if (++batch == 0) { // wrapped after 2^32 batches: the old numbers could come back
      java.util.Arrays.fill(batches, 0);
      batch = 1;
    }
  }

  int size() {
    return size;
  }

  private int home(long post, int code) {
    long h = (post ^ (long) code << 59) * 0x9E3779B97F4A7C15L;
    return (int) (h >>> 40) & mask;
  }
}
