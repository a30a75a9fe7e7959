package org.milab;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The package graph of the lab (export and harness main classes) has no cycle and follows the declared
 * layer order ({@link Architecture#LAYERS}). ArchitectureRulesCatchTest proves each rule fails on a
 * planted violation.
 */
class ArchitectureTest {
    private static JavaClasses lab;

    @BeforeAll
    static void importLab() {
        lab = Architecture.moduleClasses(org.milab.cli.Main.class, org.milab.graph.HookNames.class);
        // both modules are in the import, so the rules below cannot pass by seeing nothing
        assertThat(lab.contain("org.milab.cli.Main")).isTrue();
        assertThat(lab.contain("org.milab.graph.HookNames")).isTrue();
        assertThat(lab.contain("org.milab.catalog.ModelExports")).isTrue();
        assertThat(lab.stream().anyMatch(c -> c.getSimpleName().endsWith("Test"))).as("test classes left out").isFalse();
    }

    @Test
    void noPackageCycles() {
        Architecture.noCycles("org.milab").check(lab);
    }

    @Test
    void layersInOneDirection() {
        Architecture.layerOrder("org.milab").check(lab);
    }

    @Test
    void siblingPackagesStayApart() {
        for (ArchRule r : Architecture.siblingsApart("org.milab")) r.check(lab);
    }

    @Test
    void everyPackageIsPlaced() {
        Architecture.everyPackagePlaced("org.milab").check(lab);
    }
}
