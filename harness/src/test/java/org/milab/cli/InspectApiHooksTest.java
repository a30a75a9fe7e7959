package org.milab.cli;

import org.milab.api.HookedModel;
import org.milab.api.Tensor;
import org.milab.lab.LabFixtures;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code inspect --hook} takes every hook of the model: the capture graph's through the engine as before, the others
 * (hook_q, mlp.hook_post, ...) through the Java API; both kinds land in the same long-format tables.
 */
class InspectApiHooksTest {

    @Test
    void hooksTheCaptureGraphLacksAreDumpedThroughTheApi(@TempDir Path root) {
        LabFixtures.exportRandomWordModel(root, "words", 3, List.of());
        Path out = root.resolve("out");
        Cli o = Cli.run("inspect", "--root", root.toString(), "--model", "words", "--prompt", "A B C", "--top-k", "2",
                "--hook", "blocks.0.mlp.hook_post", "--hook", "blocks.1.attn.hook_q", "--hook", "blocks.1.attn.hook_z",
                "--hook", "blocks.1.attn.hook_result", "--hook", "blocks.0.ln1.hook_scale", "--out", out.toString());
        assertThat(o.exit()).as(o.err()).isEqualTo(Main.OK);
        try (HookedModel m = HookedModel.open("words", HookedModel.Options.defaults().withRoot(root))) {
            int[] tokens = m.toTokens("A B C");
            for (String hook : List.of("blocks.0.mlp.hook_post", "blocks.1.attn.hook_q", "blocks.1.attn.hook_z",
                    "blocks.1.attn.hook_result", "blocks.0.ln1.hook_scale")) {
                Table t = ArrowTables.read(out.resolve(hook.replace('.', '_') + ".arrow"));
                Tensor expected = m.runWithCache(tokens, hook).get(hook);
                assertThat(t.rowCount()).as(hook).isEqualTo(expected.size());
                assertThat(t.columnNames()).containsAll(m.hookAxes(hook));
                float[] e = expected.toArray();
                List<Double> got = t.doubles("value");
                // hook_z comes from the capture graph, the others from the hooked graph: equal within float noise
                for (int i = 0; i < e.length; i++) assertThat(got.get(i)).as(hook + " value " + i).isCloseTo(e[i], org.assertj.core.data.Offset.offset(1e-5));
            }
        }
        Cli bad = Cli.run("inspect", "--root", root.toString(), "--model", "words", "--prompt", "A B", "--hook", "blocks.0.hook_attn_in");
        assertThat(bad.exit()).isEqualTo(Main.USER_ERROR);
        assertThat(bad.err()).contains("Unknown hook 'blocks.0.hook_attn_in'").contains("blocks.0.mlp.hook_post");
    }
}
