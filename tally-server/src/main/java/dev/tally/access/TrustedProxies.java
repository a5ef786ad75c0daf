package dev.tally.access;

import io.netty.util.NetUtil;
import java.util.ArrayList;
import java.util.List;

/**
 * Which peers may name the client with {@code X-Forwarded-For}: the load balancers in front of the
 * node. Behind a load balancer every connection comes from the balancer, so without this every
 * client would share one address and one rate limit; trusting the header from anyone else would let
 * a client pick its own address and dodge its limit.
 *
 * <p>The client is found from the right of the header: starting at the TCP peer, while the current
 * address is a trusted proxy, step to the next address to its left in {@code X-Forwarded-For} (the
 * hop that proxy received the request from). The first untrusted address is the client. An entry
 * that is not an IP literal ends the walk at the last address known good. Immutable, thread-safe.
 */
public final class TrustedProxies {

  /** Trusts no one: {@code X-Forwarded-For} is ignored. */
  public static final TrustedProxies NONE = new TrustedProxies(List.of());

  private record Cidr(byte[] network, int bits) {
    boolean contains(byte[] address) {
      if (address.length != network.length) {
        return false;
      }
      int full = bits / 8;
      for (int i = 0; i < full; i++) {
        if (address[i] != network[i]) {
          return false;
        }
      }
      int rest = bits % 8;
      if (rest == 0) {
        return true;
      }
      int mask = 0xFF << (8 - rest) & 0xFF;
      return (address[full] & mask) == (network[full] & mask);
    }
  }

  private final List<Cidr> cidrs;

  private TrustedProxies(List<Cidr> cidrs) {
    this.cidrs = cidrs;
  }

  /**
   * Parses comma-separated addresses and CIDR blocks, such as {@code 10.0.0.0/8, 127.0.0.1,
   * fd00::/8}; blank for none. IP literals only: a host name is refused, never looked up.
   *
   * @throws IllegalArgumentException naming the first entry that is not an address or block
   */
  public static TrustedProxies parse(String spec) {
    if (spec == null || spec.isBlank()) {
      return NONE;
    }
    List<Cidr> out = new ArrayList<>();
    for (String part : spec.split(",", -1)) {
      String entry = part.trim();
      int slash = entry.indexOf('/');
      byte[] network = ip(slash < 0 ? entry : entry.substring(0, slash));
      if (network == null) {
        throw new IllegalArgumentException("'" + entry + "' is not an IP address or CIDR block");
      }
      int bits = network.length * 8;
      if (slash >= 0) {
        try {
          bits = Integer.parseInt(entry.substring(slash + 1));
        } catch (NumberFormatException e) {
          bits = -1;
        }
        if (bits < 0 || bits > network.length * 8) {
          throw new IllegalArgumentException(
              "'" + entry + "' has a prefix length outside 0.." + network.length * 8);
        }
      }
      out.add(new Cidr(network, bits));
    }
    return new TrustedProxies(List.copyOf(out));
  }

  public boolean isEmpty() {
    return cidrs.isEmpty();
  }

  /**
   * The client's address for a request from {@code peer} carrying the {@code X-Forwarded-For}
   * header lines {@code forwardedFor} (in the order received; each may list several addresses).
   */
  public String client(String peer, List<String> forwardedFor) {
    byte[] current = ip(peer);
    if (current == null || !trusted(current) || forwardedFor.isEmpty()) {
      return peer;
    }
    List<String> hops = new ArrayList<>();
    for (String line : forwardedFor) {
      for (String h : line.split(",", -1)) {
        hops.add(h);
      }
    }
    String client = peer;
    for (int i = hops.size() - 1; i >= 0; i--) {
      String hop = hopAddress(hops.get(i).trim());
      byte[] address = hop == null ? null : ip(hop);
      if (address == null) {
        return client; // garbage from the left of a trusted hop: keep what is known
      }
      client = hop;
      if (!trusted(address)) {
        return client;
      }
    }
    return client; // every hop was a proxy of ours: the leftmost is as close as we get
  }

  private boolean trusted(byte[] address) {
    for (Cidr c : cidrs) {
      if (c.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /** An entry without the port some proxies add: {@code 1.2.3.4:80}, {@code [::1]:80}. */
  private static String hopAddress(String hop) {
    if (hop.startsWith("[")) {
      int close = hop.indexOf(']');
      return close < 0 ? null : hop.substring(1, close);
    }
    int colon = hop.indexOf(':');
    if (colon >= 0 && hop.indexOf(':', colon + 1) < 0) {
      return hop.substring(0, colon); // IPv4 with a port; IPv6 has several colons
    }
    return hop;
  }

  /** The bytes of an IPv4 or IPv6 literal (IPv4-mapped IPv6 as IPv4), or null; never DNS. */
  private static byte[] ip(String s) {
    byte[] b = NetUtil.createByteArrayFromIpAddressString(s);
    if (b != null && b.length == 16 && isIpv4Mapped(b)) {
      return java.util.Arrays.copyOfRange(b, 12, 16);
    }
    return b;
  }

  private static boolean isIpv4Mapped(byte[] b) {
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return b[10] == (byte) 0xFF && b[11] == (byte) 0xFF;
  }
}
