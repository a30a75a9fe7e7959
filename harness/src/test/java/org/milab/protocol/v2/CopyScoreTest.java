package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.planted.PlantedVocabulary;
import org.milab.tokenizer.Tokenizer;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.IntUnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The copy score the roles decide with (Wang et al.'s top-k copy score and its negative, bottom-k) on hand-made OV
 * rank tables, and its registration: copy_top_k is a declared threshold of protocol.json, hashed like the others.
 */
class CopyScoreTest {
    static final int POOL = 40;
    /** Own rank 2-5 for every token: the top-1 reading never copies, the top-5 reading always does. */
    static final Head NEAR_TOP = new Head(1, 0);
    /** Own rank 6-9: just outside the top 5. */
    static final Head OUTSIDE = new Head(1, 1);
    /** Own rank POOL-1 .. POOL-4: second to fifth lowest, anti-copying only at k = 5. */
    static final Head NEAR_BOTTOM = new Head(1, 2);
    static final Map<Head, IntUnaryOperator> RANKS = Map.of(NEAR_TOP, t -> 2 + t % 4, OUTSIDE, t -> 6 + t % 4,
            NEAR_BOTTOM, t -> POOL - 1 - t % 4);

    static Map<Head, Roles.HeadRole> roles(int k) {
        TableBuilder att = Table.builder(AttentionProbeStage.TABLE).keys("probe_id", "layer", "head").int64("seed")
                .string("probe_id").int64("layer", "head").float64("induction_excess", "duplicate_excess", "previous_excess", "bos_repeat");
        TableBuilder cop = Table.builder(CopyingStage.TABLE).keys("layer", "head", "token_id").int64("layer", "head", "token_id")
                .int64("own_rank", "pool_size");
        RANKS.forEach((h, rank) -> {
            for (int i = 0; i < 8; i++) att.addRow(1, "p" + i, h.layer(), h.head(), 0.8 + 0.01 * i, 0.0, 0.0, 0.1);
            for (int t = 0; t < POOL; t++) cop.addRow(h.layer(), h.head(), t, rank.applyAsInt(t), POOL);
        });
        V2Protocol.Thresholds th = VerdictRulesTest.T;
        V2Protocol.Thresholds tk = new V2Protocol.Thresholds(th.attentionMargin(), th.copyMargin(), th.minEffectFraction(),
                th.alpha(), th.correction(), th.floatTolerance(), th.bootstrapResamples(), th.bootstrapSeed(), th.confidence(),
                th.stableSeedFraction(), k);
        return Roles.assign(att.build(), cop.build(), tk, r -> true);
    }

    @Test
    void copyingReadsTheTopKOfEachOvRow() {
        Map<Head, Roles.HeadRole> top1 = roles(1), top5 = roles(5);
        assertThat(top1.get(NEAR_TOP).copying()).isFalse();
        assertThat(top1.get(NEAR_TOP).copy().estimate()).isZero();
        assertThat(top5.get(NEAR_TOP).copying()).isTrue();
        assertThat(top5.get(NEAR_TOP).copy().estimate()).isEqualTo(1.0);
        assertThat(top5.get(NEAR_TOP).copyChance()).isEqualTo(5.0 / POOL);
        assertThat(top1.get(NEAR_TOP).copyChance()).isEqualTo(1.0 / POOL);
        assertThat(top5.get(OUTSIDE).copying()).isFalse();
        assertThat(top5.get(OUTSIDE).copy().estimate()).isZero();
        assertThat(top5.get(OUTSIDE).role()).isEqualTo(Roles.INDUCTION);
    }

    @Test
    void antiCopyingReadsTheBottomKAndMakesTheRoleNegative() {
        assertThat(roles(1).get(NEAR_BOTTOM).antiCopying()).isFalse();
        assertThat(roles(1).get(NEAR_BOTTOM).role()).isEqualTo(Roles.INDUCTION);
        Roles.HeadRole r = roles(5).get(NEAR_BOTTOM);
        assertThat(r.antiCopying()).isTrue();
        assertThat(r.copying()).isFalse();
        assertThat(r.antiCopy().estimate()).isEqualTo(1.0);
        assertThat(r.role()).isEqualTo(Roles.NEGATIVE);
        assertThat(r.attentionRole()).isEqualTo(Roles.INDUCTION);
    }

    @Test
    void copyTopKIsRegisteredAndAProtocolWithoutItIsRefused() throws Exception {
        V2Protocol p;
        Path f = Files.createTempFile("planted-tokenizer", ".json");
        Files.writeString(f, WordLevelTokenizerJson.build(PlantedVocabulary.inIdOrder(), PlantedVocabulary.UNK, PlantedVocabulary.BOS));
        try (Tokenizer tok = Tokenizer.load(f)) {
            p = V2Protocol.build("m", V2Protocol.Counts.full(), tok, 2, 2);
        } finally {
            Files.delete(f);
        }
        assertThat(p.thresholds().copyTopK()).isEqualTo(5);
        String json = p.toJson();
        assertThat(json).containsPattern("\"copy_top_k\"\\s*:\\s*5\\b");
        assertThat(String.join(" ", p.decisionRules())).contains("copy_top_k largest").contains("copy_top_k smallest");
        assertThat(V2Protocol.fromJson(json)).isEqualTo(p);
        assertThatThrownBy(() -> V2Protocol.fromJson(json.replaceAll("\"copy_top_k\"\\s*:\\s*5", "\"copy_top_k\" : 0")))
                .isInstanceOf(UserError.class).hasMessageContaining("copy_top_k");
        assertThatThrownBy(() -> V2Protocol.fromJson(json.replaceAll(",\\s*\"copy_top_k\"\\s*:\\s*5", "")))
                .isInstanceOf(UserError.class).hasMessageContaining("copy_top_k");
    }
}
