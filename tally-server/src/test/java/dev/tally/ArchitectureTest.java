package dev.tally;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** Holds the dependency direction http → engine → store, with counter depending on nothing. */
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
}
