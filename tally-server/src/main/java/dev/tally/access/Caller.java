package dev.tally.access;

/**
 * Who made a request: an authenticated subject (the name of an API key, or a token's subject) or,
 * without credentials, the client's address. The id keys per-client rate limits. Immutable.
 *
 * @param id the subject or address; never a secret
 * @param authenticated true when credentials were verified
 * @param mayWrite true when the caller may change counts
 */
public record Caller(String id, boolean authenticated, boolean mayWrite) {

  public static Caller anonymous(String address) {
    return new Caller(address, false, false);
  }
}
