package dev.tally.config;

import dev.tally.access.TrustedProxies;
import dev.tally.counter.CounterNames;
import dev.tally.loop.NetTransport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The node's whole configuration, validated, in groups: {@link Server}, {@link Store}, {@link
 * Live}, {@link Security}, {@link Cluster}, {@link Logs}. Immutable. Built once at start by {@link
 * #parse} from command-line flags, then environment variables, then defaults; a bad value stops the
 * start with {@code invalid value X for --flag (TALLY_FLAG): reason}, and options that contradict
 * or need each other are checked by the group that holds them, naming the options.
 */
public record TallyConfig(
    Server server, Store store, Live live, Security security, Cluster cluster, Logs logs) {

  /** An integer option's value {@code auto}: the node picks. */
  public static final int AUTO = -1;

  /** Most nice steps {@code --event-loop-nice} takes: Linux's range of nice values, 0 to 19. */
  public static final int MAX_NICE_STEPS = 19;

  /**
   * The HTTP server.
   *
   * @param host address the HTTP server binds
   * @param port HTTP port; 0 picks a free one (logged at start)
   * @param respPort Redis-protocol port; -1 off, 0 picks a free one (logged at start)
   * @param eventLoops HTTP event-loop threads
   * @param eventLoopNice nice steps the event loops run below the committers (Linux); 0 leaves them
   *     alone, {@link #AUTO} lets the node pick ({@link #eventLoopNiceSteps}; {@link
   *     dev.tally.loop.LoopPriority})
   * @param transport the kernel interface of the event loops' sockets ({@link NetTransport})
   * @param idleTimeout idle connections are closed after this long
   * @param shutdownGrace how long a stop waits for in-flight requests
   * @param maxBodyBytes largest request body accepted
   * @param maxBatchItems most items in one batch read or batch write
   * @param readThreads threads that read the store when a counter is not cached
   * @param tlsCert PEM certificate for HTTPS, or null for plain HTTP
   * @param tlsKey PEM private key for HTTPS, or null
   * @param trustedProxies addresses and CIDR blocks of the load balancers whose {@code
   *     X-Forwarded-For} names the client (validated by {@link TrustedProxies#parse}); blank for
   *     none
   */
  public record Server(
      String host,
      int port,
      int respPort,
      int eventLoops,
      int eventLoopNice,
      NetTransport transport,
      Duration idleTimeout,
      Duration shutdownGrace,
      int maxBodyBytes,
      int maxBatchItems,
      int readThreads,
      Path tlsCert,
      Path tlsKey,
      String trustedProxies) {

    public Server {
      if (transport == null) {
        throw new ConfigException("--transport must be given: auto, io_uring, epoll or nio");
      }
      if ((tlsCert == null) != (tlsKey == null)) {
        throw new ConfigException("--tls-cert and --tls-key go together: give both or neither");
      }
      if (eventLoopNice != AUTO && (eventLoopNice < 0 || eventLoopNice > MAX_NICE_STEPS)) {
        throw new ConfigException(
            "--event-loop-nice must be between 0 and " + MAX_NICE_STEPS + ", or auto");
      }
    }

    /**
     * The nice steps to lower the event loops by: {@code eventLoopNice}, or when {@link #AUTO} 4
     * for a standalone node and 0 for a cluster member, whose pushers, Redis client and bus would
     * otherwise rank above its event loops (ADR 0009).
     */
    public int eventLoopNiceSteps(boolean clustered) {
      if (eventLoopNice != AUTO) {
        return eventLoopNice;
      }
      return clustered ? 0 : 4;
    }
  }

  /**
   * The store and the write engine.
   *
   * @param dataDir where the node keeps its store and identity
   * @param counters counter names served under {@code /v1/{postId}/{counter}}
   * @param idempotencyRetention how long an {@code Idempotency-Key} is remembered
   * @param maxBatchWrites most writes in one group commit
   * @param maxPendingWrites most writes waiting for a commit; beyond that writes get 503
   * @param cacheCounters counters kept in memory by each of the write and read caches
   * @param blockCacheMb RocksDB block cache size, MiB
   * @param walLimitMb the write-ahead logs' bound, MiB: beyond it the store flushes what pins the
   *     oldest log, which bounds the replay after a crash
   * @param spareLogMb the size, MiB, of each spent write-ahead log a new store is given to write
   *     over from its first commit (0: none; see {@code SpareLogs})
   * @param backupDir where online backups go ({@code POST /admin/backup}), or null: off
   * @param committers committer threads, each owning a share of the counters; 0: chosen from the
   *     cores (see {@link #committerThreads})
   */
  public record Store(
      Path dataDir,
      List<String> counters,
      Duration idempotencyRetention,
      int maxBatchWrites,
      int maxPendingWrites,
      int cacheCounters,
      int blockCacheMb,
      int walLimitMb,
      int spareLogMb,
      Path backupDir,
      int committers) {

    /**
     * The committer threads to run: {@code committers}, or when 0 one per four cores, 1 to 8 (one
     * for a cluster member, whose commits are written one at a time: see {@code
     * Aggregator.orderCommits}).
     */
    public int committerThreads(boolean clustered) {
      if (committers > 0) {
        return committers;
      }
      if (clustered) {
        return 1;
      }
      return Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors() / 4));
    }
  }

  /**
   * Live counts: event streams and heartbeats.
   *
   * @param streamCoalesce least time between two events of one post's stream (changes in between
   *     are merged; the latest value is always sent)
   * @param streamKeepAlive how often an idle stream gets a keep-alive comment
   * @param maxStreams most open streams on the node; more get 503
   * @param streamBufferBytes bytes a stream may have waiting to be sent before it is dropped
   * @param heartbeatTtl how long one heartbeat counts a viewer as watching
   * @param maxHeartbeatViewers most heartbeat viewers remembered at once; new ones beyond get 503
   */
  public record Live(
      Duration streamCoalesce,
      Duration streamKeepAlive,
      int maxStreams,
      int streamBufferBytes,
      Duration heartbeatTtl,
      int maxHeartbeatViewers) {}

  /**
   * Credentials and rate limits (docs/security.md).
   *
   * @param auth who needs credentials: off, writes or all
   * @param authSecretFile file with the HMAC secret of signed tokens, or null
   * @param apiKeysFile file of {@code name:key} API keys, or null
   * @param rateLimitClient requests per second per client, 0 for none
   * @param rateLimitClientBurst burst per client, 0 for twice the rate
   * @param rateLimitPost increments per second per post, 0 for none
   * @param rateLimitPostBurst burst per post, 0 for twice the rate
   */
  public record Security(
      String auth,
      Path authSecretFile,
      Path apiKeysFile,
      double rateLimitClient,
      int rateLimitClientBurst,
      double rateLimitPost,
      int rateLimitPostBurst) {

    public Security {
      if (rateLimitClientBurst > 0 && rateLimitClient == 0) {
        throw new ConfigException(
            "--rate-limit-client-burst needs --rate-limit-client (a burst of a rate that is off)");
      }
      if (rateLimitPostBurst > 0 && rateLimitPost == 0) {
        throw new ConfigException(
            "--rate-limit-post-burst needs --rate-limit-post (a burst of a rate that is off)");
      }
    }
  }

  /**
   * Cluster membership through Redis (docs/cluster.md); an empty {@code redis} for a single node.
   *
   * @param redis seeds of the home region's Redis Cluster; empty for a single node
   * @param ack when a write counts as acknowledged in cluster mode: local or cluster
   * @param ackTimeout how long a write waits for the cluster with {@code ack=cluster}
   * @param idempotency what a keyed write does when its key cannot be claimed cluster-wide: strict
   *     (refuse, 503) or available (apply with the node's own record)
   * @param idempotencyLease how long a pending claim stays with {@code idempotency=available}
   * @param redisTimeout bound on every Redis command and connection attempt
   * @param region this node's region
   * @param remoteRegions other regions' Redis seeds, by region name; this node pushes there too
   * @param redisUser ACL user for every region's Redis, or null for the default user
   * @param redisPasswordFile file holding the Redis password, or null (then TALLY_REDIS_PASSWORD)
   * @param redisTls connect to Redis over TLS
   * @param redisCaFile PEM CA certificates trusted for Redis TLS, or null for the JVM's
   * @param redisBuckets bucket hashes the counters are spread over in Redis; the same on every node
   * @param clusterFollowMax most counters whose other writers' shares a cluster node holds in
   *     memory
   * @param clusterPushInterval least time between two push rounds to Redis while writes keep coming
   */
  public record Cluster(
      List<String> redis,
      String ack,
      Duration ackTimeout,
      String idempotency,
      Duration idempotencyLease,
      Duration redisTimeout,
      String region,
      Map<String, List<String>> remoteRegions,
      String redisUser,
      Path redisPasswordFile,
      boolean redisTls,
      Path redisCaFile,
      int redisBuckets,
      int clusterFollowMax,
      Duration clusterPushInterval) {

    public Cluster {
      if (redis.isEmpty() && !remoteRegions.isEmpty()) {
        throw new ConfigException("--remote-regions needs --redis (the home region's Redis)");
      }
      // options that mean nothing alone: refused, rather than silently doing nothing
      if (redis.isEmpty()) {
        needsRedis(ack.equals("cluster"), "--ack cluster");
        needsRedis(idempotency.equals("strict"), "--idempotency strict");
        needsRedis(redisUser != null, "--redis-user");
        needsRedis(redisPasswordFile != null, "--redis-password-file");
        needsRedis(redisTls, "--redis-tls");
      }
      if (redisCaFile != null && !redisTls) {
        throw new ConfigException("--redis-ca-file needs --redis-tls true (it is what TLS trusts)");
      }
      if (remoteRegions.containsKey(region)) {
        throw new ConfigException(
            "--remote-regions lists this node's own region '" + region + "' (see --region)");
      }
    }

    /** True when the node is a member of a cluster (shares counts through Redis). */
    public boolean clustered() {
      return !redis.isEmpty();
    }
  }

  /**
   * Log output.
   *
   * @param logFormat log lines as text or as one JSON object per line
   * @param accessLog log one line per HTTP request (logger tally.access)
   */
  public record Logs(String logFormat, boolean accessLog) {}

  private static void needsRedis(boolean given, String what) {
    if (given) {
      throw new ConfigException(what + " needs --redis: it only applies to a cluster member");
    }
  }

  /** True when the node is a member of a cluster (shares counts through Redis). */
  public boolean clustered() {
    return cluster.clustered();
  }

  public static final Option<String> HOST =
      new Option<>("host", "0.0.0.0", "address to listen on", Parsers::nonEmpty);
  public static final Option<Integer> PORT =
      new Option<>("port", "8080", "HTTP port; 0 picks a free port", Parsers.intIn(0, 65535));
  public static final Option<Integer> RESP_PORT =
      new Option<>(
          "resp-port",
          "-1",
          "port of the Redis-protocol listener (INCR, GET, … on <counter>:<postId> keys,"
              + " docs/resp.md); -1: off, 0 picks a free port",
          Parsers.intIn(-1, 65535));
  public static final Option<Path> DATA_DIR =
      new Option<>(
          "data-dir",
          "./data",
          "directory for the store and the node's id",
          s -> Path.of(Parsers.nonEmpty(s)));
  public static final Option<List<String>> COUNTERS =
      new Option<>(
          "counters",
          "likes,views",
          "comma-separated counter names served at /v1/{postId}/{name}",
          Parsers.nameList(
              s -> {
                CounterNames.checkName(s);
                return s;
              }));
  public static final Option<Duration> IDEMPOTENCY_RETENTION =
      new Option<>(
          "idempotency-retention",
          "24h",
          "how long an Idempotency-Key is remembered (1m..30d)",
          Parsers.durationIn(Duration.ofMinutes(1), Duration.ofDays(30)));
  public static final Option<Integer> EVENT_LOOPS =
      new Option<>(
          "event-loops",
          Integer.toString(Runtime.getRuntime().availableProcessors()),
          "HTTP event-loop threads (default: one per core)",
          Parsers.intIn(1, 256));
  public static final Option<Integer> EVENT_LOOP_NICE =
      new Option<>(
          "event-loop-nice",
          "auto",
          "nice steps the event loops (with ZGC's concurrent threads and the store's flushes and"
              + " compactions) run below the committers, so that a committer gets the core as soon"
              + " as its sync returns (Linux; 0 to 19, 0: leave them alone; auto: 4, or 0 in a"
              + " cluster member)",
          Parsers.autoOrIntIn(0, MAX_NICE_STEPS));
  public static final Option<NetTransport> TRANSPORT =
      new Option<>(
          "transport",
          "auto",
          "the event loops' socket interface: io_uring, epoll or nio (Linux; auto: io_uring where"
              + " the kernel allows it, else epoll, else nio)",
          NetTransport::parse);
  public static final Option<Integer> MAX_BATCH_WRITES =
      new Option<>(
          "max-batch-writes",
          "20000",
          "most writes committed in one durable group commit",
          Parsers.intIn(1, 1_000_000));
  public static final Option<Integer> COMMITTERS =
      new Option<>(
          "committers",
          "0",
          "committer threads, each owning a share of the counters (0: one per four cores, 1 to 8;"
              + " one in a cluster member)",
          Parsers.intIn(0, 64));
  public static final Option<Integer> MAX_PENDING_WRITES =
      new Option<>(
          "max-pending-writes",
          "200000",
          "most writes waiting for a commit; more are answered 503 with Retry-After",
          Parsers.intIn(1, 100_000_000));
  public static final Option<Integer> MAX_BODY_BYTES =
      new Option<>(
          "max-body-bytes",
          "1048576",
          "largest request body accepted; larger ones get 413",
          Parsers.intIn(64, 64 << 20));
  public static final Option<Integer> MAX_BATCH_ITEMS =
      new Option<>(
          "max-batch-items",
          "1000",
          "most items in one batch read or batch write; more get 413",
          Parsers.intIn(1, 100_000));
  public static final Option<Integer> CACHE_COUNTERS =
      new Option<>(
          "cache-counters",
          "1000000",
          "counters kept in memory by each of the write and the read cache",
          Parsers.intIn(1_000, 100_000_000));
  public static final Option<Integer> BLOCK_CACHE_MB =
      new Option<>("block-cache-mb", "128", "RocksDB block cache, MiB", Parsers.intIn(8, 1 << 20));
  public static final Option<Integer> WAL_LIMIT_MB =
      new Option<>(
          "wal-limit-mb",
          "256",
          "write-ahead log kept under about this many MiB: what a restart after a crash replays",
          Parsers.intIn(1, 1 << 16));
  public static final Option<Integer> SPARE_LOG_MB =
      new Option<>(
          "spare-log-mb",
          "32",
          "a new data directory's first two write-ahead logs are written ahead, this many MiB"
              + " each (at most a quarter of --wal-limit-mb; 0: off), so their first commits'"
              + " syncs write no file sizes",
          Parsers.intIn(0, 1 << 14));
  public static final Option<Integer> READ_THREADS =
      new Option<>(
          "read-threads",
          "4",
          "threads that read the store for counters not in memory",
          Parsers.intIn(1, 256));
  public static final Option<Duration> SHUTDOWN_GRACE =
      new Option<>(
          "shutdown-grace",
          "10s",
          "how long a stop (SIGTERM) waits for in-flight requests",
          Parsers.durationIn(Duration.ZERO, Duration.ofMinutes(10)));

  public static final Option<Duration> STREAM_COALESCE =
      new Option<>(
          "stream-coalesce",
          "250ms",
          "least time between two events of one post's stream; changes in between are merged",
          Parsers.durationIn(Duration.ofMillis(10), Duration.ofSeconds(10)));
  public static final Option<Duration> STREAM_KEEPALIVE =
      new Option<>(
          "stream-keepalive",
          "15s",
          "how often an idle event stream gets a keep-alive comment",
          Parsers.durationIn(Duration.ofSeconds(1), Duration.ofMinutes(5)));
  public static final Option<Integer> MAX_STREAMS =
      new Option<>(
          "max-streams",
          "20000",
          "most open event streams on the node; more are answered 503",
          Parsers.intIn(1, 1_000_000));
  public static final Option<Integer> STREAM_BUFFER_BYTES =
      new Option<>(
          "stream-buffer-bytes",
          "65536",
          "bytes a stream may have waiting to be sent; a client that falls further behind is"
              + " dropped",
          Parsers.intIn(1024, 16 << 20));
  public static final Option<Duration> HEARTBEAT_TTL =
      new Option<>(
          "heartbeat-ttl",
          "30s",
          "how long one heartbeat counts a viewer as watching",
          Parsers.durationIn(Duration.ofSeconds(1), Duration.ofHours(1)));
  public static final Option<Integer> MAX_HEARTBEAT_VIEWERS =
      new Option<>(
          "max-heartbeat-viewers",
          "200000",
          "most heartbeat viewers remembered at once; heartbeats of new viewers beyond get 503",
          Parsers.intIn(1, 10_000_000));

  public static final Option<String> AUTH =
      new Option<>(
          "auth",
          "off",
          "who needs credentials: off, writes (writes need them) or all (reads too); see docs/security.md",
          s -> {
            if (!s.equals("off") && !s.equals("writes") && !s.equals("all")) {
              throw new IllegalArgumentException("must be off, writes or all");
            }
            return s;
          });
  public static final Option<Path> AUTH_SECRET_FILE =
      new Option<>(
          "auth-secret-file",
          "",
          "file holding the HMAC secret of signed tokens (or set TALLY_AUTH_SECRET)",
          Parsers::optionalPath);
  public static final Option<Path> API_KEYS_FILE =
      new Option<>(
          "api-keys-file",
          "",
          "file of name:key lines, the API keys that may write",
          Parsers::optionalPath);
  public static final Option<Double> RATE_LIMIT_CLIENT =
      new Option<>(
          "rate-limit-client",
          "0",
          "requests per second per client (credential subject, else address); 0 = no limit",
          Parsers.rate());
  public static final Option<Integer> RATE_LIMIT_CLIENT_BURST =
      new Option<>(
          "rate-limit-client-burst",
          "0",
          "requests a client may make at once; 0 = twice the rate",
          Parsers.intIn(0, 10_000_000));
  public static final Option<Double> RATE_LIMIT_POST =
      new Option<>(
          "rate-limit-post", "0", "increments per second per post; 0 = no limit", Parsers.rate());
  public static final Option<Integer> RATE_LIMIT_POST_BURST =
      new Option<>(
          "rate-limit-post-burst",
          "0",
          "increments a post may take at once; 0 = twice the rate",
          Parsers.intIn(0, 10_000_000));
  public static final Option<String> TRUSTED_PROXIES =
      new Option<>(
          "trusted-proxies",
          "",
          "load balancers (IP addresses, CIDR blocks, comma-separated) whose X-Forwarded-For names"
              + " the client for rate limits; empty = the header is ignored",
          s -> {
            TrustedProxies.parse(s);
            return s.trim();
          });
  public static final Option<Duration> IDLE_TIMEOUT =
      new Option<>(
          "idle-timeout",
          "60s",
          "close connections (not event streams) that send and receive nothing for this long",
          Parsers.durationIn(Duration.ofSeconds(1), Duration.ofHours(1)));
  public static final Option<Path> TLS_CERT =
      new Option<>(
          "tls-cert",
          "",
          "PEM certificate (chain): serve HTTPS instead of HTTP",
          Parsers::optionalPath);
  public static final Option<Path> TLS_KEY =
      new Option<>("tls-key", "", "PEM private key of --tls-cert", Parsers::optionalPath);
  public static final Option<List<String>> REDIS =
      new Option<>(
          "redis",
          "",
          "host:port[,host:port...] of the Redis Cluster to share counts through; empty = single node",
          Parsers::addresses);
  public static final Option<String> ACK =
      new Option<>(
          "ack",
          "local",
          "cluster mode: acknowledge writes once durable on the node (local) or also in Redis (cluster)",
          Parsers.oneOf("local", "cluster"));
  public static final Option<Duration> ACK_TIMEOUT =
      new Option<>(
          "ack-timeout",
          "5s",
          "with --ack cluster: longest wait for Redis before answering 504 (the write stays durable)",
          Parsers.durationIn(Duration.ofMillis(10), Duration.ofMinutes(5)));
  public static final Option<String> IDEMPOTENCY =
      new Option<>(
          "idempotency",
          "available",
          "cluster mode: a keyed write whose key cannot be claimed in Redis is refused with 503"
              + " (strict: never applied twice) or applied with the node's own record (available)",
          Parsers.oneOf("strict", "available"));
  public static final Option<Duration> IDEMPOTENCY_LEASE =
      new Option<>(
          "idempotency-lease",
          "60s",
          "with --idempotency available: how long a claim stays pending for a node that stopped"
              + " before answering (then a retry elsewhere may apply again)",
          Parsers.durationIn(Duration.ofSeconds(1), Duration.ofHours(24)));
  public static final Option<Duration> REDIS_TIMEOUT =
      new Option<>(
          "redis-timeout",
          "2s",
          "bound on every Redis command and connection attempt",
          Parsers.durationIn(Duration.ofMillis(10), Duration.ofMinutes(1)));
  public static final Option<String> REGION =
      new Option<>("region", "local", "this node's region name", Parsers::regionName);
  public static final Option<String> REDIS_USER =
      new Option<>(
          "redis-user",
          "",
          "Redis ACL user (every region); empty = the default user",
          s -> s.isBlank() ? null : s.strip());
  public static final Option<Path> REDIS_PASSWORD_FILE =
      new Option<>(
          "redis-password-file",
          "",
          "file holding the Redis password; or set TALLY_REDIS_PASSWORD (never a flag)",
          Parsers::optionalPath);
  public static final Option<Boolean> REDIS_TLS =
      new Option<>(
          "redis-tls",
          "false",
          "connect to Redis over TLS, verifying its certificate",
          Parsers::bool);
  public static final Option<Path> REDIS_CA_FILE =
      new Option<>(
          "redis-ca-file",
          "",
          "PEM CA certificates trusted for --redis-tls; empty = the JVM's trust store",
          Parsers::optionalPath);
  public static final Option<Integer> REDIS_BUCKETS =
      new Option<>(
          "redis-buckets",
          "65536",
          "hashes the counters are spread over in Redis (≈ counters / 100 keeps ≈ 30 B per"
              + " counter); every node of a cluster must use the same",
          Parsers.intIn(1, 1 << 24));
  public static final Option<Integer> CLUSTER_FOLLOW_MAX =
      new Option<>(
          "cluster-follow-max",
          "1000000",
          "counters whose other nodes' shares a cluster node keeps in memory, to answer reads"
              + " without Redis (≈ 200 B each); least recently used beyond it are read again",
          Parsers.intIn(1, 1 << 30));
  public static final Option<Duration> CLUSTER_PUSH_INTERVAL =
      new Option<>(
          "cluster-push-interval",
          "25ms",
          "least time between two pushes of a node's changed counters to Redis while writes keep"
              + " coming: longer costs Redis less per write (more counters per call, a busy"
              + " counter once per round) and delays other nodes' view as long",
          Parsers.durationIn(Duration.ZERO, Duration.ofSeconds(10)));
  public static final Option<Map<String, List<String>>> REMOTE_REGIONS =
      new Option<>(
          "remote-regions",
          "",
          "other regions' Redis: name=host:port[,...][;name=...]; slots are pushed there too",
          Parsers::regions);

  /** Every option, in the order {@code --help} lists them. */
  public static final Option<String> LOG_FORMAT =
      new Option<>(
          "log-format",
          "text",
          "log lines as text or as one JSON object per line (json: time, level, logger, thread,"
              + " message, node id and region)",
          Parsers.oneOf("text", "json"));

  public static final Option<Path> BACKUP_DIR =
      new Option<>(
          "backup-dir",
          "",
          "directory for online backups (POST /admin/backup, tally backup); empty: backups off",
          Parsers::optionalPath);

  public static final Option<Boolean> ACCESS_LOG =
      new Option<>(
          "access-log",
          "false",
          "log one line per HTTP request (logger tally.access: method, path, status, duration,"
              + " client address)",
          Parsers::bool);
  public static final List<Option<?>> OPTIONS =
      List.of(
          HOST,
          PORT,
          RESP_PORT,
          DATA_DIR,
          COUNTERS,
          IDEMPOTENCY_RETENTION,
          EVENT_LOOPS,
          EVENT_LOOP_NICE,
          TRANSPORT,
          MAX_BATCH_WRITES,
          MAX_PENDING_WRITES,
          COMMITTERS,
          MAX_BODY_BYTES,
          MAX_BATCH_ITEMS,
          CACHE_COUNTERS,
          BLOCK_CACHE_MB,
          WAL_LIMIT_MB,
          SPARE_LOG_MB,
          READ_THREADS,
          SHUTDOWN_GRACE,
          STREAM_COALESCE,
          STREAM_KEEPALIVE,
          MAX_STREAMS,
          STREAM_BUFFER_BYTES,
          HEARTBEAT_TTL,
          MAX_HEARTBEAT_VIEWERS,
          AUTH,
          AUTH_SECRET_FILE,
          API_KEYS_FILE,
          RATE_LIMIT_CLIENT,
          RATE_LIMIT_CLIENT_BURST,
          RATE_LIMIT_POST,
          RATE_LIMIT_POST_BURST,
          TRUSTED_PROXIES,
          IDLE_TIMEOUT,
          TLS_CERT,
          TLS_KEY,
          REDIS,
          ACK,
          ACK_TIMEOUT,
          IDEMPOTENCY,
          IDEMPOTENCY_LEASE,
          REDIS_TIMEOUT,
          REGION,
          REMOTE_REGIONS,
          REDIS_USER,
          REDIS_PASSWORD_FILE,
          REDIS_TLS,
          REDIS_CA_FILE,
          REDIS_BUCKETS,
          CLUSTER_FOLLOW_MAX,
          CLUSTER_PUSH_INTERVAL,
          LOG_FORMAT,
          ACCESS_LOG,
          BACKUP_DIR);

  /** The defaults, as if started with no flags and an empty environment. */
  public static TallyConfig defaults() {
    return parse(new String[0], Map.of());
  }

  /**
   * Reads flags ({@code --name value} or {@code --name=value}), then {@code env}, then defaults.
   *
   * @throws ConfigException on an unknown flag, a flag without value, or an invalid value
   */
  public static TallyConfig parse(String[] args, Map<String, String> env) {
    Map<String, String> given = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new ConfigException("unexpected argument '" + a + "' (see --help)");
      }
      String name = a.substring(2);
      String value;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        value = name.substring(eq + 1);
        name = name.substring(0, eq);
      } else if (i + 1 < args.length) {
        value = args[++i];
      } else {
        throw new ConfigException("option --" + name + " needs a value");
      }
      final String n = name;
      if (OPTIONS.stream().noneMatch(o -> o.name().equals(n))) {
        throw new ConfigException("unknown option --" + name + " (see --help)");
      }
      given.put(name, value);
    }
    Values v = new Values(given, env);
    return new TallyConfig(
        new Server(
            v.get(HOST),
            v.get(PORT),
            v.get(RESP_PORT),
            v.get(EVENT_LOOPS),
            v.get(EVENT_LOOP_NICE),
            v.get(TRANSPORT),
            v.get(IDLE_TIMEOUT),
            v.get(SHUTDOWN_GRACE),
            v.get(MAX_BODY_BYTES),
            v.get(MAX_BATCH_ITEMS),
            v.get(READ_THREADS),
            v.get(TLS_CERT),
            v.get(TLS_KEY),
            v.get(TRUSTED_PROXIES)),
        new Store(
            v.get(DATA_DIR),
            v.get(COUNTERS),
            v.get(IDEMPOTENCY_RETENTION),
            v.get(MAX_BATCH_WRITES),
            v.get(MAX_PENDING_WRITES),
            v.get(CACHE_COUNTERS),
            v.get(BLOCK_CACHE_MB),
            v.get(WAL_LIMIT_MB),
            v.get(SPARE_LOG_MB),
            v.get(BACKUP_DIR),
            v.get(COMMITTERS)),
        new Live(
            v.get(STREAM_COALESCE),
            v.get(STREAM_KEEPALIVE),
            v.get(MAX_STREAMS),
            v.get(STREAM_BUFFER_BYTES),
            v.get(HEARTBEAT_TTL),
            v.get(MAX_HEARTBEAT_VIEWERS)),
        new Security(
            v.get(AUTH),
            v.get(AUTH_SECRET_FILE),
            v.get(API_KEYS_FILE),
            v.get(RATE_LIMIT_CLIENT),
            v.get(RATE_LIMIT_CLIENT_BURST),
            v.get(RATE_LIMIT_POST),
            v.get(RATE_LIMIT_POST_BURST)),
        new Cluster(
            v.get(REDIS),
            v.get(ACK),
            v.get(ACK_TIMEOUT),
            v.get(IDEMPOTENCY),
            v.get(IDEMPOTENCY_LEASE),
            v.get(REDIS_TIMEOUT),
            v.get(REGION),
            v.get(REMOTE_REGIONS),
            v.get(REDIS_USER),
            v.get(REDIS_PASSWORD_FILE),
            v.get(REDIS_TLS),
            v.get(REDIS_CA_FILE),
            v.get(REDIS_BUCKETS),
            v.get(CLUSTER_FOLLOW_MAX),
            v.get(CLUSTER_PUSH_INTERVAL)),
        new Logs(v.get(LOG_FORMAT), v.get(ACCESS_LOG)));
  }

  /** A copy with another port and data dir; for tests and tools. */
  public TallyConfig withPortAndDataDir(int newPort, Path newDataDir) {
    return new TallyConfig(
        new Server(
            server.host(),
            newPort,
            server.respPort(),
            server.eventLoops(),
            server.eventLoopNice(),
            server.transport(),
            server.idleTimeout(),
            server.shutdownGrace(),
            server.maxBodyBytes(),
            server.maxBatchItems(),
            server.readThreads(),
            server.tlsCert(),
            server.tlsKey(),
            server.trustedProxies()),
        new Store(
            newDataDir,
            store.counters(),
            store.idempotencyRetention(),
            store.maxBatchWrites(),
            store.maxPendingWrites(),
            store.cacheCounters(),
            store.blockCacheMb(),
            store.walLimitMb(),
            store.spareLogMb(),
            store.backupDir(),
            store.committers()),
        live,
        security,
        cluster,
        logs);
  }

  /** The {@code --help} text: every option with its variable, default and meaning. */
  public static String help() {
    StringBuilder sb =
        new StringBuilder(
            "usage: java -jar tally.jar [--option value]...\n\n"
                + "Every option can also be set by its environment variable; a flag wins.\n\n");
    for (Option<?> o : OPTIONS) {
      sb.append(
          String.format(
              "  %-26s %-30s %s (default: %s)%n", o.flag(), o.env(), o.doc(), o.defaultValue()));
    }
    return sb.toString();
  }

  private record Values(Map<String, String> given, Map<String, String> env) {
    <T> T get(Option<T> o) {
      String raw = given.get(o.name());
      if (raw == null) {
        raw = env.get(o.env());
      }
      return o.parse(raw == null ? o.defaultValue() : raw);
    }
  }
}
