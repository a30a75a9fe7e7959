package org.milab.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.model.ModelConfig;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The resource estimate refuses only what cannot work: the documented full runs on GPT-2 small fit, the
 * estimate grows with each count, and it stays below what a real run measured (it is a lower bound).
 */
class ResourceEstimateTest {
    static final ModelConfig GPT2 = ModelConfig.gpt2Small();

    @Test
    void theDocumentedFullRunsOnGpt2SmallFitTheDefaultLimits() {
        ResourceEstimate.Need v2 = ResourceEstimate.v2(GPT2, 3, 16, 16, 2000);
        ResourceEstimate.Need ref = ResourceEstimate.reference(GPT2, 3, 32, 8, 3, 24, 12);
        ResourceEstimate.Need atp = ResourceEstimate.attribution(GPT2, 32, 10, 8, 2000, 10, true);
        for (ResourceEstimate.Need n : List.of(v2, ref, atp, v2.plus(ref))) {
            assertThat(n.bytes()).as("%s fits the tests' 6 GB heap", n).isLessThan(6e9);
            assertThat(n.seconds()).as("%s is under the default %s hours", n, ResourceEstimate.DEFAULT_MAX_HOURS)
                    .isLessThan(ResourceEstimate.DEFAULT_MAX_HOURS * 3600);
        }
    }

    @Test
    void eachCountRaisesTheEstimate() {
        ResourceEstimate.Need base = ResourceEstimate.v2(GPT2, 3, 16, 16, 2000);
        assertThat(ResourceEstimate.v2(GPT2, 3, 32, 16, 2000).flops()).isGreaterThan(base.flops());
        assertThat(ResourceEstimate.v2(GPT2, 6, 16, 16, 2000).flops()).isGreaterThan(base.flops());
        assertThat(ResourceEstimate.v2(GPT2, 3, 16, 16, 4000).draws()).isEqualTo(2 * base.draws());
        assertThat(ResourceEstimate.v2(GPT2, 3, 16, 99_999_999, 2000).bytes()).isGreaterThan(1e12);
        ResourceEstimate.Need atp = ResourceEstimate.attribution(GPT2, 32, 10, 8, 2000, 10, true);
        assertThat(ResourceEstimate.attribution(GPT2, 64, 10, 8, 2000, 10, true).flops()).isGreaterThan(atp.flops());
        assertThat(ResourceEstimate.attribution(GPT2, 32, 10, 8, 2000, 20, true).flops()).isGreaterThan(atp.flops());
        assertThat(ResourceEstimate.attribution(GPT2, 32, 10, 8, 2000, 10, false).flops()).isLessThan(atp.flops());
    }

    @Test
    void messagesReadAsPeopleWriteThem() {
        assertThat(ResourceEstimate.bytes(6.5 * 1024 * 1024 * 1024)).isEqualTo("6.5 GB");
        assertThat(ResourceEstimate.duration(3 * 86400)).isEqualTo("3.00 days");
        assertThat(ResourceEstimate.duration(30)).isEqualTo("30.0 seconds");
    }

    /** A real attribute run (small random model, reduced counts) takes longer than the estimate, a lower bound. */
    @Test
    void theEstimateIsBelowAMeasuredRun(@TempDir Path root) {
        LabFixtures.exportRandomWordModel(root, "words", 3, List.of());
        long t0 = System.nanoTime();
        Cli c = Cli.run("attribute", "--root=" + root, "--model=words", "--run-id=atp", "--pairs=8", "--verify-pairs=2",
                "--ig-steps=2", "--resamples=1000");
        double measured = (System.nanoTime() - t0) / 1e9;
        assertThat(c.exit()).as(c.err()).isZero();
        ModelConfig words = ResourceEstimate.configOf(root, "words");
        double estimate = ResourceEstimate.attribution(words, 8, 10, 2, 1000, 2, true).seconds();
        System.out.printf("attribute on words: estimate %.4f s (lower bound), measured %.2f s%n", estimate, measured);
        assertThat(estimate).isPositive().isLessThan(measured);
    }
}
