package dev.tally.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.vertx.core.transport.Transport;
import org.junit.jupiter.api.Test;

class NetTransportTest {

  /** A native transport this host offers, or not, with the reason Netty would give. */
  private record Host(String name, Throwable missing) implements Transport {
    @Override
    public boolean available() {
      return missing == null;
    }

    @Override
    public Throwable unavailabilityCause() {
      return missing;
    }

    @Override
    public io.vertx.core.spi.transport.Transport implementation() {
      throw new UnsupportedOperationException("not started in this test");
    }
  }

  private static final Host URING = new Host("io_uring", null);
  private static final Host EPOLL = new Host("epoll", null);
  private static final Host NO_URING =
      new Host("io_uring", new UnsatisfiedLinkError("io_uring_setup: Operation not permitted"));
  private static final Host NO_EPOLL = new Host("epoll", new IllegalStateException());

  @Test
  void auto_prefersIoUring_thenEpoll_thenNio_sayingWhatItPassedOver() {
    NetTransport.Pick both = NetTransport.AUTO.pick(URING, EPOLL);
    assertThat(both.used()).isEqualTo(NetTransport.IO_URING);
    assertThat(both.vertx()).isSameAs(URING);
    assertThat(both.passedOver()).isEmpty();

    NetTransport.Pick noUring = NetTransport.AUTO.pick(NO_URING, EPOLL);
    assertThat(noUring.used()).isEqualTo(NetTransport.EPOLL);
    assertThat(noUring.vertx()).isSameAs(EPOLL);
    assertThat(noUring.passedOver()).isEqualTo("io_uring: io_uring_setup: Operation not permitted");

    NetTransport.Pick neither = NetTransport.AUTO.pick(NO_URING, NO_EPOLL);
    assertThat(neither.used()).isEqualTo(NetTransport.NIO);
    assertThat(neither.vertx()).isSameAs(Transport.NIO);
    assertThat(neither.passedOver())
        .isEqualTo(
            "io_uring: io_uring_setup: Operation not permitted; epoll: IllegalStateException");
  }

  @Test
  void anExplicitChoice_isTakenWhenOffered_andRefusedWithTheReasonWhenNot() {
    assertThat(NetTransport.EPOLL.pick(NO_URING, EPOLL).vertx()).isSameAs(EPOLL);
    assertThat(NetTransport.IO_URING.pick(URING, NO_EPOLL).vertx()).isSameAs(URING);
    assertThat(NetTransport.NIO.pick(URING, EPOLL).vertx()).isSameAs(Transport.NIO);
    assertThatThrownBy(() -> NetTransport.IO_URING.pick(NO_URING, EPOLL))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "--transport io_uring is not available on this host: io_uring_setup: Operation not"
                + " permitted");
    assertThatThrownBy(() -> NetTransport.EPOLL.pick(URING, NO_EPOLL))
        .hasMessage("--transport epoll is not available on this host: IllegalStateException");
  }

  @Test
  void parse_takesTheFlagsInAnyCase_andNamesTheChoicesWhenRefusing() {
    assertThat(NetTransport.parse("IO_URING")).isEqualTo(NetTransport.IO_URING);
    assertThat(NetTransport.parse(" nio ")).isEqualTo(NetTransport.NIO);
    for (NetTransport t : NetTransport.values()) {
      assertThat(NetTransport.parse(t.flag())).isEqualTo(t);
    }
    assertThatThrownBy(() -> NetTransport.parse("uring"))
        .hasMessage("must be auto, io_uring, epoll or nio");
  }
}
