package org.milab.protocol.reference;

import org.milab.protocol.reference.SweepConsolidationStage.SeedRow;
import org.milab.protocol.reference.HeldoutCandidateStage.Candidate;
import org.milab.graph.Head;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.tables.Table;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** S13: the reference's registered set byte for byte, the derivation rule, candidate files, registration and hash. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeldoutCandidateStageTest {
    /** The reference's committed reports/head_specific_induction_heldout_robustness_v1/heldout_candidate_set.csv. */
    static final String REFERENCE_CSV = """
            candidate_id,layer,head,candidate_group,source_reason,prior_mean_gap,prior_replication_status,prior_raw_attention_candidate,prior_random_comparison_candidate,include_in_main
            heldout_cand_000,7,7,random_comparison_replicated,Pre-registered replicated narrow candidate from prior multi-seed report.,0.0805959202384717,replicated_head_specific_candidate,False,True,True
            heldout_cand_001,9,11,replicated_candidate,Pre-registered replicated narrow candidate from prior multi-seed report.,0.0357487996863949,replicated_head_specific_candidate,False,False,True
            heldout_cand_002,7,11,replicated_candidate,Pre-registered replicated narrow candidate from prior multi-seed report.,0.0258679062407106,replicated_head_specific_candidate,False,False,True
            heldout_cand_003,7,0,replicated_candidate,Pre-registered replicated narrow candidate from prior multi-seed report.,0.0105255260489239,replicated_head_specific_candidate,False,False,True
            heldout_cand_004,0,8,replicated_candidate,Pre-registered replicated narrow candidate from prior multi-seed report.,0.0077378474511723,replicated_head_specific_candidate,False,False,True
            heldout_cand_005,0,1,prior_raw_attention_failed,Prior raw-attention candidate retained as a comparison head.,-0.1303535516255031,no_effect,True,False,True
            heldout_cand_006,0,5,prior_raw_attention_failed,Prior raw-attention candidate retained as a comparison head.,-0.0469168197545695,no_effect,True,False,True
            heldout_cand_007,0,10,prior_raw_attention_failed,Prior raw-attention candidate retained as a comparison head.,-0.1086183402862367,nonspecific,True,False,True
            heldout_cand_008,11,8,prior_raw_attention_failed,Prior raw-attention candidate retained as a comparison head.,0.0116061609532817,nonspecific,True,False,True
            heldout_cand_009,0,4,prior_raw_attention_failed,Prior raw-attention candidate retained as a comparison head.,-0.0180625711897544,no_effect,True,False,True
            heldout_cand_010,9,5,negative_control_no_effect,Deterministic no-effect negative control from prior multi-seed report.,0.0012581910935472,no_effect,False,False,True
            heldout_cand_011,11,0,negative_control_no_effect,Deterministic no-effect negative control from prior multi-seed report.,-0.0055540948178925,no_effect,False,False,True
            heldout_cand_012,4,1,negative_control_no_effect,Deterministic no-effect negative control from prior multi-seed report.,-0.0062110058364514,no_effect,False,True,True
            heldout_cand_013,4,9,negative_control_nonspecific,Deterministic nonspecific negative control from prior multi-seed report.,-3.622403276253335e-05,nonspecific,False,False,True
            heldout_cand_014,11,9,negative_control_nonspecific,Deterministic nonspecific negative control from prior multi-seed report.,0.0004556494440327,nonspecific,False,True,True
            heldout_cand_015,11,7,negative_control_nonspecific,Deterministic nonspecific negative control from prior multi-seed report.,0.0005153471815705,nonspecific,False,True,True
            """;
    /** sha256sum of that file (2907 bytes). */
    static final String REFERENCE_SHA = "f7fb0999d429e7f8d2f74556575ab8491c14e0aae5f5664f0b7eeded9d1ed24e";

    Path root;
    LabModel words, gpt2Named;

    @BeforeAll
    void setUp(@TempDir Path root) {
        this.root = root;
        words = LabFixtures.randomWordModel(root, "words", 5);
        gpt2Named = LabFixtures.randomWordModel(root, "gpt2", 5); // named like the reference model, but 2 x 4 heads
    }

    @AfterAll
    void close() {
        words.close();
        gpt2Named.close();
    }

    RunContext ctx(LabModel m, String runId, Path candidateFile) {
        RunConfig c = RunConfig.reference(m.id(), runId);
        return new RunContext(root, new RunConfig(c.modelId(), runId, c.controlSeeds(), c.controlsPerFamily(), c.layerPatchSeeds(),
                c.layerPatchPerFamily(), c.maxCandidates(), c.sweepPerFamily(), c.heldoutSeeds(), c.heldoutGenerated(),
                c.heldoutScored(), c.topKHeads(), candidateFile, c.zeroAblationFrame()), m);
    }

    // ------------------------------------------------------------------ (a) the reference set

    @Test
    void referenceSetSerializesToTheReferenceFileByteForByte() {
        List<Candidate> ref = HeldoutCandidateStage.referenceGpt2();
        assertThat(ref).hasSize(16);
        assertThat(ref.get(0).candidateId()).isEqualTo("heldout_cand_000");
        assertThat(ref.get(15).candidateId()).isEqualTo("heldout_cand_015");
        assertThat(ref.stream().map(c -> c.head().label()).toList()).containsExactly("L7H7", "L9H11", "L7H11", "L7H0", "L0H8",
                "L0H1", "L0H5", "L0H10", "L11H8", "L0H4", "L9H5", "L11H0", "L4H1", "L4H9", "L11H9", "L11H7");
        assertThat(ref.get(0).priorMeanGap()).isEqualTo(0.0805959202384717);
        assertThat(HeldoutCandidateStage.canonicalCsv(ref)).isEqualTo(REFERENCE_CSV);
        assertThat(Hashing.sha256(HeldoutCandidateStage.canonicalCsv(ref))).isEqualTo(REFERENCE_SHA);
    }

    @Test
    void theGpt2BranchUsesTheReferenceSetAndRejectsAModelWithoutThoseHeads() {
        assertThatThrownBy(() -> new HeldoutCandidateStage().run(ctx(gpt2Named, "ref", null)))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("L7H7 (reference_gpt2) does not exist in model gpt2 (2 layers x 4 heads)");
        assertThat(Files.exists(root.resolve("results/ref/heldout_candidates/heldout_candidate_set.sha256"))).isFalse();
    }

    // ------------------------------------------------------------------ (b) derived from S12

    static SeedRow sr(int seed, int layer, int head, String status, Double gap, boolean raw, boolean random) {
        return new SeedRow(seed, new Head(layer, head), true, 0.1, 0.0, gap, status, raw, random);
    }

    /** Two seeds per head, same status and gap in both, so the consolidated status and mean gap are the given ones. */
    static Table multiseed(Object[]... heads) {
        List<SeedRow> rows = new ArrayList<>();
        for (Object[] h : heads) {
            String seedStatus = switch ((String) h[2]) {
                case "replicated_head_specific_candidate" -> "head_specific_positive_candidate";
                case "nonspecific" -> "nonspecific_moves_controls";
                case "no_effect" -> "no_positive_effect";
                default -> "denominator_problem";
            };
            for (int s = 0; s < 2; s++)
                rows.add(sr(s, (int) h[0], (int) h[1], seedStatus, (Double) h[3], (boolean) h[4], (boolean) h[5] && s == 0));
        }
        Table t = SweepConsolidationStage.consolidate(rows).build();
        for (Object[] h : heads) // guard: the fixture really produces the intended statuses
            assertThat(t.filter(r -> r.getLong("layer") == (int) h[0] && r.getLong("head") == (int) h[1])
                    .row(0).getString("replication_status")).isEqualTo(h[2]);
        return t;
    }

    static final String REP = "replicated_head_specific_candidate", NOEFF = "no_effect", NONSPEC = "nonspecific";

    /** The reference test's table: 5 replicated (L7H7 random), 5 raw, 12 no-effect and 12 nonspecific heads. */
    static Table referenceTestTable() {
        List<Object[]> heads = new ArrayList<>();
        for (int[] h : new int[][]{{7, 7}, {9, 11}, {7, 11}, {7, 0}, {0, 8}})
            heads.add(new Object[]{h[0], h[1], REP, h[0] == 7 && h[1] == 7 ? 0.1 : 0.03, false, h[0] == 7 && h[1] == 7});
        for (int[] h : new int[][]{{0, 1}, {0, 5}, {0, 10}, {11, 8}, {0, 4}})
            heads.add(new Object[]{h[0], h[1], h[0] != 11 ? NOEFF : NONSPEC, -0.05, true, false});
        for (int i = 0; i < 12; i++) heads.add(new Object[]{2 + i % 4, i, NOEFF, 0.001 * i, false, false});
        for (int i = 0; i < 12; i++) heads.add(new Object[]{8 + i % 4, i, NONSPEC, -0.001 * i, false, false});
        return multiseed(heads.toArray(Object[][]::new));
    }

    @Test
    void derivationFollowsTheReferenceRule() {
        Table t = referenceTestTable();
        List<Head> rawOrder = List.of(new Head(0, 5), new Head(0, 1), new Head(3, 3)); // L3H3 is not in the table: skipped
        List<Candidate> cs = HeldoutCandidateStage.derive(t, rawOrder);
        assertThat(cs.stream().map(c -> c.head().label() + ":" + c.group()).toList()).containsExactly(
                // replicated heads in S12 table order: mean gap descending (0.1, then four ties at 0.03 by layer, head)
                "L7H7:random_comparison_replicated", "L0H8:replicated_candidate", "L7H0:replicated_candidate",
                "L7H11:replicated_candidate", "L9H11:replicated_candidate",
                "L0H5:prior_raw_attention_failed", "L0H1:prior_raw_attention_failed", // rawOrder first ...
                "L0H4:prior_raw_attention_failed", "L0H10:prior_raw_attention_failed", "L11H8:prior_raw_attention_failed", // ... then table order
                "L2H0:negative_control_no_effect", "L3H1:negative_control_no_effect", "L4H2:negative_control_no_effect",
                "L8H0:negative_control_nonspecific", "L9H1:negative_control_nonspecific", "L10H2:negative_control_nonspecific");
        assertThat(cs.get(15).candidateId()).isEqualTo("heldout_cand_015");
        assertThat(cs.get(0).priorRandomComparison()).isTrue();
        assertThat(cs.get(0).priorMeanGap()).isEqualTo(0.1);
        assertThat(cs.get(5).priorRawAttention()).isTrue();
        assertThat(cs.get(13).priorReplicationStatus()).isEqualTo(NONSPEC);
        assertThat(HeldoutCandidateStage.derive(t, rawOrder)).as("deterministic").isEqualTo(cs);
    }

    @Test
    void negativesPreferSmallAbsoluteGapsThenLayerAndHeadWithMissingGapsLast() {
        Table t = multiseed(new Object[]{5, 1, NOEFF, 0.002, false, false}, new Object[]{4, 3, NOEFF, -0.002, false, false},
                new Object[]{4, 2, NOEFF, 0.002, false, false}, new Object[]{1, 1, NOEFF, null, false, false},
                new Object[]{0, 0, NOEFF, 0.5, false, false},
                new Object[]{6, 0, NONSPEC, null, false, false}, new Object[]{6, 1, NONSPEC, -0.3, false, false});
        List<Candidate> cs = HeldoutCandidateStage.derive(t, List.of());
        assertThat(cs.stream().map(c -> c.head().label()).toList()).containsExactly("L4H2", "L4H3", "L5H1", "L6H1", "L6H0");
        assertThat(cs.get(4).priorMeanGap()).isNull();
    }

    @Test
    void fewerThanFiveNegativesFailsWithTheCountsAndTheWayOut() {
        Table t = multiseed(new Object[]{0, 0, REP, 0.1, false, false}, new Object[]{0, 1, NOEFF, 0.0, false, false},
                new Object[]{0, 2, NOEFF, 0.1, false, false}, new Object[]{1, 0, NONSPEC, 0.0, false, false},
                new Object[]{1, 1, NONSPEC, 0.2, false, false}, new Object[]{1, 2, NOEFF, 0.0, true, false});
        assertThatThrownBy(() -> HeldoutCandidateStage.derive(t, List.of()))
                .isInstanceOf(UserError.class)
                .hasMessageContaining("Only 4 negative-control heads")
                .hasMessageContaining("2 no_effect, 2 nonspecific")
                .hasMessageContaining("candidate file");
    }

    @Test
    void derivedRunOnASmallModelRegistersTheSetAndItsHash() throws Exception {
        RunContext ctx = ctx(words, "derived", null);
        ctx.write(SweepConsolidationStage.DIR, null, SweepConsolidationStage.consolidate(List.of(
                sr(0, 0, 0, "head_specific_positive_candidate", 0.1, false, true), sr(1, 0, 0, "head_specific_positive_candidate", 0.2, false, false),
                sr(0, 1, 3, "no_positive_effect", -0.4, true, false), sr(1, 1, 3, "no_positive_effect", -0.4, false, false),
                sr(0, 0, 1, "no_positive_effect", -0.01, false, false), sr(1, 0, 1, "no_positive_effect", -0.01, false, false),
                sr(0, 0, 2, "no_positive_effect", 0.02, false, false), sr(1, 0, 2, "no_positive_effect", 0.02, false, false),
                sr(0, 0, 3, "no_positive_effect", 0.03, false, false), sr(1, 0, 3, "no_positive_effect", 0.03, false, false),
                sr(0, 1, 0, "nonspecific_moves_controls", 0.0, false, false), sr(1, 1, 0, "nonspecific_moves_controls", 0.0, false, false),
                sr(0, 1, 1, "nonspecific_moves_controls", -0.2, false, false), sr(1, 1, 1, "nonspecific_moves_controls", -0.2, false, false),
                sr(0, 1, 2, "nonspecific_moves_controls", 0.1, false, false), sr(1, 1, 2, "nonspecific_moves_controls", 0.1, false, false))));
        List<Candidate> cs = new HeldoutCandidateStage().run(ctx);
        assertThat(cs.stream().map(c -> c.head().label()).toList()).containsExactly("L0H0", "L1H3", "L0H1", "L0H2", "L0H3",
                "L1H0", "L1H2", "L1H1");
        assertThat(cs.get(0).group()).isEqualTo("random_comparison_replicated");
        assertRegistered(ctx, cs);
        assertThat(RunContext.JSON.readTree(ctx.dir(HeldoutCandidateStage.DIR, null).resolve("heldout_candidate_set.json").toFile())
                .path("source").asText()).isEqualTo("derived_from_s12");
    }

    /** Every registration artifact exists and the hash is that of the CSV, recorded in the manifest and the file. */
    private static void assertRegistered(RunContext ctx, List<Candidate> cs) throws Exception {
        Path dir = ctx.dir(HeldoutCandidateStage.DIR, null);
        String csv = Files.readString(dir.resolve("heldout_candidate_set.csv"));
        assertThat(csv).isEqualTo(HeldoutCandidateStage.canonicalCsv(cs));
        String sha = Hashing.sha256(csv);
        assertThat(Files.readString(dir.resolve(HeldoutCandidateStage.SHA_FILE))).isEqualTo(sha + "  heldout_candidate_set.csv\n");
        assertThat(ctx.hashes()).containsEntry("heldout_candidate_set", sha);
        assertThat(Files.readString(dir.resolve("heldout_candidate_set.md"))).contains(sha).contains(cs.get(0).head().label());
        Table t = ctx.read(HeldoutCandidateStage.DIR, null, HeldoutCandidateStage.TABLE);
        // the registered CSV's columns, plus head_id beside layer/head in the table
        List<String> withHeadId = new java.util.ArrayList<>(HeldoutCandidateStage.COLUMNS);
        withHeadId.add(withHeadId.indexOf("head") + 1, "head_id");
        assertThat(t.columnNames()).isEqualTo(withHeadId);
        assertThat(t.metadata()).containsEntry("milab.candidate_set_sha256", sha);
        assertThat(HeldoutCandidateStage.load(ctx)).isEqualTo(cs);
    }

    // ------------------------------------------------------------------ (c) candidate files

    @Test
    void theReferenceCsvAndJsonAreValidCandidateFiles(@TempDir Path dir) throws Exception {
        Path csv = Files.writeString(dir.resolve("set.csv"), REFERENCE_CSV);
        assertThat(HeldoutCandidateStage.fromFile(csv)).isEqualTo(HeldoutCandidateStage.referenceGpt2());
        StringBuilder json = new StringBuilder("{\"source\": \"x\", \"candidates\": [");
        for (Candidate c : HeldoutCandidateStage.referenceGpt2())
            json.append(json.charAt(json.length() - 1) == '[' ? "" : ",").append(RunContext.json(Map.of("layer", c.head().layer(),
                    "head", c.head().head(), "candidate_group", c.group(), "source_reason", c.sourceReason(),
                    "prior_mean_gap", c.priorMeanGap(), "prior_replication_status", c.priorReplicationStatus(),
                    "prior_raw_attention_candidate", c.priorRawAttention(),
                    "prior_random_comparison_candidate", c.priorRandomComparison(), "include_in_main", true)));
        Path js = Files.writeString(dir.resolve("set.json"), json.append("]}").toString());
        assertThat(HeldoutCandidateStage.fromFile(js)).isEqualTo(HeldoutCandidateStage.referenceGpt2());
    }

    @Test
    void minimalFilesGetDefaultsAndQuotedCellsParse(@TempDir Path dir) throws Exception {
        Path csv = Files.writeString(dir.resolve("mine.csv"), "layer,head,group,source_reason\r\n1,2,primary,\"picked, by hand \"\"A\"\"\"\r\n0,3,negative,\r\n");
        List<Candidate> cs = HeldoutCandidateStage.fromFile(csv);
        assertThat(cs).hasSize(2);
        assertThat(cs.get(0)).isEqualTo(new Candidate("heldout_cand_000", new Head(1, 2), "primary", "picked, by hand \"A\"", null, "",
                false, false, true));
        assertThat(cs.get(1).sourceReason()).isEqualTo("Pre-registered in candidate file mine.csv.");
        assertThat(HeldoutCandidateStage.canonicalCsv(cs)).contains("\"picked, by hand \"\"A\"\"\"");
        Path js = Files.writeString(dir.resolve("mine.json"), "[{\"layer\": 1, \"head\": 0, \"group\": \"g\"}]");
        assertThat(HeldoutCandidateStage.fromFile(js).get(0).head()).isEqualTo(new Head(1, 0));
    }

    @Test
    void badCandidateFilesSayWhatIsWrong(@TempDir Path dir) throws Exception {
        assertBad(dir.resolve("missing.csv"), null, "does not exist");
        assertBad(dir.resolve("set.txt"), "layer,head,group\n1,1,a\n", "neither .csv nor .json");
        assertBad(dir.resolve("nogroup.csv"), "layer,head\n1,1\n", "row 1 has no group");
        assertBad(dir.resolve("dup.csv"), "layer,head,group\n1,1,a\n1,1,b\n", "row 2 repeats head L1H1");
        assertBad(dir.resolve("notint.csv"), "layer,head,group\nx,1,a\n", "layer 'x' is not an integer");
        assertBad(dir.resolve("ragged.csv"), "layer,head,group\n1,1\n", "has 2 cells but the header has 3");
        assertBad(dir.resolve("empty.csv"), "layer,head,group\n", "lists no heads");
        assertBad(dir.resolve("bad.json"), "{\"candidates\": 3}", "holds no list of candidates");
        assertBad(dir.resolve("syntax.json"), "[{", "is not valid JSON");
    }

    private static void assertBad(Path file, String content, String message) throws Exception {
        if (content != null) Files.writeString(file, content);
        assertThatThrownBy(() -> HeldoutCandidateStage.fromFile(file)).isInstanceOf(UserError.class).hasMessageContaining(message);
    }

    @Test
    void aCandidateFileWinsAndItsHeadsMustExistInTheModel(@TempDir Path dir) throws Exception {
        Path good = Files.writeString(dir.resolve("good.csv"), "layer,head,candidate_group\n1,2,primary\n0,0,negative\n1,3,negative\n");
        RunContext first = ctx(gpt2Named, "file1", good); // the file wins over the gpt2 reference branch
        List<Candidate> cs = new HeldoutCandidateStage().run(first);
        assertThat(cs.stream().map(c -> c.head().label()).toList()).containsExactly("L1H2", "L0H0", "L1H3");
        assertRegistered(first, cs);
        // hash stability: a second registration of the same set gives the same hash
        RunContext second = ctx(words, "file2", good);
        new HeldoutCandidateStage().run(second);
        assertThat(second.hashes().get("heldout_candidate_set")).isEqualTo(first.hashes().get("heldout_candidate_set"));
        // a registered set edited afterwards is refused
        Files.writeString(second.dir(HeldoutCandidateStage.DIR, null).resolve(HeldoutCandidateStage.SHA_FILE), "0".repeat(64) + "\n");
        assertThatThrownBy(() -> HeldoutCandidateStage.load(second)).isInstanceOf(UserError.class)
                .hasMessageContaining("no longer matches its registered SHA-256");

        Path bad = Files.writeString(dir.resolve("bad.csv"), "layer,head,group\n7,7,primary\n");
        assertThatThrownBy(() -> new HeldoutCandidateStage().run(ctx(words, "file3", bad))).isInstanceOf(UserError.class)
                .hasMessageContaining("L7H7 (candidate_file:bad.csv) does not exist in model words");
    }
}
