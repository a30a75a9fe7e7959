package org.milab.planted;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedPrompts.PatchPair;
import org.milab.tokenizer.Tokenizer;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;
import static org.milab.planted.PlantedInductionModel.*;

class PlantedInductionModelTest {

    @Test
    void configIsGpt2LayoutWithUntiedUnembedding() {
        Planted p = PlantedInductionModel.build(PlantedSpec.defaults());
        ModelConfig c = p.checkpoint().config();
        assertThat(c).isEqualTo(new ModelConfig(2, 8, 1536, p.vocabulary().size(), 64, 1e-5, "gelu_new", false, 4));
        assertThat(c.toJson().get("tie_word_embeddings").asBoolean()).isFalse();
        assertThat(p.checkpoint().names()).contains(Gpt2Tensors.LM_HEAD).hasSize(Gpt2Tensors.parameterNames(c).size());
        assertThat(p.checkpoint().shape(Gpt2Tensors.attnW(1))).containsExactly(1536, 3 * 1536);
    }

    @Test
    void sameSpecGivesIdenticalWeightsAndOtherSeedsDiffer() {
        Planted a = PlantedInductionModel.build(new PlantedSpec(7, 0.01));
        Planted b = PlantedInductionModel.build(new PlantedSpec(7, 0.01));
        Planted c = PlantedInductionModel.build(new PlantedSpec(8, 0.01));
        for (String name : a.checkpoint().names()) {
            assertThat(a.checkpoint().raw(name)).as(name).isEqualTo(b.checkpoint().raw(name));
            assertThat(Arrays.equals(a.checkpoint().raw(name), c.checkpoint().raw(name))).as(name).isFalse();
        }
        assertThat(a.tokenizerJson()).isEqualTo(b.tokenizerJson());
        assertThat(a.groundTruth()).isEqualTo(b.groundTruth());
    }

    /**
     * The default layout is the original two-layer model weight for weight: SHA-256 over every tensor's name
     * and little-endian float32 bits, in checkpoint order, as computed with the generator before layouts
     * existed (commit 735f240).
     */
    @Test
    void defaultLayoutReproducesTheOriginalWeightsBitForBit() {
        assertThat(weightsHash(PlantedInductionModel.build(PlantedSpec.defaults())))
                .isEqualTo("b64d5bf50301eae88284ec7ec8f7fbf75d1877dfbd3265713a74b818561f7456");
        assertThat(weightsHash(PlantedInductionModel.build(new PlantedSpec(0, 0))))
                .isEqualTo("395fe5335ab96a8bb32cf23f53e2f5851fe6e1a9db5dfa6b151a9d4462667c4c");
    }

    /** Other layouts build other weights (exact construction here); the config follows the layer count. */
    @Test
    void otherLayoutsDiffer() {
        Planted backup = PlantedInductionModel.build(new PlantedSpec(PlantedLayout.preset("backup"), 0, 0));
        Planted deep3 = PlantedInductionModel.build(new PlantedSpec(PlantedLayout.preset("deep3"), 0, 0));
        assertThat(backup.checkpoint().config().nLayer()).isEqualTo(2);
        assertThat(deep3.checkpoint().config().nLayer()).isEqualTo(3);
        assertThat(deep3.checkpoint().names()).contains(Gpt2Tensors.attnW(2));
        assertThat(weightsHash(backup)).isNotEqualTo("395fe5335ab96a8bb32cf23f53e2f5851fe6e1a9db5dfa6b151a9d4462667c4c");
    }

    static String weightsHash(Planted p) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String name : p.checkpoint().names()) {
                md.update(name.getBytes(StandardCharsets.UTF_8));
                float[] f = p.checkpoint().raw(name);
                ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(f);
                md.update(b.array());
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The noise is a zero-mean Gaussian of the requested std on every entry of every tensor. */
    @Test
    void noiseIsAddedToEveryWeight() {
        double std = PlantedSpec.DEFAULT_NOISE_STD;
        Planted exact = PlantedInductionModel.build(new PlantedSpec(3, 0));
        Planted noisy = PlantedInductionModel.build(new PlantedSpec(3, std));
        double sum = 0, sumSq = 0;
        long n = 0;
        for (String name : exact.checkpoint().names()) {
            float[] x = exact.checkpoint().raw(name), y = noisy.checkpoint().raw(name);
            int changed = 0;
            for (int i = 0; i < x.length; i++) {
                double d = (double) y[i] - x[i];
                if (d != 0) changed++;
                sum += d;
                sumSq += d * d;
            }
            n += x.length;
            assertThat(changed).as(name).isGreaterThan(x.length * 99 / 100);
        }
        double mean = sum / n, sd = Math.sqrt(sumSq / n - mean * mean);
        assertThat(mean).isCloseTo(0, within(5 * std / Math.sqrt(n)));
        assertThat(sd).isCloseTo(std, within(std * 0.01));
        assertThat(exact.checkpoint().raw(Gpt2Tensors.fcW(0))).containsOnly(0f); // MLPs are zero before noise
    }

    /**
     * The LayerNorm trick needs every residual to hold k entries of EMBED and ~0 elsewhere: k = 2 (token,
     * position) entering layer 0, k = 3 (plus previous token) entering layer 1.
     */
    @Test
    void residualHoldsTheDesignedOneHots() {
        assertResidualOneHots(new PlantedSpec(0, 0), 1);
    }

    /**
     * deep3: the previous-token head writes in layer 1, so layers 0 and 1 see k = 2 and layer 2 sees k = 3;
     * its backup induction head adds half the main head's write to the answer.
     */
    @Test
    void deepLayoutResidualFollowsItsLayerNormCounts() {
        assertResidualOneHots(new PlantedSpec(PlantedLayout.preset("deep3"), 0, 0), 1.5);
    }

    /** Runs "red blue green red blue" and checks every layer's input and the final output subspace. */
    private static void assertResidualOneHots(PlantedSpec spec, double answerUnits) {
        Planted p = PlantedInductionModel.build(spec);
        PlantedLayout layout = spec.layout();
        List<String> words = List.of("red", "blue", "green", "red", "blue");
        int[] ids = p.idsWithBos(words);
        Trace t = new ReferenceGpt2(p.checkpoint()).run(ids);
        for (int pos = 0; pos < ids.length; pos++) {
            int prevToken = ids[Math.max(pos - 1, 0)]; // BOS's previous-token head attends to itself
            for (int l = 0; l < layout.layers(); l++) {
                if (layout.layerNormK(l) == 2) assertOneHots(t.residPre()[l][pos], TOK + ids[pos], POS + pos);
                else assertOneHots(t.residPre()[l][pos], TOK + ids[pos], POS + pos, PREV + prevToken);
            }
        }
        // output subspace at the final position: the induction heads write the answer (green) with
        // answerUnits * EMBED, the uniform frequency head adds FREQUENCY_GAIN * EMBED * count / positions for
        // every context token
        double[] post = t.residPost()[layout.layers() - 1][ids.length - 1];
        double freqUnit = FREQUENCY_GAIN * EMBED / ids.length;
        assertThat(post[OUT + p.id("green")]).isCloseTo(answerUnits * EMBED + freqUnit, within(0.01 * EMBED));
        assertThat(post[OUT + p.id("red")]).isCloseTo(2 * freqUnit, within(0.01 * EMBED));
        assertThat(post[OUT + p.id("yellow")]).isCloseTo(0, within(0.01 * EMBED));
    }

    private static void assertOneHots(double[] x, int... dims) {
        for (int i = 0; i < x.length; i++) {
            final int dim = i;
            if (Arrays.stream(dims).anyMatch(d -> d == dim))
                assertThat(x[i]).as("dim %d", i).isCloseTo(EMBED, within(0.01 * EMBED));
            else
                assertThat(Math.abs(x[i])).as("dim %d", i).isLessThan(0.01 * EMBED);
        }
    }

    /**
     * The reference control nostruct(s) of heldout_symbolic_longer ends in s3, which occurred earlier
     * followed by s5 = s[n-1]: the model predicts the true token there too (protocol section 10, item 2).
     */
    @Test
    void symbolicNostructControlPredictsTheTrueTokenToo() {
        Planted p = PlantedInductionModel.build(PlantedSpec.defaults());
        ReferenceGpt2 ref = new ReferenceGpt2(p.checkpoint());
        List<PatchPair> pairs = PlantedPrompts.symbolicNostructPairs();
        assertThat(pairs).hasSize(24);
        for (PatchPair pair : pairs) {
            Trace clean = ref.run(p.idsWithBos(pair.clean())), corrupt = ref.run(p.idsWithBos(pair.corrupt()));
            int yes = p.id(pair.trueWord()), no = p.id(pair.wrongWord());
            assertThat(PlantedChecks.argmax(corrupt.finalLogits())).as(pair.corrupt().toString()).isEqualTo(yes);
            assertThat(PlantedChecks.diff(corrupt, yes, no)).isGreaterThan(0.5 * PlantedChecks.diff(clean, yes, no));
        }
    }

    @Test
    void groundTruthNamesTheCircuitAndRoundTrips() {
        GroundTruth g = PlantedInductionModel.build(PlantedSpec.defaults()).groundTruth();
        assertThat(g.heads()).hasSize(16);
        assertThat(g.head(Role.INDUCTION).name()).isEqualTo("L1H2").isEqualTo(g.answerHead());
        assertThat(g.head(Role.PREVIOUS_TOKEN).name()).isEqualTo("L0H1");
        assertThat(g.heads().stream().filter(GroundTruth.HeadTruth::inCircuit).map(GroundTruth.HeadTruth::name))
                .containsExactly("L0H1", "L1H2");
        assertThat(g.heads(Role.NOISE)).hasSize(11);
        assertThat(g.heads().stream().filter(h -> !h.inCircuit())).allSatisfy(h -> assertThat(h.fools()).isNotBlank());
        assertThat(GroundTruth.fromJson(g.toJson())).isEqualTo(g);
        assertThat(g.toJson()).contains("\"answerHead\" : \"L1H2\"", "\"role\" : \"DUPLICATE_TOKEN_NULL_OV\"");
        String md = g.toMarkdown();
        g.heads().forEach(h -> assertThat(md).contains("| " + h.name() + " | " + h.role()));
        assertThat(md).contains("**L1H2**", "| 576-639 | one-hot of the position", "Layout `default`",
                "k = 2 entering layer 0, k = 3 entering layer 1", "G_2 = 27.7, G_3 = 22.6");
        assertThat(g.preset()).isEqualTo("default");
        assertThat(g.layout()).isEqualTo(PlantedLayout.PRESETS.get("default"));
        assertThat(g.layers()).isEqualTo(2);
        assertThat(g.constants().layerNormK()).containsExactly(2, 3);
        assertThat(g.backup()).isEmpty();
        assertThat(g.head(Role.INDUCTION).ovGain()).isEqualTo(1.0);
        assertThat(g.head(Role.FREQUENCY).ovGain()).isEqualTo(FREQUENCY_GAIN);
        assertThat(g.head(Role.DUPLICATE_TOKEN_NULL_OV).ovGain()).isZero();
    }

    @Test
    void backupGroundTruthNamesBothInductionHeads() {
        GroundTruth g = PlantedInductionModel.build(PlantedSpec.preset("backup")).groundTruth();
        assertThat(g.model()).isEqualTo("planted-backup");
        assertThat(g.answerHead()).isEqualTo("L1H2");
        assertThat(g.backup()).hasValueSatisfying(b -> {
            assertThat(b.name()).isEqualTo("L1H5");
            assertThat(b.ovGain()).isEqualTo(0.5);
            assertThat(b.inCircuit()).isTrue();
            assertThat(b.fools()).isEmpty();
        });
        assertThat(g.heads().stream().filter(GroundTruth.HeadTruth::inCircuit).map(GroundTruth.HeadTruth::name))
                .containsExactly("L0H1", "L1H2", "L1H5");
        assertThat(g.heads(Role.NOISE)).hasSize(10);
        assertThat(GroundTruth.fromJson(g.toJson())).isEqualTo(g);
        assertThat(g.toJson()).contains("\"role\" : \"BACKUP_INDUCTION\"", "\"preset\" : \"backup\"", "\"ovGain\" : 0.5");
        assertThat(g.toMarkdown()).contains("# planted-backup", "**L1H2** and its weaker backup **L1H5**",
                "| L1H5 | BACKUP_INDUCTION | yes | 0.5000 |");
        assertThat(g.withModel("planted-mine").model()).isEqualTo("planted-mine");
    }

    @Test
    void filesAreWrittenAndLoad(@TempDir Path dir) throws IOException {
        Planted p = PlantedInductionModel.build(PlantedSpec.defaults());
        Path out = dir.resolve("planted-induction");
        PlantedModelFiles.write(out, p);
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.map(f -> f.getFileName().toString()))
                    .containsExactlyInAnyOrder("tokenizer.json", "ground_truth.json", "MODEL.md");
        }
        assertThat(GroundTruth.fromJson(Files.readString(out.resolve("ground_truth.json")))).isEqualTo(p.groundTruth());
        assertThat(Files.readString(out.resolve("MODEL.md"))).isEqualTo(p.groundTruth().toMarkdown());
        try (Tokenizer tok = Tokenizer.load(out.resolve("tokenizer.json"))) {
            assertThat(tok.encodeWithBos("A B C D A B C")).containsExactly(p.idsWithBos(List.of("A", "B", "C", "D", "A", "B", "C")));
        }
    }

    @Test
    void badNoiseIsAUserError() {
        assertThatThrownBy(() -> new PlantedSpec(0, -0.1)).isInstanceOf(UserError.class).hasMessageContaining("noise");
        assertThatThrownBy(() -> new PlantedSpec(0, Double.NaN)).isInstanceOf(UserError.class);
    }
}
