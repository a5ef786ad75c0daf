package dev.tally;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * Holds the dependency direction http → engine → store | cluster, with counter depending on
 * nothing: HTTP knows neither the cluster nor the store, the engine knows neither, live counts and
 * access control stay free of HTTP and Redis.
 */
class ArchitectureTest {

  private static final JavaClasses CLASSES =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .importPackages("dev.tally");

  @Test
  void counter_dependsOnNoOtherComponent() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.counter..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "dev.tally.engine..",
            "dev.tally.store..",
            "dev.tally.http..",
            "dev.tally.config..",
            "dev.tally.metrics..",
            "io.vertx..",
            "org.rocksdb..")
        .check(CLASSES);
  }

  @Test
  void store_doesNotKnowTheEngineOrHttp() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.store..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("dev.tally.engine..", "dev.tally.http..", "io.vertx..")
        .check(CLASSES);
  }

  @Test
  void engine_doesNotKnowHttp() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.engine..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("dev.tally.http..", "io.vertx..")
        .check(CLASSES);
  }

  @Test
  void http_knowsNeitherTheClusterNorTheStore() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.http..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("dev.tally.cluster..", "dev.tally.store..", "io.lettuce..")
        .check(CLASSES);
  }

  @Test
  void engine_doesNotKnowTheClusterOrLiveCounts() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.engine..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("dev.tally.cluster..", "dev.tally.live..", "io.lettuce..")
        .check(CLASSES);
  }

  @Test
  void cluster_doesNotKnowHttp() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.cluster..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("dev.tally.http..", "dev.tally.access..", "io.vertx..")
        .check(CLASSES);
  }

  @Test
  void live_knowsNeitherRedisNorHttp() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.live..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "dev.tally.cluster..", "dev.tally.http..", "io.lettuce..", "org.rocksdb..")
        .check(CLASSES);
  }

  @Test
  void access_dependsOnlyOnErrors() {
    noClasses()
        .that()
        .resideInAPackage("dev.tally.access..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "dev.tally.engine..",
            "dev.tally.store..",
            "dev.tally.cluster..",
            "dev.tally.live..",
            "dev.tally.http..",
            "io.vertx..",
            "io.lettuce..")
        .check(CLASSES);
  }
}
