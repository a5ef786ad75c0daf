package dev.tally.bench;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the post id of the next request: one hot post, uniform over {@code posts}, or Zipfian (rank
 * k drawn with probability ∝ 1/k^s; rank 1 is the hottest post). Immutable after construction;
 * callers pass their own random source, so one chooser serves every thread.
 */
public final class KeyChooser {

  /** Key distributions. */
  public enum Kind {
    HOT,
    UNIFORM,
    ZIPF
  }

  private final Kind kind;
  private final long firstPost;
  private final int posts;
  private final double[] cdf;

  public KeyChooser(Kind kind, long firstPost, int posts, double zipfExponent) {
    if (posts < 1) {
      throw new IllegalArgumentException("posts must be at least 1");
    }
    this.kind = kind;
    this.firstPost = firstPost;
    this.posts = posts;
    this.cdf = kind == Kind.ZIPF ? zipfCdf(posts, zipfExponent) : null;
  }

  private static double[] zipfCdf(int n, double s) {
    double[] c = new double[n];
    double sum = 0;
    for (int k = 1; k <= n; k++) {
      sum += 1.0 / Math.pow(k, s);
      c[k - 1] = sum;
    }
    for (int i = 0; i < n; i++) {
      c[i] /= sum;
    }
    c[n - 1] = 1.0;
    return c;
  }

  public long next(SplittableRandom random) {
    return switch (kind) {
      case HOT -> firstPost;
      case UNIFORM -> firstPost + random.nextInt(posts);
      case ZIPF -> {
        int i = Arrays.binarySearch(cdf, random.nextDouble());
        yield firstPost + (i >= 0 ? i : -i - 1);
      }
    };
  }

  public long firstPost() {
    return firstPost;
  }

  /** Every post this chooser can return, in order. */
  public long[] all() {
    long[] all = new long[posts()];
    for (int i = 0; i < all.length; i++) {
      all[i] = firstPost + i;
    }
    return all;
  }

  /** How many distinct posts this chooser can return. */
  public int posts() {
    return kind == Kind.HOT ? 1 : posts;
  }
}
