package dev.tally.client;

import java.util.Map;

/**
 * One event of a post's live stream. The first after each (re)connection is a snapshot with every
 * counter and {@code live}; later ones carry only what changed, each with its latest value: set,
 * don't add.
 */
public record LiveEvent(long postId, boolean snapshot, Map<String, Count> counts) {}
