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

/** Batch plans, partitions, the wire form of rows and captures, and the Arrow result batches, without Spark. */
class WorkUnitTest {
    static final TokenIds A = new TokenIds(new int[]{0, 5, 6}), B = new TokenIds(new int[]{0, 7}),
            C = new TokenIds(new int[]{0, 8, 9, 10, 11});

    static PatchRow row(TokenIds p, int position, float v) {
        return new PatchRow(p, position < 0 ? List.of() : List.of(new SitePatch(1, position, 2, new float[]{v, -v})), new int[]{3, 4});
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
    void planDeduplicatesOnExactValuesAndCutsCallsAsTheEngine() {
        List<PatchRow> rows = List.of(
                row(C, -1, 0),   // 0: unpatched, suffix length 1 (final position)
                row(A, 0, 1),    // 1: patched at BOS: whole-prompt path
                row(C, 2, 1),    // 2: suffix length 3, prefix 2
                row(C, 2, 1),    // 3: identical to 2
                row(C, 2, -0f),  // 4: differs from a +0 patch only in the sign bit: its own row
                row(C, 2, 0f),   // 5
                row(B, 1, 1),    // 6: suffix length 1, prefix 1
                row(C, 3, 1));   // 7: suffix length 2, prefix 3
        LocalBatches.Plan p = LocalBatches.plan(rows, true, 2, 100);
        assertThat(p.unique()).hasSize(7);
        assertThat(p.source()).containsExactly(0, 1, 2, 2, 3, 4, 5, 6);
        // whole-prompt rows first (only A@0, width 3); then suffix rows longest suffix first, ties by prefix
        // length then row order: C@2 (s 3) x3, C@3 (s 2), then s 1: B@1 (prefix 1) before C final (prefix 4)
        assertThat(p.calls()).extracting(c -> Arrays.toString(c.rows()) + "w" + c.width())
                .containsExactly("[1]w3", "[2, 3]w3", "[4, 6]w3", "[5, 0]w1");
        assertThat(p.paddedTokens()).isEqualTo(3 + 6 + 6 + 2);
        // without cached keys/values every row takes the whole-prompt path, longest prompt first
        assertThat(LocalBatches.plan(rows, false, 8, 12).calls()).extracting(c -> Arrays.toString(c.rows()) + "w" + c.width())
                .containsExactly("[0, 2]w5", "[3, 4]w5", "[6, 1]w5", "[5]w2");
    }

    @Test
    void partitionsAreRunsOfWholeCallsEachRowOnce() {
        List<PatchRow> rows = new ArrayList<>();
        for (int i = 0; i < 30; i++) rows.add(row(List.of(A, B, C).get(i % 3), i % 3 == 1 ? 1 : i % 2, i));
        LocalBatches.Plan plan = LocalBatches.plan(rows, true, 4, 1000);
        Map<TokenIds, Integer> prompts = new LinkedHashMap<>();
        plan.unique().forEach(r -> prompts.putIfAbsent(r.prompt(), prompts.size()));
        List<WorkUnit> units = WorkUnit.split(PatchSite.HOOK_Z, "job", plan, prompts, 10);
        List<Integer> flat = new ArrayList<>();
        for (WorkUnit u : units) for (int i : u.indices()) flat.add(i);
        List<Integer> planned = new ArrayList<>();
        for (LocalBatches.Call c : plan.calls()) for (int i : c.rows()) planned.add(i);
        assertThat(flat).as("plan order, every distinct row once").isEqualTo(planned).doesNotHaveDuplicates()
                .hasSize(plan.unique().size());
        assertThat(units).allMatch(u -> u.of() == units.size());
        // every partition boundary is a call boundary; partitions hold about equal padded tokens: at most
        // the even share (ceil(rows / 10) partitions) plus half the largest call
        long maxCall = plan.calls().stream().mapToLong(c -> (long) c.rows().length * c.width()).max().orElseThrow();
        double share = plan.paddedTokens() / Math.ceil(plan.unique().size() / 10.0);
        int call = 0;
        for (WorkUnit u : units) {
            int rowsTaken = 0;
            long tokens = 0;
            while (rowsTaken < u.rows().length) {
                LocalBatches.Call c = plan.calls().get(call++);
                rowsTaken += c.rows().length;
                tokens += (long) c.rows().length * c.width();
            }
            assertThat(rowsTaken).as("partition %d ends where a call ends", u.id()).isEqualTo(u.rows().length);
            assertThat((double) tokens).isLessThanOrEqualTo(share + maxCall / 2.0);
        }
        assertThat(call).isEqualTo(plan.calls().size());
        assertThat(units.size()).isGreaterThan(2);
    }

    @Test
    void rowsAndSuffixCapturesSurviveJavaSerialization() throws Exception {
        List<PatchRow> rows = List.of(row(A, 1, 2), row(C, -1, 0), row(B, 1, 5), row(C, 3, 7));
        LocalBatches.Plan plan = LocalBatches.plan(rows, true, 2, 100);
        Map<TokenIds, Integer> prompts = new LinkedHashMap<>();
        plan.unique().forEach(r -> prompts.putIfAbsent(r.prompt(), prompts.size()));
        WorkUnit.JobData job = roundTrip(WorkUnit.JobData.of(prompts, kv(), Set.of("k", "v")));
        for (WorkUnit sent : WorkUnit.split(PatchSite.HOOK_Z, "job", plan, prompts, 2)) {
            WorkUnit u = roundTrip(sent);
            List<PatchRow> back = u.patchRows(job);
            int[] idx = u.indices();
            for (int i = 0; i < idx.length; i++) {
                PatchRow a = plan.unique().get(idx[i]), b = back.get(i);
                assertThat(b.prompt()).isEqualTo(a.prompt());
                assertThat(b.metricTokens()).isEqualTo(a.metricTokens());
                assertThat(b.overrides()).hasSameSizeAs(a.overrides());
                for (int j = 0; j < a.overrides().size(); j++) {
                    SitePatch x = a.overrides().get(j), y = b.overrides().get(j);
                    assertThat(List.of(y.layer(), y.position(), y.head())).isEqualTo(List.of(x.layer(), x.position(), x.head()));
                    assertThat(y.value()).isEqualTo(x.value());
                }
            }
            Map<TokenIds, Capture> caps = job.captures(u.prompts());
            assertThat(caps.keySet()).containsExactlyInAnyOrderElementsOf(back.stream().map(PatchRow::prompt).distinct().toList());
            caps.forEach((t, c) -> {
                assertThat(c.hooks().keySet()).containsExactlyInAnyOrder("k", "v");
                assertThat(c.hook("k")).isEqualTo(kv().get(t).hook("k"));
                assertThat(c.shapes().get("v")).isEqualTo(kv().get(t).shapes().get("v"));
            });
        }
        assertThat(WorkUnit.JobData.of(prompts, null, Set.of()).captures(new int[]{0})).isNull();
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
