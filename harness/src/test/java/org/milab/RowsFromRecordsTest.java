package org.milab;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.AccessTarget;
import com.tngtech.archunit.core.domain.JavaAccess;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import org.junit.jupiter.api.Test;
import org.milab.tables.TableBuilder;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Records are the table rows (issue 19): outside the {@code tables} package no class builds a row by column-name
 * strings or by position ({@code TableBuilder.addRow(Map)}, {@code addRow(Object...)}, {@code row().set(..)}, called or passed as a
 * method reference); it
 * writes records through {@code RecordSchema}, so a renamed component renames the column and no column name is
 * written twice. Exceptions would be listed below, each with why (none is left); the list may only shrink (an entry
 * that no longer builds rows by hand fails the test, so it gets removed). A planted fixture
 * ({@code org.milab.rowfixture}) proves the rule catches each kind of hand-built row.
 */
class RowsFromRecordsTest {
    /**
     * Class (outer name) -> why it still builds rows by hand. None is left: v2/verdicts is a tree of records
     * ({@code VerdictRow}, flattened) and the activation cache writes {@code ActivationValue} records.
     */
    static final Map<String, String> EXCEPTIONS = Map.of();

    /** A call of, or a method reference to, {@code TableBuilder.addRow} (map or positional) or {@code row()}. */
    static final DescribedPredicate<JavaAccess<?>> HAND_ROW = new DescribedPredicate<>("TableBuilder.addRow(..) or TableBuilder.row()") {
        @Override
        public boolean test(JavaAccess<?> a) {
            AccessTarget t = a.getTarget();
            return t.getOwner().isEquivalentTo(TableBuilder.class) && (t.getName().equals("addRow") || t.getName().equals("row"));
        }
    };

    static ArchRule rule(String root, Set<String> exceptions) {
        DescribedPredicate<JavaClass> listed = new DescribedPredicate<>("a listed exception") {
            @Override
            public boolean test(JavaClass c) {
                return exceptions.contains(outer(c.getName()));
            }
        };
        return noClasses().that().resideInAPackage(root + "..").and().resideOutsideOfPackage(root + ".tables..")
                .and(DescribedPredicate.not(listed))
                .should().accessTargetWhere(HAND_ROW)
                .allowEmptyShould(true)
                .because("a table row is a record written through RecordSchema (docs/architecture.md, 'Records are the rows')");
    }

    private static String outer(String name) {
        int i = name.indexOf('$');
        return i < 0 ? name : name.substring(0, i);
    }

    /** The (outer) class of a violation: "Method <a.B$C.m(..)> calls ..." -> a.B. */
    static String violator(String detail) {
        String member = detail.substring(detail.indexOf('<') + 1, detail.indexOf('('));
        return outer(member.substring(0, member.lastIndexOf('.')));
    }

    private static JavaClasses lab() {
        return Architecture.moduleClasses(org.milab.cli.Main.class);
    }

    @Test
    void noStageBuildsARowByHand() {
        rule("org.milab", EXCEPTIONS.keySet()).check(lab());
    }

    @Test
    void everyExceptionStillBuildsRowsByHand() {
        JavaClasses lab = lab();
        Set<String> violators = new TreeSet<>();
        for (String detail : rule("org.milab", Set.of()).evaluate(lab).getFailureReport().getDetails())
            violators.add(violator(detail));
        assertThat(violators).as("exceptions that no longer build rows by hand: remove them").containsAll(EXCEPTIONS.keySet());
        assertThat(EXCEPTIONS.keySet()).as("hand-built rows outside the exceptions").containsAll(violators);
    }

    @Test
    void thePlantedHandRowsAreCaughtAndRecordRowsPass() {
        JavaClasses fixture = new ClassFileImporter().importPackages("org.milab.rowfixture");
        assertThat(fixture.contain("org.milab.rowfixture.RecordRows")).isTrue();
        EvaluationResult r = rule("org.milab.rowfixture", Set.of()).evaluate(fixture);
        assertThat(r.getFailureReport().getDetails()).as(String.join("\n", r.getFailureReport().getDetails())).hasSize(4)
                .allMatch(d -> violator(d).equals("org.milab.rowfixture.HandRows"))
                .anyMatch(d -> d.contains("calls method <org.milab.tables.TableBuilder.addRow(java.util.Map)>"))
                .anyMatch(d -> d.contains("references method <org.milab.tables.TableBuilder.addRow(java.util.Map)>"))
                .anyMatch(d -> d.contains("TableBuilder.addRow([Ljava.lang.Object;)"))
                .anyMatch(d -> d.contains("TableBuilder.row()"));
        // an exception silences exactly its class
        assertThat(rule("org.milab.rowfixture", Set.of("org.milab.rowfixture.HandRows")).evaluate(fixture).hasViolation()).isFalse();
    }
}
