package org.milab.attribution;

import org.milab.atp.PromptPair;
import org.milab.atp.AttributionNode;
import org.milab.atp.AttributionPatching;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.cli.Main;
import org.milab.engine.TokenIds;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Nudge;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.Site;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.model.ReferenceGpt2.ZPatch;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * AtP and exact patching on a small random GPT-2, each number checked against the plain-Java reference: an
 * AtP cell is the directional derivative of the metric along (a_clean - a_corrupt) at the node, which central
 * differences of the reference give independently; an exact cell is the reference run with the patch.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AttributionPatchingTest {
    private static final double EPS = 1e-4;
    Path root;
    LabModel model;
    InMemoryCheckpoint ckpt;
    ReferenceGpt2 ref;
    List<PromptPair> pairs;

    @BeforeAll
    void setUp(@TempDir Path dir) {
        root = dir;
        model = LabFixtures.randomWordModel(root, "words", 11);
        ckpt = RandomCheckpoints.generate(model.config(), 11, 0.5f); // the same weights, independently
        ref = new ReferenceGpt2(ckpt);
        pairs = RepeatedTokenPairs.generate(3, 4, 5, model.config().vocabSize(), model.tokenizer().bosId(), Set.of(1),
                model.config().nPositions());
    }

    @AfterAll
    void close() {
        model.close();
    }

    @Test
    void repeatedTokenPairsHaveTheDocumentedShape() {
        for (PromptPair p : pairs) {
            int[] c = p.clean().ids(), k = p.corrupt().ids();
            assertThat(c).hasSize(9);
            assertThat(c[0]).isEqualTo(model.tokenizer().bosId());
            assertThat(k[0]).isEqualTo(c[0]);
            Set<Integer> r = new HashSet<>(), s = new HashSet<>();
            for (int i = 1; i <= 4; i++) {
                assertThat(c[i]).isEqualTo(c[i + 4]).isEqualTo(k[i + 4]);
                r.add(c[i]);
                s.add(k[i]);
            }
            assertThat(r).hasSize(4).doesNotContain(1, model.tokenizer().bosId());
            assertThat(s).hasSize(4).doesNotContainAnyElementsOf(r);
            assertThat(p.trueToken()).isEqualTo(c[1]);
            assertThat(p.wrongToken()).isEqualTo(k[1]);
        }
        assertThat(RepeatedTokenPairs.generate(3, 4, 5, model.config().vocabSize(), model.tokenizer().bosId(), Set.of(1),
                24).get(2).clean()).isEqualTo(pairs.get(2).clean());
    }

    @Test
    void atpCellsAreDirectionalDerivativesOfTheReference() {
        AttributionPatching.Result r = AttributionPatching.run(model, pairs, 2, 3); // 2 rows per call: batching exercised
        ModelConfig c = model.config();
        for (int pi : new int[]{0, 2}) {
            PromptPair pair = pairs.get(pi);
            AttributionPatching.PairScores s = r.pairs().get(pi);
            int[] clean = pair.clean().ids(), corrupt = pair.corrupt().ids();
            Trace tc = ref.run(clean), tk = ref.run(corrupt);
            assertThat(s.cleanMetric()).isCloseTo(metric(tc, pair), within(1e-4));
            assertThat(s.corruptMetric()).isCloseTo(metric(tk, pair), within(1e-4));
            for (int n = 0; n < r.nodes().size(); n++) {
                AttributionNode node = r.nodes().get(n);
                if (node.layer() != 1 && node.kind() == AttributionNode.Kind.HEAD && node.head() != 2) continue;
                for (int t : new int[]{2, 6, clean.length - 1}) {
                    double[] aClean = activation(tc, node, t, c), aCorrupt = activation(tk, node, t, c);
                    double[] delta = new double[aClean.length];
                    for (int i = 0; i < delta.length; i++) delta[i] = aClean[i] - aCorrupt[i];
                    double den = directional(corrupt, pair, List.of(), node, t, delta, c);
                    double noi = -directional(clean, pair, List.of(), node, t, delta, c);
                    assertThat(s.denoising()[n][t]).as("denoising %s pos %d pair %d", node.id(), t, pi)
                            .isCloseTo(den, within(1e-3 * (1 + Math.abs(den))));
                    assertThat(s.noising()[n][t]).as("noising %s pos %d", node.id(), t)
                            .isCloseTo(noi, within(1e-3 * (1 + Math.abs(noi))));
                    // IG: the same derivative averaged over the 3 midpoints w = 1/6, 1/2, 5/6 of the embedding path
                    double ig = 0;
                    for (int j = 0; j < 3; j++)
                        ig += directional(corrupt, pair, embeddingPath(clean, corrupt, (j + 0.5) / 3), node, t, delta, c) / 3;
                    assertThat(s.integrated()[n][t]).as("ig %s pos %d", node.id(), t)
                            .isCloseTo(ig, within(1e-3 * (1 + Math.abs(ig))));
                }
            }
        }
    }

    @Test
    void exactPatchingMatchesReferencePatches() {
        List<PromptPair> two = pairs.subList(0, 2);
        ExactHeadPatching.Result e = ExactHeadPatching.run(model, two, true, true);
        ModelConfig c = model.config();
        for (int pi = 0; pi < 2; pi++) {
            PromptPair p = two.get(pi);
            int[] clean = p.clean().ids(), corrupt = p.corrupt().ids();
            Trace tc = ref.run(clean), tk = ref.run(corrupt);
            double m0 = metric(tk, p);
            assertThat(e.corrupt()[pi]).isCloseTo(m0, within(1e-4));
            for (int[] lh : new int[][]{{0, 1}, {1, 2}}) {
                int k = lh[0] * c.nHead() + lh[1];
                for (int t : new int[]{0, 3, clean.length - 1}) {
                    Trace patched = ref.run(corrupt, Patches.ofZ(new ZPatch(lh[0], t, lh[1], toFloat(tc.z()[lh[0]][t][lh[1]]))));
                    assertThat(e.cells()[pi][k][t]).isCloseTo(metric(patched, p) - m0, within(1e-4));
                }
                List<ZPatch> all = new ArrayList<>(), back = new ArrayList<>();
                for (int t = 0; t < clean.length; t++) {
                    all.add(new ZPatch(lh[0], t, lh[1], toFloat(tc.z()[lh[0]][t][lh[1]])));
                    back.add(new ZPatch(lh[0], t, lh[1], toFloat(tk.z()[lh[0]][t][lh[1]])));
                }
                assertThat(e.heads()[pi][k]).isCloseTo(metric(ref.run(corrupt, new Patches(all, List.of())), p) - m0, within(1e-4));
                assertThat(e.headsNoise()[pi][k]).isCloseTo(
                        metric(ref.run(clean, new Patches(back, List.of())), p) - metric(tc, p), within(1e-4));
            }
            // BOS is shared, so patching it is a no-op; the patched row and its baseline may take different engine
            // paths (whole prompt vs cached resume), which agree to float rounding, not bit for bit
            assertThat(e.cells()[pi][0][0]).as("BOS is shared, so patching it is a no-op").isCloseTo(0.0, within(1e-5));
        }
    }

    @Test
    void attributeCommandWritesTablesWithProvenanceAndRejectsBadInput() throws Exception {
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(err, true), "attribute", "--root", root.toString(), "--model", "words",
                "--run-id", "atp", "--pairs", "4", "--length", "3", "--verify-pairs", "2", "--resamples", "100",
                "--ig-steps", "2");
        assertThat(code).as(err.toString()).isZero();
        Path dir = root.resolve("results/atp/attribution");
        Table cells = ArrowTables.read(dir.resolve("attribution.arrow"));
        ModelConfig c = model.config();
        int nodes = c.nLayer() * (c.nHead() + 3);
        assertThat(cells.rowCount()).isEqualTo(4 * nodes * 7);
        assertThat(cells.provenance()).containsKeys("checkpoint_sha256", "graph_sha256", "code_git_commit", "run_id");
        assertThat(cells.strings("mib_node")).contains("a1.h3", "m0", "input");
        Table nodesTable = ArrowTables.read(dir.resolve("attribution_nodes.arrow"));
        assertThat(nodesTable.rowCount()).isEqualTo(nodes);
        for (Table.Row row : nodesTable.rows())
            assertThat(row.getDouble("atp_denoising_ci_low")).isLessThanOrEqualTo(row.getDouble("atp_denoising_ci_high"));
        Table agreement = ArrowTables.read(dir.resolve("attribution_verification.arrow"));
        assertThat(agreement.strings("statistic")).contains("spearman", "top2_recall");
        assertThat(Files.readString(root.resolve("results/atp/summary.md"))).contains("attribution verification");
        assertThat(cells.column("atp_star").values()).doesNotContainNull();

        // --atp-star off: the same AtP and AtP-IG cells, AtP*'s columns null (and declared so in the config)
        int off = Main.run(new PrintWriter(err, true), "attribute", "--root", root.toString(), "--model", "words",
                "--run-id", "atp-off", "--pairs", "4", "--length", "3", "--verify-pairs", "2", "--resamples", "100",
                "--ig-steps", "2", "--atp-star", "off");
        assertThat(off).as(err.toString()).isZero();
        Table offCells = ArrowTables.read(root.resolve("results/atp-off/attribution/attribution.arrow"));
        assertThat(offCells.column("atp_denoising").values()).isEqualTo(cells.column("atp_denoising").values());
        assertThat(offCells.column("atp_ig").values()).isEqualTo(cells.column("atp_ig").values());
        assertThat(offCells.column("atp_star").values()).containsOnlyNulls();
        assertThat(Files.readString(root.resolve("results/atp-off/attribution/attribution_config.json"))).contains("\"atp_star\" : false");

        StringWriter err2 = new StringWriter();
        int bad = Main.run(new PrintWriter(err2, true), "attribute", "--root", root.toString(), "--model", "words",
                "--run-id", "bad", "--pairs", "2", "--verify-pairs", "3");
        assertThat(bad).isEqualTo(2);
        assertThat(err2.toString()).contains("--verify-pairs");
        assertThat(root.resolve("results/bad")).doesNotExist();
    }

    // ---- reference helpers ----

    private static double metric(Trace t, PromptPair p) {
        return t.finalLogits()[p.trueToken()] - t.finalLogits()[p.wrongToken()];
    }

    /** Nudges that move the token embeddings of {@code from} by w (E[to] - E[from]) at block 0's input. */
    private List<Nudge> embeddingPath(int[] to, int[] from, double w) {
        float[] wte = ckpt.array(Gpt2Tensors.WTE);
        int d = model.config().dModel();
        List<Nudge> out = new ArrayList<>();
        for (int p = 0; p < to.length; p++)
            for (int i = 0; i < d; i++)
                out.add(new Nudge(Site.RESID_PRE, 0, p, i, w * ((double) wte[to[p] * d + i] - wte[from[p] * d + i])));
        return out;
    }

    private double directional(int[] ids, PromptPair pair, List<Nudge> base, AttributionNode node, int t, double[] delta,
                               ModelConfig c) {
        Site site = switch (node.kind()) {
            case HEAD -> Site.Z;
            case ATTN -> Site.ATTN_OUT;
            case MLP -> Site.MLP_OUT;
            case RESID_PRE -> Site.RESID_PRE;
        };
        int off = node.kind() == AttributionNode.Kind.HEAD ? node.head() * c.dHead() : 0;
        List<Nudge> up = new ArrayList<>(base), down = new ArrayList<>(base);
        for (int i = 0; i < delta.length; i++) {
            up.add(new Nudge(site, node.layer(), t, off + i, EPS * delta[i]));
            down.add(new Nudge(site, node.layer(), t, off + i, -EPS * delta[i]));
        }
        return (metric(ref.run(ids, Patches.none(), up), pair) - metric(ref.run(ids, Patches.none(), down), pair)) / (2 * EPS);
    }

    private static double[] activation(Trace tr, AttributionNode node, int t, ModelConfig c) {
        int l = node.layer();
        return switch (node.kind()) {
            case HEAD -> tr.z()[l][t][node.head()];
            case ATTN -> tr.attnOut()[l][t];
            case RESID_PRE -> tr.residPre()[l][t];
            case MLP -> {
                double[] m = new double[c.dModel()];
                for (int i = 0; i < m.length; i++) m[i] = tr.residPost()[l][t][i] - tr.residPre()[l][t][i] - tr.attnOut()[l][t][i];
                yield m;
            }
        };
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }
}
