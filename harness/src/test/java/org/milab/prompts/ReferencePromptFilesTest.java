package org.milab.prompts;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.milab.util.Hashing;

/**
 * Whole prompt files compared byte for byte with the reference's own output: the fixtures under
 * {@code reference/} and the digests below were produced by CPython 3.11 running the reference lab's
 * generator source (see {@code reference/README.md}); the Java side renders the same rows through a
 * Python-style CSV writer ({@link PyCsv}).
 */
class ReferencePromptFilesTest {

    @Test
    void basicInductionSeedZeroMatchesReferenceFile() {
        assertSameLines(PyCsv.prompts(BasicInductionPrompts.generate(0, 64)), PyCsv.fixture("induction_seed0.csv"));
    }

    @Test
    void controlsSeedZeroMatchesReferenceFile() {
        assertSameLines(PyCsv.prompts(ControlPrompts.generate(0, 32)), PyCsv.fixture("controls_seed0.csv"));
    }

    @Test
    void heldoutSeedTenMatchesReferenceFile() {
        assertSameLines(PyCsv.prompts(HeldoutPrompts.generate(10, 24)), PyCsv.fixture("heldout_seed10.csv"));
    }

    @Test
    void characterizationSeedTwentyMatchesReferenceFile() {
        assertSameLines(PyCsv.prompts(CharacterizationPrompts.generate(20, 12)),
                PyCsv.fixture("characterization_seed20.csv"));
    }

    @Test
    void calibrationBankMatchesReferenceFile() {
        String ours = PyCsv.render(CalibrationPrompt.COLUMNS,
                CalibrationBank.build().stream().map(CalibrationPrompt::csvValues).toList(), "\r\n");
        assertSameLines(ours, PyCsv.fixture("calibration_bank.csv"));
    }

    @Test
    void promptSampleMatchesPandasRoundTrip() {
        // pd.read_csv(controls_seed0.csv).head(24).to_csv(index=False): hints become 2.0 because
        // no_repeat_control rows further down the file have an empty hint.
        List<PromptRecord> file = ControlPrompts.generate(0, 32);
        String ours = PyCsv.render(PromptRecord.COLUMNS, PromptSample.rows(file, PromptSample.DEFAULT_ROWS), "\n");
        assertSameLines(ours, PyCsv.fixture("prompt_sample_controls_seed0.csv"));
        assertThat(PromptSample.floatIntColumns(file))
                .containsExactly("expected_source_position_hint", "distractor_position_hint");
    }

    @Test
    void otherSeedsMatchReferenceDigests() {
        // sha256 of the csv.DictWriter text of the reference generators, printed by python3
        assertThat(sha(PyCsv.prompts(BasicInductionPrompts.generate(0, 64))))
                .isEqualTo("841fa5391876499eb9120b2ae9ceb64bea885a6172d9062fe4b45e2e4c903953");
        assertThat(sha(PyCsv.prompts(ControlPrompts.generate(1, 32))))
                .isEqualTo("21c50023f673b1a4dd95f5844c6581f9cb4d284636e8aafdce0c67d91d5a09ae");
        assertThat(sha(PyCsv.prompts(ControlPrompts.generate(2, 32))))
                .isEqualTo("1c5071f3f13be0bf7d84c9d13487370d6f097e1776dd63625072e698e5341de3");
        assertThat(sha(PyCsv.prompts(HeldoutPrompts.generate(11, 24))))
                .isEqualTo("3b631815d27d31ae35912a6bbaa2c5a3b0edbbfd690557dbdec6fab0a36b6f49");
        assertThat(sha(PyCsv.prompts(HeldoutPrompts.generate(12, 24))))
                .isEqualTo("e5886184d3aa2618293b7ba1ae0639930daadc4107cb4c1ee23bb84ad604395f");
        assertThat(sha(PyCsv.prompts(CharacterizationPrompts.generate(21, 12))))
                .isEqualTo("13fa1ea41c820737549320196b56d0fed4f35eac8f1fa7e987cd3e2c7b8efaf9");
        assertThat(sha(PyCsv.prompts(CharacterizationPrompts.generate(22, 12))))
                .isEqualTo("4e500810afdf31221b31590f88d6e95955cb1e6461763675efa89a20246a09bc");
    }

    private static String sha(String text) {
        return Hashing.sha256(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Line-wise first, so a failure names the first differing row; then the exact bytes. */
    private static void assertSameLines(String ours, String reference) {
        assertThat(ours.split("\n", -1)).containsExactly(reference.split("\n", -1));
        assertThat(ours).isEqualTo(reference);
    }
}
