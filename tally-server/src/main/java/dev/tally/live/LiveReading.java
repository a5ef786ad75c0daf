package dev.tally.live;

/**
 * The live-viewer gauge of one post at one moment: viewers now, and the second it last changed (0
 * when nobody has watched it since the node started or since it was last empty). Immutable.
 */
public record LiveReading(long count, long updatedAtSecond) {

  public static final LiveReading NOBODY = new LiveReading(0, 0);
}
