package org.milab.tables;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class HookTablesTest {
    @Test
    void perHeadHooksCarryTheirLayerAndHeadIdOthersOnlyTheirAxes() {
        // hook_z of block 3: [pos 2][head 2][d_head 2], value = its flat index
        float[] z = new float[8];
        for (int i = 0; i < z.length; i++) z[i] = i;
        Table t = HookTables.toTable("blocks.3.attn.hook_z", z, new long[]{2, 2, 2}, Map.of());
        assertThat(t.columnNames()).containsExactly("layer", "pos", "head", "head_id", "d_head", "value");
        assertThat(t.keys()).containsExactly("pos", "head", "d_head");
        assertThat(t.longs("layer")).containsOnly(3L);
        assertThat(t.strings("head_id")).containsExactly("L3H0", "L3H0", "L3H1", "L3H1", "L3H0", "L3H0", "L3H1", "L3H1");
        assertThat(t.row(5).toMap()).containsEntry("pos", 1L).containsEntry("head", 0L).containsEntry("d_head", 1L)
                .containsEntry("value", 5.0);
        assertThat(t.descriptions()).containsKeys("layer", "pos", "head", "head_id", "d_head", "value");

        Table resid = HookTables.toTable("blocks.3.hook_resid_post", new float[]{1, 2}, new long[]{1, 2}, Map.of());
        assertThat(resid.columnNames()).containsExactly("pos", "d_model", "value");
    }
}
