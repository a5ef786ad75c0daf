package dev.tally;

import dev.tally.access.AccessControl;
import dev.tally.access.Credentials;
import dev.tally.access.RateLimiter;
import dev.tally.access.TrustedProxies;
import dev.tally.cluster.ClaimSettler;
import dev.tally.cluster.ClusterCountReader;
import dev.tally.cluster.ClusterWriter;
import dev.tally.cluster.FollowedCounters;
import dev.tally.cluster.IdempotencyClaims;
import dev.tally.cluster.LiveBus;
import dev.tally.cluster.Presence;
import dev.tally.cluster.RedisOptions;
import dev.tally.cluster.RedisSlots;
import dev.tally.cluster.RetireWriterCommand;
import dev.tally.cluster.SlotPusher;
import dev.tally.cluster.WriterRetirement;
import dev.tally.config.ConfigException;
import dev.tally.config.TallyConfig;
import dev.tally.engine.Aggregator;
import dev.tally.engine.CountReader;
import dev.tally.engine.LocalCountReader;
import dev.tally.engine.ReadCache;
import dev.tally.engine.WritePath;
import dev.tally.error.TallyException;
import dev.tally.http.HttpApi;
import dev.tally.http.HttpServerVerticle;
import dev.tally.http.LiveApi;
import dev.tally.live.LiveHub;
import dev.tally.live.LiveService;
import dev.tally.loop.Collector;
import dev.tally.loop.LoopPriority;
import dev.tally.loop.LoopTicks;
import dev.tally.loop.NetTransport;
import dev.tally.metrics.Health;
import dev.tally.metrics.Metrics;
import dev.tally.store.StoreStatistic;
import dev.tally.store.local.DataDir;
import dev.tally.store.local.RocksCounterStore;
import dev.tally.store.local.RocksLibrary;
import io.micrometer.core.instrument.Gauge;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.internal.VertxInternal;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A tally node: reads the configuration, opens the store, starts the aggregator and the HTTP
 * servers, and stops them in reverse order. {@link #main} runs one until SIGTERM/SIGINT; tests
 * start nodes with {@link #start}. Thread-safe: {@link #close} may be called from any thread, once
 * or many times.
 */
public final class Tally implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Tally.class);

  /** How often a strict-idempotency node looks for claims it left pending (crash, Redis error). */
  private static final Duration CLAIM_SETTLE_INTERVAL = Duration.ofSeconds(2);

  /** Read-executor queue bound: reads waiting for the store beyond it get 503. */
  private static final int READ_QUEUE = 10_000;

  private final TallyConfig config;
  private final Clock clock;
  private final long nodeId;
  private final Metrics metrics;
  private final RocksCounterStore store;
  private final ReadCache readCache;
  private final Aggregator aggregator;
  private final List<RedisSlots> redis = new java.util.ArrayList<>();
  private final SlotPusher cluster;
  private final FollowedCounters view;
  private final ClaimSettler claimSettler;
  private final WritePath writePath;
  private final ThreadPoolExecutor readExecutor;
  private final LiveService live;
  private final LiveBus liveBus;
  private final Presence presence;
  private final Health health = new Health();
  private final Vertx vertx;
  private final ConcurrentLinkedQueue<HttpServer> servers = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<io.vertx.core.net.NetServer> respServers =
      new ConcurrentLinkedQueue<>();
  private volatile int respPort = -1;
  private final AtomicBoolean closed = new AtomicBoolean();
  private int port;
  private final NetTransport transport;

  private Tally(TallyConfig config, Clock clock) {
    this.config = config;
    this.clock = clock;
    // before anything is opened: a transport the host cannot give is a start-up error
    NetTransport.Pick sockets = pickTransport(config.server().transport());
    this.transport = sockets.used();
    DataDir dataDir = new DataDir(config.store().dataDir());
    if (config.clustered() && dataDir.restored()) {
      throw new ConfigException(
          "--data-dir "
              + dataDir.root()
              + " is a backup or a copy of one: it cannot join a cluster, whose Redis holds the"
              + " share of the node it was copied from; start it without --redis (see"
              + " docs/operations.md, backups)");
    }
    this.nodeId = dataDir.nodeId();
    dev.tally.logging.Logging.addContext("node", java.util.HexFormat.of().toHexDigits(nodeId));
    if (!config.cluster().redis().isEmpty()) {
      dev.tally.logging.Logging.addContext("region", config.cluster().region());
    }
    this.metrics = new Metrics();
    RocksLibrary.load(dataDir.nativeDir());
    this.store =
        RocksCounterStore.open(
            dataDir.storeDir(),
            config.store().counters(),
            (long) config.store().blockCacheMb() << 20,
            (long) config.store().walLimitMb() << 20,
            (long) config.store().spareLogMb() << 20);
    this.readCache = new ReadCache(store, config.store().cacheCounters());
    this.aggregator =
        new Aggregator(
            store,
            readCache,
            clock,
            new Aggregator.Settings(
                config.store().maxBatchWrites(),
                config.store().maxPendingWrites(),
                config.store().cacheCounters(),
                config.store().idempotencyRetention(),
                Duration.ofSeconds(1),
                config.store().committerThreads(config.clustered())),
            metrics.registry());
    if (config.clustered()) {
      // the outbox and the pushers need commits in the order they become durable
      aggregator.orderCommits();
      try {
        this.cluster = joinCluster(config, dataDir);
      } catch (RuntimeException e) {
        redis.forEach(RedisSlots::close);
        store.close();
        throw e;
      }
      aggregator.addListener(cluster);
      this.view =
          new FollowedCounters(
              redis.get(0)::records,
              nodeId,
              config.cluster().clusterFollowMax(),
              metrics.registry());
      aggregator.addListener(view);
      IdempotencyClaims claims = new IdempotencyClaims(redis.get(0).connection());
      ClaimSettler.InFlight inFlight = new ClaimSettler.InFlight();
      ClusterWriter.Settings writerSettings =
          new ClusterWriter.Settings(
              ClusterWriter.Ack.valueOf(config.cluster().ack().toUpperCase(Locale.ROOT)),
              config.cluster().ackTimeout(),
              config.store().maxPendingWrites(),
              config.store().idempotencyRetention(),
              ClusterWriter.Idempotency.valueOf(
                  config.cluster().idempotency().toUpperCase(Locale.ROOT)),
              config.cluster().idempotencyLease());
      this.writePath =
          new ClusterWriter(
              aggregator,
              cluster,
              view,
              claims,
              inFlight,
              nodeId,
              writerSettings,
              metrics.registry());
      this.claimSettler =
          writerSettings.idempotency() == ClusterWriter.Idempotency.STRICT
              ? new ClaimSettler(
                  claims,
                  nodeId,
                  inFlight,
                  store::getKeys,
                  clock,
                  CLAIM_SETTLE_INTERVAL,
                  metrics.registry())
              : null;
    } else {
      this.cluster = null;
      this.view = null;
      this.claimSettler = null;
      this.writePath = aggregator;
    }
    AtomicInteger readThreadIds = new AtomicInteger();
    this.readExecutor =
        new ThreadPoolExecutor(
            config.server().readThreads(),
            config.server().readThreads(),
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(READ_QUEUE),
            r -> {
              Thread t = new Thread(r, "tally-read-" + readThreadIds.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    Gauge.builder("tally.store.sst.bytes", store, s -> s.statistic(StoreStatistic.SST_BYTES))
        .description("Bytes of the store's table files on disk")
        .register(metrics.registry());
    Gauge.builder(
            "tally.store.counters.estimated",
            store,
            s -> s.statistic(StoreStatistic.COUNTERS_ESTIMATED))
        .description("Counters in the store (RocksDB estimate)")
        .register(metrics.registry());
    Gauge.builder(
            "tally.store.idempotency.keys.estimated",
            store,
            s -> s.statistic(StoreStatistic.KEYS_ESTIMATED))
        .description("Idempotency keys remembered (RocksDB estimate)")
        .register(metrics.registry());
    Gauge.builder("tally.read.queue", readExecutor, e -> e.getQueue().size())
        .description("Reads waiting for the store")
        .register(metrics.registry());
    this.live =
        new LiveService(
            store.names(),
            aggregator,
            new LiveHub.Settings(
                config.live().streamCoalesce(),
                config.live().streamKeepAlive(),
                config.live().maxStreams()),
            config.live().heartbeatTtl(),
            config.live().maxHeartbeatViewers(),
            clock,
            metrics.registry());
    if (cluster != null) {
      // the live bus and presence share the home region's connection
      this.liveBus =
          new LiveBus(
              redis.get(0).connection(),
              config.cluster().region(),
              nodeId,
              view,
              live.hub(),
              clock,
              metrics.registry(),
              LiveBus.Settings.defaults());
      this.presence =
          new Presence(
              redis.get(0).connection(),
              nodeId,
              live,
              clock,
              metrics.registry(),
              Presence.Settings.defaults());
      liveBus.watchRetirements(
          new WriterRetirement(redis.get(0).connection(), config.cluster().redisBuckets()));
      cluster.onPushed(0, liveBus::pushed);
      List<SlotPusher.Target> targets = cluster.targets();
      for (int i = 1; i < targets.size(); i++) { // remote regions: their nodes hear these pushes
        SlotPusher.Target remote = targets.get(i);
        cluster.onPushed(i, liveBus.publishIn(remote.region(), remote.slots().connection()));
      }
      view.staleness(liveBus::stalenessMillis);
      java.util.Set<Long> watched = live.hub().watchedPosts();
      view.feed(live.hub(), watched::contains, readCache::peek);
      health.section("cluster", cluster::status);
    } else {
      this.liveBus = null;
      this.presence = null;
    }
    health.check("store", store::writable);
    health.check("committer", aggregator::healthy);
    Gauge.builder("tally.ready", health, h -> h.ready() ? 1 : 0)
        .description("1 while the node is ready (GET /health/ready answers 200), else 0")
        .register(metrics.registry());
    java.nio.file.Path dataPath = config.store().dataDir();
    Gauge.builder("tally.store.disk.free", dataPath, Tally::usableBytes)
        .description("Bytes free for the node on the data directory's file system")
        .baseUnit("bytes")
        .register(metrics.registry());
    Gauge.builder("tally.store.disk.total", dataPath, Tally::totalBytes)
        .description("Size of the data directory's file system")
        .baseUnit("bytes")
        .register(metrics.registry());
    this.vertx =
        Vertx.builder()
            .withTransport(sockets.vertx())
            .with(
                new VertxOptions()
                    .setEventLoopPoolSize(config.server().eventLoops())
                    // tally reads its own resources: no class-path file cache, whose directory a
                    // killed node would leave behind in the temporary directory at every start
                    .setFileSystemOptions(
                        new FileSystemOptions()
                            .setClassPathResolvingEnabled(false)
                            .setFileCachingEnabled(false)))
            .build();
    if (sockets.passedOver().isEmpty()) {
      log.info("event loops on {}", transport.flag());
    } else {
      log.info("event loops on {} (not available: {})", transport.flag(), sockets.passedOver());
    }
    lowerEventLoops(config.server().eventLoopNiceSteps(config.clustered()));
    LoopTicks.start(((VertxInternal) vertx).nettyEventLoopGroup());
  }

  private static NetTransport.Pick pickTransport(NetTransport choice) {
    try {
      return choice.pick();
    } catch (IllegalStateException e) {
      throw new ConfigException(e.getMessage());
    }
  }

  /**
   * Puts the event loops, and with them the collector's concurrent threads and the store's flushes
   * and compactions, below the committers on the CPU ({@link LoopPriority}).
   */
  private void lowerEventLoops(int by) {
    if (by == 0) {
      return;
    }
    LoopPriority.Outcome o =
        LoopPriority.lower(((VertxInternal) vertx).nettyEventLoopGroup(), by, "renice");
    if (o.lowered()) {
      log.info(
          "event loops: {} threads lowered by {} ({}), so that committers get the core first",
          o.threads(),
          by,
          o.detail());
    } else {
      log.warn(
          "could not lower the event loops' CPU priority ({}): on a busy core commits wait for the"
              + " event loops' time slices; --event-loop-nice 0 leaves them alone",
          o.detail());
      return;
    }
    // the collector's concurrent threads and the store's flushes and compactions beside the
    // loops, not above them (LoopPriority); another collector than ZGC has no such threads
    lowerBesideLoops("collector", "threads", LoopPriority::zgcThread, by);
    lowerBesideLoops("store", "flush and compaction threads", LoopPriority::rocksDbThread, by);
  }

  private void lowerBesideLoops(String what, String threads, Predicate<String> named, int by) {
    LoopPriority.Outcome o = LoopPriority.lowerThreads(named, by, "renice");
    if (o.lowered()) {
      log.info(
          "{}: {} {} lowered by {} ({}), beside the event loops",
          what,
          o.threads(),
          threads,
          by,
          o.detail());
    } else {
      log.info("{}: {} left at their priority ({})", what, threads, o.detail());
    }
  }

  /**
   * Connection settings for one region's Redis: the shared credentials and TLS settings. The
   * password comes from --redis-password-file or TALLY_REDIS_PASSWORD, never from a flag.
   */
  static RedisOptions redisOptions(TallyConfig config, List<String> seeds) {
    try {
      return RedisOptions.load(
          seeds,
          config.cluster().redisUser(),
          config.cluster().redisPasswordFile(),
          System.getenv(),
          config.cluster().redisTls(),
          config.cluster().redisCaFile(),
          config.cluster().redisTimeout());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("invalid Redis settings: " + e.getMessage());
    }
  }

  /** Connects to the home region's Redis and every remote region's, and makes the pushers. */
  private SlotPusher joinCluster(TallyConfig config, DataDir dataDir) {
    List<SlotPusher.Target> targets = new java.util.ArrayList<>();
    Map<String, List<String>> regions = new java.util.LinkedHashMap<>();
    regions.put(config.cluster().region(), config.cluster().redis());
    regions.putAll(config.cluster().remoteRegions());
    for (Map.Entry<String, List<String>> region : regions.entrySet()) {
      RedisOptions options = redisOptions(config, region.getValue());
      RedisSlots slots;
      try {
        // an unreachable cluster is not fatal: the node serves and connects in the background
        slots =
            redis.isEmpty() // the home region's connection also carries the live bus
                ? RedisSlots.connectingHome(options, nodeId, config.cluster().redisBuckets())
                : RedisSlots.connecting(options, nodeId, config.cluster().redisBuckets());
      } catch (RuntimeException e) {
        // refused credentials or TLS, or another layout: the configuration must change
        throw new TallyException(
            dev.tally.error.ErrorKind.UNAVAILABLE,
            "cannot use the Redis Cluster of region "
                + region.getKey()
                + " at "
                + String.join(",", region.getValue())
                + ": "
                + e.getMessage(),
            e);
      }
      redis.add(slots);
      targets.add(new SlotPusher.Target(region.getKey(), slots));
    }
    SlotPusher sync =
        new SlotPusher(
            store,
            store,
            targets,
            new SlotPusher.Settings(
                1000,
                200_000,
                config.cluster().redisTimeout(),
                Duration.ofSeconds(1),
                config.cluster().clusterPushInterval()),
            config.store().dataDir(),
            clock,
            metrics.registry());
    Gauge.builder("tally.store.outbox.estimated", store, s -> s.outboxEstimate())
        .description(
            "Counters the outbox names as not yet pushed, over all regions (estimate: entries"
                + " times counters per entry)")
        .register(metrics.registry());
    log.info(
        "cluster member: region {} ({} remote), writer {}, ack {}",
        config.cluster().region(),
        config.cluster().remoteRegions().size(),
        RedisSlots.writerField(nodeId),
        config.cluster().ack());
    return sync;
  }

  /**
   * Starts a node and returns once it serves HTTP.
   *
   * @throws TallyException when the store cannot be opened or the port cannot be bound
   */
  public static Tally start(TallyConfig config, Clock clock) {
    Tally node = new Tally(config, clock);
    try {
      node.startServing();
    } catch (RuntimeException e) {
      node.close();
      throw e;
    }
    return node;
  }

  private void startServing() {
    aggregator.start();
    if (cluster != null) {
      cluster.start();
    }
    if (claimSettler != null) {
      claimSettler.start();
    }
    live.start();
    if (liveBus != null) {
      liveBus.start();
      presence.start();
    }
    LiveApi liveApi =
        new LiveApi(
            store.names(),
            live,
            readCache,
            readExecutor,
            config.live().streamBufferBytes(),
            metrics.registry());
    LocalCountReader localCounts = new LocalCountReader(readCache, readExecutor);
    CountReader counts = localCounts;
    if (cluster != null) {
      liveApi.useClusterShares(
          ids ->
              view.follow(ids)
                  .thenApply(
                      shares -> {
                        long[] others = new long[shares.length];
                        for (int i = 0; i < others.length; i++) {
                          others[i] = shares[i].others();
                        }
                        return others;
                      }));
      counts = new ClusterCountReader(localCounts, view, cluster::homeReachable);
    }
    // one access control for HTTP and the Redis protocol: one set of rate limits per client
    AccessControl access = accessControl(config, clock, metrics);
    dev.tally.store.local.Backups backups =
        new dev.tally.store.local.Backups(
            config.store().backupDir(), store, nodeId, version(), clock);
    HttpApi api =
        new HttpApi(
            store.names(),
            aggregator,
            writePath,
            counts,
            readExecutor,
            health,
            metrics,
            config.server().maxBodyBytes(),
            config.server().maxBatchItems(),
            liveApi,
            access,
            TrustedProxies.parse(config.server().trustedProxies()),
            () -> {
              dev.tally.store.local.Backups.Made made = backups.create();
              return new HttpApi.BackupTaken(made.path().toString(), made.createdAt());
            });
    port =
        listen(
            "HTTP",
            config.server().port(),
            wanted -> {
              HttpServerOptions options =
                  HttpServerVerticle.options(
                      config.server().host(),
                      wanted,
                      config.server().idleTimeout(),
                      config.server().tlsCert(),
                      config.server().tlsKey());
              return vertx.deployVerticle(
                  () -> new HttpServerVerticle(options, api, servers),
                  new DeploymentOptions().setInstances(config.server().eventLoops()));
            });
    if (config.server().respPort() >= 0) {
      startResp(access, writePath, counts);
    }
    health.accepting(true);
  }

  /** The Redis-protocol listener, one per event loop on one port (see the HTTP servers). */
  private void startResp(
      AccessControl access, dev.tally.engine.WritePath writes, CountReader counts) {
    dev.tally.resp.RespCommands commands =
        new dev.tally.resp.RespCommands(
            store.names(), access, writes, counts, version(), metrics.registry());
    respPort =
        listen(
            "the Redis protocol",
            config.server().respPort(),
            wanted -> {
              io.vertx.core.net.NetServerOptions options =
                  dev.tally.resp.RespServerVerticle.options(config.server().host(), wanted);
              return vertx.deployVerticle(
                  () -> new dev.tally.resp.RespServerVerticle(options, commands, respServers),
                  new DeploymentOptions().setInstances(config.server().eventLoops()));
            });
  }

  /**
   * Deploys a listener on {@code configured}, or on a free port when it is 0, and returns the port.
   * Each listener is one server per event loop on one port (Vert.x shares the listening socket
   * between them), so port 0 is resolved first: instances asking for port 0 would each get their
   * own. A free port that another process takes between the pick and the bind is picked again.
   */
  private int listen(
      String what,
      int configured,
      java.util.function.IntFunction<io.vertx.core.Future<String>> deploy) {
    for (int attempt = 1; ; attempt++) {
      int wanted = configured != 0 ? configured : freePort(config.server().host());
      try {
        await(deploy.apply(wanted), what);
        return wanted;
      } catch (TallyException e) {
        if (configured != 0 || attempt == 3) {
          throw e;
        }
        log.debug("free port {} was taken meanwhile; trying another", wanted);
      }
    }
  }

  /**
   * Builds access control from the configuration. Secrets are read here, from their files or the
   * {@code TALLY_AUTH_SECRET} variable, and kept only inside {@link Credentials}.
   */
  static AccessControl accessControl(TallyConfig config, Clock clock, Metrics metrics) {
    byte[] secret = null;
    Map<String, String> keys = new java.util.LinkedHashMap<>();
    try {
      if (config.security().authSecretFile() != null) {
        secret =
            Files.readString(config.security().authSecretFile())
                .strip()
                .getBytes(StandardCharsets.UTF_8);
      } else if (System.getenv("TALLY_AUTH_SECRET") != null) {
        secret = System.getenv("TALLY_AUTH_SECRET").strip().getBytes(StandardCharsets.UTF_8);
      }
      if (config.security().apiKeysFile() != null) {
        int n = 0;
        for (String line : Files.readAllLines(config.security().apiKeysFile())) {
          n++;
          String l = line.strip();
          if (l.isEmpty() || l.startsWith("#")) {
            continue;
          }
          int colon = l.indexOf(':');
          if (colon <= 0 || colon == l.length() - 1) {
            throw new ConfigException(
                "line " + n + " of --api-keys-file is not name:key (the line is not shown)");
          }
          keys.put(l.substring(0, colon).strip(), l.substring(colon + 1).strip());
        }
      }
      RateLimiter<String> perClient =
          config.security().rateLimitClient() > 0
              ? new RateLimiter<>(
                  config.security().rateLimitClient(),
                  burst(
                      config.security().rateLimitClientBurst(),
                      config.security().rateLimitClient()),
                  1_000_000)
              : null;
      RateLimiter<Long> perPost =
          config.security().rateLimitPost() > 0
              ? new RateLimiter<>(
                  config.security().rateLimitPost(),
                  burst(config.security().rateLimitPostBurst(), config.security().rateLimitPost()),
                  1_000_000)
              : null;
      return new AccessControl(
          AccessControl.Mode.valueOf(config.security().auth().toUpperCase(java.util.Locale.ROOT)),
          new Credentials(secret, keys),
          perClient,
          perPost,
          clock,
          metrics.registry());
    } catch (IOException e) {
      throw new ConfigException("cannot read a credentials file: " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("invalid access settings: " + e.getMessage());
    }
  }

  private static int burst(int configured, double rate) {
    return configured > 0 ? configured : (int) Math.max(1, Math.ceil(rate * 2));
  }

  private static int freePort(String host) {
    try (java.net.ServerSocket s = new java.net.ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new java.net.InetSocketAddress(host, 0));
      return s.getLocalPort();
    } catch (IOException e) {
      throw new TallyException(
          dev.tally.error.ErrorKind.UNAVAILABLE,
          "cannot find a free port on " + host + ": " + e,
          e);
    }
  }

  private static <T> T await(Future<T> f, String what) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting", e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new TallyException(
          dev.tally.error.ErrorKind.UNAVAILABLE,
          "cannot start " + what + ": " + cause.getMessage(),
          cause);
    }
  }

  /** The bound HTTP port. */
  public int port() {
    return port;
  }

  /** The socket transport the event loops run on (never {@link NetTransport#AUTO}). */
  public NetTransport transport() {
    return transport;
  }

  /** The Redis-protocol port, or -1 when that listener is off. */
  public int respPort() {
    return respPort;
  }

  public long nodeId() {
    return nodeId;
  }

  public TallyConfig config() {
    return config;
  }

  /**
   * Stops gracefully: not ready, stop accepting, let in-flight requests finish (up to the grace
   * period), commit and answer every queued write, close the store.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    health.accepting(false);
    Duration grace = config.server().shutdownGrace();
    for (io.vertx.core.net.NetServer s : respServers) {
      stopServer("RESP listener", s.shutdown(grace), grace);
    }
    for (HttpServer s : servers) {
      stopServer("HTTP server", s.shutdown(grace), grace);
    }
    if (liveBus != null) {
      presence.close();
      liveBus.close();
    }
    live.close();
    aggregator.close(grace.plusSeconds(5));
    if (claimSettler != null) {
      claimSettler.close();
    }
    if (cluster != null) {
      cluster.close();
    }
    redis.forEach(RedisSlots::close);
    readExecutor.shutdown();
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("event loops did not stop cleanly: {}", e.toString());
    }
    store.close();
    metrics.close();
    log.info("tally stopped");
  }

  /** Waits for a server's graceful shutdown, a second past its grace at most. */
  private static void stopServer(String what, io.vertx.core.Future<Void> stopping, Duration grace) {
    try {
      stopping
          .toCompletionStage()
          .toCompletableFuture()
          .get(grace.toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      log.warn("{} did not stop cleanly: {}", what, e.toString());
    }
  }

  static String version() {
    try (InputStream in = Tally.class.getResourceAsStream("/dev/tally/version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  public static void main(String[] args) {
    if (args.length > 0 && args[0].equals(RetireWriterCommand.NAME)) {
      System.exit(
          RetireWriterCommand.run(
              java.util.Arrays.copyOfRange(args, 1, args.length),
              rest -> {
                TallyConfig c = TallyConfig.parse(rest, System.getenv());
                if (c.cluster().redis().isEmpty()) {
                  throw new ConfigException(
                      "--redis is needed: the Redis Cluster the writer pushed to");
                }
                return new RetireWriterCommand.Target(
                    redisOptions(c, c.cluster().redis()), c.cluster().redisBuckets());
              },
              System.out,
              System.err));
    }
    if (args.length > 0 && args[0].equals(dev.tally.store.local.BackupCommand.NAME)) {
      System.exit(
          dev.tally.store.local.BackupCommand.run(
              java.util.Arrays.copyOfRange(args, 1, args.length),
              System.getenv(),
              System.out,
              System.err));
    }
    if (List.of(args).contains("--help") || List.of(args).contains("-h")) {
      System.out.print(TallyConfig.help());
      return;
    }
    if (List.of(args).contains("--version")) {
      System.out.println("tally " + version());
      return;
    }
    TallyConfig config;
    try {
      config = TallyConfig.parse(args, System.getenv());
    } catch (ConfigException e) {
      System.err.println("tally: " + e.getMessage());
      System.exit(2);
      return;
    }
    dev.tally.logging.Logging.configure(config.logs().logFormat(), config.logs().accessLog());
    Tally node;
    try {
      node = start(config, Clock.systemUTC());
    } catch (ConfigException e) {
      System.err.println("tally: " + e.getMessage());
      System.exit(2);
      return;
    } catch (TallyException e) {
      log.error("tally failed to start: {}", e.getMessage());
      System.exit(1);
      return;
    }
    // SIGTERM/SIGINT: stop gracefully and exit 0; the hook covers every other way out
    Runtime.getRuntime().addShutdownHook(new Thread(node::close, "tally-shutdown"));
    for (String signal : List.of("TERM", "INT")) {
      sun.misc.Signal.handle(
          new sun.misc.Signal(signal),
          sig ->
              Thread.ofPlatform()
                  .name("tally-stop")
                  .start(
                      () -> {
                        log.info("SIG{} received: stopping", sig.getName());
                        node.close();
                        System.exit(0);
                      }));
    }
    log.info(
        "tally {} started: port={} resp-port={} data-dir={} store=rocksdb counters={} node-id={}"
            + " event-loops={} transport={} committers={}",
        version(),
        node.port(),
        node.respPort(),
        config.store().dataDir().toAbsolutePath().normalize(),
        String.join(",", node.store.names().names()),
        String.format("%016x", node.nodeId()),
        config.server().eventLoops(),
        node.transport.flag(),
        config.store().committerThreads(config.clustered()));
    log.info("jvm: Java {}, collector {}", Runtime.version(), Collector.describe());
  }

  /** For tests: the store's configured counters with their codes. */
  Map<String, Integer> counterCodes() {
    return store.names().asMap();
  }

  private static double usableBytes(java.nio.file.Path dir) {
    try {
      return java.nio.file.Files.getFileStore(dir).getUsableSpace();
    } catch (java.io.IOException e) {
      return Double.NaN;
    }
  }

  private static double totalBytes(java.nio.file.Path dir) {
    try {
      return java.nio.file.Files.getFileStore(dir).getTotalSpace();
    } catch (java.io.IOException e) {
      return Double.NaN;
    }
  }
}
