package dev.tally.client;

/**
 * The outcome of one batch item, in the order of the request: applied (or replayed: an earlier
 * attempt under the same key was applied) with the count right after it, or a problem.
 */
public record BatchResult(
    BatchWrite write, Count count, boolean replayed, TallyProblemException problem) {

  public boolean ok() {
    return problem == null;
  }
}
