package dev.tally.access;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class TrustedProxiesTest {

  private static final TrustedProxies LB = TrustedProxies.parse("10.0.0.0/8, 127.0.0.1, fd00::/8");

  @Test
  void withoutTrustedProxies_theHeaderIsIgnored() {
    assertThat(TrustedProxies.NONE.client("10.1.2.3", List.of("203.0.113.7")))
        .isEqualTo("10.1.2.3");
    assertThat(TrustedProxies.parse(" ").isEmpty()).isTrue();
  }

  @Test
  void anUntrustedPeerCannotNameItsOwnAddress() {
    assertThat(LB.client("198.51.100.1", List.of("203.0.113.7"))).isEqualTo("198.51.100.1");
  }

  @Test
  void behindATrustedProxy_theClientIsTheFirstUntrustedHopFromTheRight() {
    assertThat(LB.client("10.0.0.5", List.of("203.0.113.7"))).isEqualTo("203.0.113.7");
    // the client made up the leftmost entry; our proxies appended the rest
    assertThat(LB.client("127.0.0.1", List.of("1.1.1.1, 203.0.113.7, 10.9.9.9")))
        .isEqualTo("203.0.113.7");
    // several header lines count as one list, in order
    assertThat(LB.client("10.0.0.5", List.of("1.1.1.1", "203.0.113.8"))).isEqualTo("203.0.113.8");
  }

  @Test
  void portsAndIpv6AndMappedAddressesAreUnderstood() {
    assertThat(LB.client("10.0.0.5", List.of("203.0.113.7:51234"))).isEqualTo("203.0.113.7");
    assertThat(LB.client("fd00::1", List.of("[2001:db8::7]:443"))).isEqualTo("2001:db8::7");
    assertThat(LB.client("::ffff:10.0.0.5", List.of("2001:db8::9"))).isEqualTo("2001:db8::9");
  }

  @Test
  void garbageOrOnlyProxiesStopTheWalkAtTheLastGoodAddress() {
    assertThat(LB.client("10.0.0.5", List.of("evil.example, 10.0.0.6"))).isEqualTo("10.0.0.6");
    assertThat(LB.client("10.0.0.5", List.of(""))).isEqualTo("10.0.0.5");
    assertThat(LB.client("10.0.0.5", List.of("10.0.0.7, 10.0.0.6"))).isEqualTo("10.0.0.7");
    assertThat(LB.client("10.0.0.5", List.of())).isEqualTo("10.0.0.5");
  }

  @Test
  void prefixesMatchBitByBit() {
    TrustedProxies p = TrustedProxies.parse("192.168.4.0/22");
    assertThat(p.client("192.168.7.255", List.of("203.0.113.1"))).isEqualTo("203.0.113.1");
    assertThat(p.client("192.168.8.0", List.of("203.0.113.1"))).isEqualTo("192.168.8.0");
    assertThat(TrustedProxies.parse("0.0.0.0/0").client("8.8.8.8", List.of("1.2.3.4")))
        .isEqualTo("1.2.3.4");
  }

  @Test
  void hostNamesAndBadPrefixesAreRefused() {
    assertThatThrownBy(() -> TrustedProxies.parse("lb.internal"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lb.internal");
    assertThatThrownBy(() -> TrustedProxies.parse("10.0.0.0/33"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TrustedProxies.parse("10.0.0.0/x"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TrustedProxies.parse("10.0.0.1,"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
