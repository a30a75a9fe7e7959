package org.milab.spark;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.util.List;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Spark sits beside cli at the top of the package order (harness ArchitectureTest asserts the rest): it may
 * use run, the reference protocol's matrix, lab, engine and the export packages, never cli or report; and
 * with spark in, the package graph of all three modules still has no cycle.
 */
class SparkArchitectureTest {
    private static JavaClasses modules() {
        List<URL> roots = List.of(location(SparkEngine.class), location(org.milab.cli.Main.class), location(org.milab.graph.HookNames.class));
        JavaClasses all = new ClassFileImporter().importUrls(roots);
        assertThat(all.contain(SparkEngine.class)).isTrue();
        assertThat(all.contain(org.milab.cli.Main.class)).isTrue();
        return all;
    }

    private static URL location(Class<?> c) {
        return c.getProtectionDomain().getCodeSource().getLocation();
    }

    @Test
    void sparkUsesNeitherCliNorReport() {
        noClasses().that().resideInAPackage("org.milab.spark").should().dependOnClassesThat()
                .resideInAnyPackage("org.milab.cli", "org.milab.report").check(modules());
    }

    @Test
    void nothingOutsideSparkUsesSpark() {
        noClasses().that().resideOutsideOfPackage("org.milab.spark").and().resideInAPackage("org.milab..")
                .should().dependOnClassesThat().resideInAPackage("org.milab.spark").check(modules());
    }

    @Test
    void noPackageCyclesAcrossModules() {
        slices().matching("org.milab.(**)").should().beFreeOfCycles().check(modules());
    }
}
