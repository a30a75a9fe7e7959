package org.milab.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.Head;
import org.milab.stage.HeadVerdict.Outcome;
import org.milab.util.AtomicFiles;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.stats.Num;
import org.milab.protocol.v2.V2Verdicts;

/** Verdicts, ground-truth grading and the verdict-first Markdown, on hand-made run folders whose answers are known. */
class VerdictsTest {
    @TempDir
    Path root;

    @Test
    void numbersAreRoundedForPeople() {
        assertThat(Num.sig(0.9704199)).isEqualTo("0.9704");
        assertThat(Num.sig(1.0238147)).isEqualTo("1.024");
        assertThat(Num.sig(-0.0167891)).isEqualTo("-0.01679");
        assertThat(Num.sig(12345.6)).isEqualTo("12350");
        assertThat(Num.sig(2.0)).isEqualTo("2");
        assertThat(Num.sig(3.2e-7)).isEqualTo("3.2e-07");
        assertThat(Num.sig(0.0)).isEqualTo("0");
        assertThat(Num.sig(null)).isEqualTo("n/a");
        assertThat(Num.sig(Double.NaN)).isEqualTo("n/a");
    }

    @Test
    void claimedRolesMatchTheMechanismTheTruthNames() {
        Head h = new Head(1, 3);
        assertThat(new Truth.TruthHead(h, "BACKUP_INDUCTION", true, "").matches("induction")).isTrue();
        assertThat(new Truth.TruthHead(h, "DUPLICATE_TOKEN_NULL_OV", false, "x").matches("duplicate_token")).isTrue();
        assertThat(new Truth.TruthHead(h, "PREVIOUS_TOKEN", true, "").matches("induction")).isFalse();
        assertThat(new Truth.TruthHead(h, "NOISE", false, "x").matches("other")).isFalse();
        assertThat(new Truth.TruthHead(h, "INDUCTION", true, "").matches("")).isFalse();
    }

    @Test
    void referenceVerdictsComeFromTheLastStageThatTestedEachHead() {
        RunVerdict v = RunVerdict.read(root, new RunFolder(ReportFixtures.referenceRun(root)));
        ProtocolVerdict ref = v.reference().orElseThrow();
        assertThat(ref.with(Outcome.KEPT)).extracting(HeadVerdict::head).containsExactly(new Head(1, 1));
        assertThat(ref.of(new Head(1, 1)).orElseThrow().stage()).isEqualTo("S16");
        HeadVerdict l1h0 = ref.of(new Head(1, 0)).orElseThrow();
        assertThat(l1h0.stage()).isEqualTo("S12");
        assertThat(l1h0.outcome()).isEqualTo(Outcome.REJECTED);
        assertThat(l1h0.reason()).startsWith("positives 0.97, hardest control 1.02");
        assertThat(ref.of(new Head(0, 1)).orElseThrow().status()).isEqualTo("falsified_candidate");
        // passes: the negative control's registration is not a pass; L1H1 went through every stage
        assertThat(ref.passesOf(new Head(0, 0))).isEmpty();
        assertThat(ref.passesOf(new Head(1, 1))).extracting(ProtocolVerdict.Pass::stage).containsExactly("S6/S8", "S12", "S13", "S14", "S16");
        assertThat(v.v2()).isEmpty();
    }

    @Test
    void gradingAgainstTheTruth() {
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeV2(run, ReportFixtures.toyV2());
        RunVerdict v = RunVerdict.read(root, new RunFolder(run));
        assertThat(v.truth().known()).isTrue();
        // reference: tests induction only; kept L1H1 (the frequency decoy) and lost L1H0 (the induction head) at S12
        TruthComparison ref = TruthComparison.of(v.reference().orElseThrow(), v.truth());
        assertThat(ref.precision()).isEqualTo("0/1");
        assertThat(ref.recall()).isEqualTo("0/1");
        assertThat(ref.missed()).extracting(m -> m.truth().head()).containsExactly(new Head(1, 0));
        assertThat(ref.fooled()).extracting(f -> f.truth().head().label()).containsExactly("L0H1", "L1H1");
        // v2: both circuit heads confirmed with their roles; the "other" and rejected heads are no claims
        TruthComparison v2 = TruthComparison.of(v.v2().orElseThrow(), v.truth());
        assertThat(v2.precision()).isEqualTo("2/2");
        assertThat(v2.recall()).isEqualTo("2/2");
        assertThat(v2.fooled()).isEmpty();
    }

    @Test
    void aWrongRoleAndAConfirmedNoiseHeadCountAgainstV2() {
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeV2(run, List.of(
                new ReportFixtures.V2Row(new Head(0, 0), "induction", "confirmed", 0.8, 0.1, "previous_token"),
                new ReportFixtures.V2Row(new Head(0, 1), "previous_token", "confirmed", 0.3, 0.1, "noise"),
                new ReportFixtures.V2Row(new Head(1, 0), "induction", "confirmed", 0.9, 0.05, "induction")));
        RunVerdict v = RunVerdict.read(root, new RunFolder(run));
        TruthComparison c = TruthComparison.of(v.v2().orElseThrow(), v.truth());
        assertThat(c.precision()).isEqualTo("1/3");
        assertThat(c.recall()).isEqualTo("1/2");
        assertThat(c.missed()).extracting(m -> m.truth().head().label()).containsExactly("L0H0");
        assertThat(c.fooled()).extracting(f -> f.truth().head().label()).containsExactlyInAnyOrder("L0H1", "L0H0");
    }

    @Test
    void theOpeningAnswersInItsFirstTenLinesWithLinks() {
        Path run = ReportFixtures.referenceRun(root);
        ReportFixtures.writeV2(run, ReportFixtures.toyV2());
        List<String> lines = VerdictMarkdown.opening(RunVerdict.read(root, new RunFolder(run)));
        assertThat(lines.size()).isLessThanOrEqualTo(10);
        assertThat(lines.get(0)).isEqualTo("# Verdict: run toy-run on `toy`");
        assertThat(lines.get(2)).startsWith("- **reference protocol (S3-S19)** kept L1H1 (induction). 1 kept, 0 survived partly, 3 rejected of 4 swept heads "
                        + "(S16 `falsified_candidate` 2, `strengthened_local_candidate` 1; S12 `nonspecific` 1);")
                .contains("[S12](head_sweep_multiseed/head_specific_multiseed_by_head.arrow)");
        assertThat(lines.get(3)).isEqualTo("  - vs ground truth: precision 0/1, recall 0/1; missed L1H0 (induction), lost at S12 `nonspecific`: "
                + "positives 0.97, hardest control 1.02 (mean normalized effects over seeds).");
        assertThat(lines.get(4)).isEqualTo("  - decoys that fooled a stage: L0H1 (noise): S12, S13, S14; L1H1 (frequency): S6/S8, S12, S13, S14, S16.");
        assertThat(lines.get(5)).startsWith("- **protocol v2** kept L0H0 (previous_token), L1H0 (induction). 2 confirmed, 1 rejected, 1 inconclusive of 4 heads")
                .contains("[v2 verdicts](v2/verdicts.arrow)", "[circuit](v2/circuit.json)");
        assertThat(lines.get(6)).isEqualTo("  - vs ground truth: precision 2/2, recall 2/2.");
        assertThat(lines.get(7)).isEqualTo("  - decoys that fooled a stage: none.");
    }

    @Test
    void withoutTruthOrV2TheOpeningSaysSo() {
        Path run = ReportFixtures.referenceRun(root);
        AtomicFiles.writeString(root.resolve("manifests/toy/capture.json"), "{\"changed\": true}\n");
        RunVerdict v = RunVerdict.read(root, new RunFolder(run));
        assertThat(v.truth().known()).isFalse();
        assertThat(v.truth().note()).contains("changed since this run");
        List<String> lines = VerdictMarkdown.opening(v);
        assertThat(lines).anyMatch(l -> l.equals("- **protocol v2**: not in this run (no `v2/verdicts.arrow`)."));
        assertThat(lines).noneMatch(l -> l.contains("vs ground truth"));
        assertThat(VerdictMarkdown.details(v)).contains("| L1H0 | induction | rejected | S12 | `nonspecific` |");
    }

    @Test
    void aRunWithoutTheSweepIsDecidedFromItsRegisteredSet() throws Exception {
        Path run = ReportFixtures.referenceRun(root);
        java.nio.file.Files.delete(run.resolve("head_sweep_multiseed/head_specific_multiseed_by_head.arrow"));
        ProtocolVerdict ref = RunVerdict.read(root, new RunFolder(run)).reference().orElseThrow();
        assertThat(ref.heads()).extracting(h -> h.head().label()).containsExactly("L0H0", "L0H1", "L1H1");
        assertThat(ref.with(Outcome.KEPT)).extracting(h -> h.head().label()).containsExactly("L1H1");
        assertThat(ref.headline()).startsWith("1 kept, 0 survived partly, 2 rejected of 3 registered heads").contains("no S12 sweep in this run");
        java.nio.file.Files.delete(run.resolve("heldout_candidates/heldout_candidate_set.arrow"));
        assertThat(RunVerdict.read(root, new RunFolder(run)).reference()).as("a calibration-only run has no head verdicts").isEmpty();
    }

    @Test
    void v2IsReadByColumnNameAndToleratesAHeadIdOnlySchema() {
        Path run = root.resolve("results/v2only");
        org.milab.tables.ArrowTables.writeInto(run.resolve("v2"), org.milab.tables.Table.builder("verdicts").keys("head_id")
                .string("head_id", "verdict", "role", "extra").float64("score", "score_ci_low", "score_ci_high")
                .addRow("L3H4", "confirmed", "induction", "?", 0.5, 0.4, 0.6).addRow("L2H1", "rejected", "previous_token", "?", 0.0, -0.1, 0.1).build());
        ProtocolVerdict p = V2Verdicts.read(new RunFolder(run)).orElseThrow();
        assertThat(p.heads()).extracting(h -> h.head().label()).containsExactly("L2H1", "L3H4");
        HeadVerdict.Score s = p.of(new Head(2, 1)).orElseThrow().scores().get(0);
        assertThat(s.name()).isEqualTo("score");
        assertThat(s.ciContainsZero()).isTrue();
        assertThat(p.of(new Head(3, 4)).orElseThrow().scores().get(0).ciContainsZero()).isFalse();
        assertThat(p.of(new Head(3, 4)).orElseThrow().scores().get(0).text()).isEqualTo("0.5 [0.4, 0.6]");
    }
}
