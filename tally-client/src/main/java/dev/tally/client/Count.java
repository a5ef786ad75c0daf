package dev.tally.client;

import java.time.Instant;

/**
 * A counter's value and the time of its last accepted write ({@code null} if it was never written).
 */
public record Count(long count, Instant updatedAt) {}
