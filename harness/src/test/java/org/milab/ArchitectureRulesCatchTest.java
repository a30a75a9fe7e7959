package org.milab;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The architecture rules are not vacuous: on a fixture tree with planted violations (test sources under
 * org.milab.archfixture: an engine class that uses a run class, which uses it back; a prompts class that
 * uses its sibling stats; a class in an undeclared package) each rule reports exactly the planted edge, and
 * on a clean fixture tree (org.milab.archclean: run uses engine) every rule passes.
 */
class ArchitectureRulesCatchTest {
    private static final String BAD = "org.milab.archfixture", CLEAN = "org.milab.archclean";

    @Test
    void layerOrderReportsTheUpwardEdge() {
        JavaClasses bad = Architecture.allClasses(BAD);
        EvaluationResult r = Architecture.layerOrder(BAD).evaluate(bad);
        assertThat(r.hasViolation()).isTrue();
        // only the planted edge: run -> engine is the allowed direction and is not reported
        assertThat(r.getFailureReport().getDetails()).isNotEmpty()
                .allMatch(d -> d.contains("archfixture.engine.LowEngine") && d.contains("archfixture.run.HighRun"));
    }

    @Test
    void cycleIsReported() {
        EvaluationResult r = Architecture.noCycles(BAD).evaluate(Architecture.allClasses(BAD));
        assertThat(r.hasViolation()).isTrue();
        assertThat(String.join("\n", r.getFailureReport().getDetails())).contains("Cycle detected").contains("engine").contains("run");
    }

    @Test
    void siblingEdgeIsReported() {
        JavaClasses bad = Architecture.allClasses(BAD);
        long violated = Architecture.siblingsApart(BAD).stream().map(rule -> rule.evaluate(bad)).filter(EvaluationResult::hasViolation)
                .peek(e -> assertThat(String.join("\n", e.getFailureReport().getDetails()))
                        .contains("archfixture.prompts.Prompt").contains("archfixture.stats.Stat"))
                .count();
        assertThat(violated).isEqualTo(1);
    }

    @Test
    void unplacedPackageIsReported() {
        EvaluationResult r = Architecture.everyPackagePlaced(BAD).evaluate(Architecture.allClasses(BAD));
        assertThat(r.getFailureReport().getDetails()).hasSize(1).allMatch(d -> d.contains("archfixture.stray.Stray"));
    }

    @Test
    void cleanTreePassesEveryRule() {
        JavaClasses clean = Architecture.allClasses(CLEAN);
        assertThat(clean).hasSize(2);
        for (ArchRule rule : java.util.List.of(Architecture.noCycles(CLEAN), Architecture.layerOrder(CLEAN), Architecture.everyPackagePlaced(CLEAN)))
            assertThat(rule.evaluate(clean).hasViolation()).as(rule.getDescription()).isFalse();
        for (ArchRule rule : Architecture.siblingsApart(CLEAN)) assertThat(rule.evaluate(clean).hasViolation()).isFalse();
    }
}
