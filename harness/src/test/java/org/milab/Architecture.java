package org.milab;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;

import java.util.ArrayList;
import java.util.List;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The declared package order of the lab, top to bottom, as ArchUnit rules over any root package (the lab's
 * {@code org.milab}, or a small fixture tree that proves the rules catch a violation). A package may use
 * the packages of the layers below its own; packages that share a layer are siblings and use none of each
 * other. Every package must be placed in a layer, so a new package is a decision, not an accident.
 * docs/architecture.md explains the order; each package's package-info.java says what it owns and uses.
 */
final class Architecture {
    /** Top to bottom; the names are packages under the root. */
    static final List<List<String>> LAYERS = List.of(
            List.of("cli"),
            List.of("bench"),
            List.of("run"),
            List.of("report"),
            List.of("protocol.v2", "attribution", "circuit", "diagnosis"),
            List.of("protocol.reference"),
            List.of("stage"),
            List.of("api"),
            List.of("atp"),
            List.of("lab"),
            List.of("engine"),
            List.of("prompts", "stats", "tables"),
            List.of("catalog"),
            List.of("planted", "model.download", "runtime"),
            List.of("graph"),
            List.of("model", "tokenizer"),
            List.of("util"));

    private Architecture() {}

    /**
     * The classes of the modules that hold {@code anchors} (their class folders or jars, nothing else on the
     * class path: scanning every library jar for the package only slows the import).
     */
    static JavaClasses moduleClasses(Class<?>... anchors) {
        List<java.net.URL> roots = new ArrayList<>();
        for (Class<?> a : anchors) roots.add(a.getProtectionDomain().getCodeSource().getLocation());
        return new ClassFileImporter().importUrls(roots);
    }

    /** Every class under {@code root} with its tests and fixtures (for the fixture trees, which are test sources). */
    static JavaClasses allClasses(String root) {
        return new ClassFileImporter().importPackages(root);
    }

    /** No package (slice) depends, directly or through others, on itself. */
    static ArchRule noCycles(String root) {
        return slices().matching(root + ".(**)").should().beFreeOfCycles();
    }

    /** Each layer is used only by the layers above it. */
    static ArchRule layerOrder(String root) {
        LayeredArchitecture arch = layeredArchitecture().consideringOnlyDependenciesInLayers().withOptionalLayers(true);
        List<String> names = new ArrayList<>();
        for (List<String> layer : LAYERS) {
            String name = String.join("|", layer);
            arch = arch.layer(name).definedBy(layer.stream().map(p -> root + "." + p).toArray(String[]::new));
            names.add(name);
        }
        arch = arch.whereLayer(names.get(0)).mayNotBeAccessedByAnyLayer();
        for (int i = 1; i < names.size(); i++)
            arch = arch.whereLayer(names.get(i)).mayOnlyBeAccessedByLayers(names.subList(0, i).toArray(String[]::new));
        return arch;
    }

    /** Packages of one layer use none of each other (one rule per ordered pair that exists). */
    static List<ArchRule> siblingsApart(String root) {
        List<ArchRule> rules = new ArrayList<>();
        for (List<String> layer : LAYERS)
            for (String a : layer)
                for (String b : layer)
                    if (!a.equals(b))
                        rules.add(noClasses().that().resideInAPackage(root + "." + a)
                                .should().dependOnClassesThat().resideInAPackage(root + "." + b)
                                .allowEmptyShould(true)
                                .because(a + " and " + b + " are siblings in one layer"));
        return rules;
    }

    /** Every class sits in a package some layer declares. */
    static ArchRule everyPackagePlaced(String root) {
        String[] declared = LAYERS.stream().flatMap(List::stream).map(p -> root + "." + p).toArray(String[]::new);
        return classes().that().resideInAPackage(root + "..").should().resideInAnyPackage(declared)
                .because("a new package must be placed in Architecture.LAYERS (and docs/architecture.md)");
    }
}
