package dev.tally.client;

/** What a write does to a counter. */
public enum Action {
  INCREMENT("increment"),
  DECREMENT("decrement");

  final String wire;

  Action(String wire) {
    this.wire = wire;
  }
}
