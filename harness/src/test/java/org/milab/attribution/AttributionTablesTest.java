package org.milab.attribution;

import org.junit.jupiter.api.Test;
import org.milab.tables.Column;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The attribution tables are built from records and keep the columns (names, order, types, the derived head_id)
 * they had when each was declared by hand, listed here as they were; attribution_config.json keeps its keys.
 */
class AttributionTablesTest {
    private static String schema(Class<? extends Record> row) {
        Table t = RecordSchema.of(row).builder("t").build();
        StringBuilder sb = new StringBuilder();
        for (Column c : t.columns()) sb.append(c.name()).append(':').append(c.type()).append(' ');
        return sb.toString().strip();
    }

    @Test
    void tablesKeepTheirHandDeclaredColumns() {
        assertThat(schema(AttributionStage.Cell.class)).isEqualTo("pair:INT64 node:STRING mib_node:STRING kind:STRING "
                + "hook:STRING layer:INT64 head:INT64 head_id:STRING position:INT64 token_clean:INT64 token_corrupt:INT64 "
                + "atp_denoising:FLOAT64 atp_noising:FLOAT64 atp_ig:FLOAT64 atp_star:FLOAT64");
        assertThat(schema(AttributionStage.Pair.class)).isEqualTo("pair:INT64 true_token:INT64 wrong_token:INT64 length:INT64 "
                + "clean_ids:INT64_LIST corrupt_ids:INT64_LIST clean_metric:FLOAT64 corrupt_metric:FLOAT64");
        assertThat(schema(AttributionStage.Node.class)).isEqualTo("node:STRING mib_node:STRING kind:STRING hook:STRING "
                + "layer:INT64 head:INT64 head_id:STRING n_pairs:INT64 rank_denoising:INT64 rank_noising:INT64 rank_ig:INT64 "
                + "atp_denoising_mean:FLOAT64 atp_denoising_ci_low:FLOAT64 atp_denoising_ci_high:FLOAT64 "
                + "atp_noising_mean:FLOAT64 atp_noising_ci_low:FLOAT64 atp_noising_ci_high:FLOAT64 "
                + "atp_ig_mean:FLOAT64 atp_ig_ci_low:FLOAT64 atp_ig_ci_high:FLOAT64 rank_star:INT64 "
                + "atp_star_mean:FLOAT64 atp_star_ci_low:FLOAT64 atp_star_ci_high:FLOAT64");
        assertThat(schema(AttributionVerificationStage.HeadRow.class)).isEqualTo("pair:INT64 layer:INT64 head:INT64 "
                + "head_id:STRING node:STRING mib_node:STRING atp_denoising:FLOAT64 exact_denoising:FLOAT64 "
                + "atp_noising:FLOAT64 exact_noising:FLOAT64 atp_ig:FLOAT64 clean_metric:FLOAT64 corrupt_metric:FLOAT64 "
                + "exact_denoising_normalized:FLOAT64 atp_star:FLOAT64");
        assertThat(schema(AttributionVerificationStage.CellRow.class)).isEqualTo("pair:INT64 layer:INT64 head:INT64 "
                + "head_id:STRING position:INT64 node:STRING atp_denoising:FLOAT64 atp_ig:FLOAT64 exact_denoising:FLOAT64 atp_star:FLOAT64");
        assertThat(schema(AttributionVerificationStage.AgreementRow.class)).isEqualTo("level:STRING direction:STRING "
                + "statistic:STRING n_pairs:INT64 value:FLOAT64 ci_low:FLOAT64 ci_high:FLOAT64");
    }

    @Test
    void configJsonKeepsItsKeysAndValues() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("prompts", "repeated random tokens: clean BOS + r + r, corrupt BOS + s + r, metric L[r0] - L[s0]");
        m.put("pairs", 32);
        m.put("length", 10);
        m.put("prompt_seed", 0L);
        m.put("verify_pairs", 8);
        m.put("top_k", 10);
        m.put("bootstrap_resamples", 2000);
        m.put("bootstrap_seed", 0L);
        m.put("batch_rows", 32);
        m.put("ig_steps", 10);
        m.put("atp_star", true);
        Map<String, Object> written = AttributionConfig.defaults().toMap();
        assertThat(List.copyOf(written.keySet())).containsExactlyElementsOf(m.keySet());
        assertThat(written).isEqualTo(m);
    }
}
