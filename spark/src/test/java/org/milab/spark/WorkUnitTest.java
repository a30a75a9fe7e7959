package org.milab.spark;

import org.junit.jupiter.api.Test;
import org.milab.engine.Capture;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Partition plans, the wire form of rows and captures, and the Arrow result batches, without Spark. */
class WorkUnitTest {
    static final TokenIds A = new TokenIds(new int[]{0, 5, 6}), B = new TokenIds(new int[]{0, 7}),
            C = new TokenIds(new int[]{0, 8, 9, 10});

    /** Rows of prompts A (5), B (3), C (10), interleaved as stages emit them. */
    static List<PatchRow> rows() {
        List<PatchRow> rows = new ArrayList<>();
        int n = 0;
        for (TokenIds p : List.of(A, B, C, A, C, A, B, C, A, C, A, B, C, C, C, C, C, C)) {
            float v = n++;
            rows.add(new PatchRow(p, n % 3 == 0 ? List.of() : List.of(new SitePatch(1, p.length() - 1, n % 4, new float[]{v, -v})),
                    new int[]{n, n + 1}));
        }
        return rows;
    }

    static Map<TokenIds, Capture> kv() {
        Map<TokenIds, Capture> kv = new HashMap<>();
        for (TokenIds t : List.of(A, B, C)) {
            Map<String, float[]> hooks = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            hooks.put("k", new float[]{t.length(), 1});
            shapes.put("k", new long[]{t.length(), 1, 1});
            hooks.put("v", new float[]{t.length(), 2});
            shapes.put("v", new long[]{t.length(), 1, 1});
            hooks.put("unshipped", new float[]{9});
            kv.put(t, new Capture(t, new float[]{3}, hooks, shapes));
        }
        return kv;
    }

    @Test
    void partitionsAreBlocksOfPromptsTimesBlocksOfRowsEachRowOnce() {
        List<PatchRow> rows = rows();
        List<WorkUnit> units = WorkUnit.plan(PatchSite.HOOK_Z, rows, "job", kv(), Set.of("k", "v"), 4);
        // A has 5 rows: [A x4], [A x1 + B x3], C has 10: [C x4], [C x4], [C x2]
        assertThat(units).extracting(u -> u.rows().length).containsExactly(4, 4, 4, 4, 2);
        assertThat(units).extracting(u -> u.prompt().length).containsExactly(1, 2, 1, 1, 1);
        assertThat(units).allMatch(u -> u.of() == 5);
        List<Integer> seen = new ArrayList<>();
        for (WorkUnit u : units) for (int i : u.indices()) seen.add(i);
        assertThat(seen).hasSize(rows.size()).doesNotHaveDuplicates();
        // a plan depends only on the rows and the partition size
        assertThat(WorkUnit.plan(PatchSite.HOOK_Z, rows, "job", kv(), Set.of("k", "v"), 4))
                .extracting(u -> Arrays.toString(u.indices())).isEqualTo(units.stream().map(u -> Arrays.toString(u.indices())).toList());
        assertThat(WorkUnit.plan(PatchSite.HOOK_Z, rows, "job", null, Set.of(), 100)).hasSize(1);
    }

    @Test
    void rowsAndSuffixCapturesSurviveJavaSerialization() throws Exception {
        List<PatchRow> rows = rows();
        for (WorkUnit sent : WorkUnit.plan(PatchSite.HOOK_Z, rows, "job", kv(), Set.of("k", "v"), 4)) {
            WorkUnit u = roundTrip(sent);
            List<PatchRow> back = u.patchRows();
            int[] idx = u.indices();
            for (int i = 0; i < idx.length; i++) {
                PatchRow a = rows.get(idx[i]), b = back.get(i);
                assertThat(b.prompt()).isEqualTo(a.prompt());
                assertThat(b.metricTokens()).isEqualTo(a.metricTokens());
                assertThat(b.overrides()).hasSameSizeAs(a.overrides());
                for (int j = 0; j < a.overrides().size(); j++) {
                    SitePatch x = a.overrides().get(j), y = b.overrides().get(j);
                    assertThat(List.of(y.layer(), y.position(), y.head())).isEqualTo(List.of(x.layer(), x.position(), x.head()));
                    assertThat(y.value()).isEqualTo(x.value());
                }
            }
            Map<TokenIds, Capture> caps = u.captures();
            assertThat(caps.keySet()).containsExactlyInAnyOrderElementsOf(back.stream().map(PatchRow::prompt).distinct().toList());
            caps.forEach((t, c) -> {
                assertThat(c.hooks().keySet()).containsExactlyInAnyOrder("k", "v");
                assertThat(c.hook("k")).isEqualTo(kv().get(t).hook("k"));
                assertThat(c.shapes().get("v")).isEqualTo(kv().get(t).shapes().get("v"));
            });
        }
        assertThat(roundTrip(WorkUnit.plan(PatchSite.RESID_POST, rows, "job", null, Set.of(), 4).get(0)).captures()).isNull();
    }

    @Test
    void arrowBatchesCarryExactFloatsAndCountersAndRefuseARowTwice() {
        float[][] logits = {{1.5f, Float.MIN_VALUE, -0f}, {Float.NaN}, {3.4028235e38f, 1e-7f}};
        byte[] ipc = ArrowRows.write(new int[]{4, 0, 2}, logits, Map.of("forward_calls", 3L));
        float[][] into = new float[5][];
        Map<String, Long> counters = new HashMap<>(Map.of("forward_calls", 1L));
        ArrowRows.read(ipc, into, counters);
        assertThat(counters).containsEntry("forward_calls", 4L);
        for (int[] pair : new int[][]{{4, 0}, {0, 1}, {2, 2}})
            assertThat(Arrays.equals(into[pair[0]], logits[pair[1]])).as("row %d", pair[0]).isTrue();
        assertThat(Float.floatToRawIntBits(into[4][2])).isEqualTo(Float.floatToRawIntBits(-0f));
        assertThat(into[1]).isNull();
        assertThatThrownBy(() -> ArrowRows.read(ipc, into, counters)).hasMessageContaining("arrived twice");
    }

    @SuppressWarnings("unchecked")
    private static <T> T roundTrip(T value) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(value);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) in.readObject();
        }
    }
}
