package org.milab.spark;

import org.junit.jupiter.api.Test;
import org.milab.engine.Capture;
import org.milab.engine.InterventionEngine.MinimalCalls;
import org.milab.engine.RecomputePath;
import org.milab.engine.PatchRow;
import org.milab.engine.ResumePlan;
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
                row(A, 0, 1),    // 1: patched at BOS
                row(C, 2, 1),    // 2: suffix length 3, prefix 2
                row(C, 2, 1),    // 3: identical to 2
                row(C, 2, -0f),  // 4: differs from a +0 patch only in the sign bit: its own row
                row(C, 2, 0f),   // 5
                row(B, 1, 1),    // 6: suffix length 1, prefix 1
                row(C, 3, 1));   // 7: suffix length 2, prefix 3
        LocalBatches.Plan p = LocalBatches.plan(rows, RecomputePath.SUFFIX, 2, 2, 100, MinimalCalls.DEFAULT);
        assertThat(p.unique()).hasSize(7);
        assertThat(p.source()).containsExactly(0, 1, 2, 2, 3, 4, 5, 6);
        // suffix path: whole-prompt rows first (only A@0, width 3); then suffix rows longest suffix first, ties
        // by prefix length then row order: C@2 (s 3) x3, C@3 (s 2), then s 1: B@1 (prefix 1) before C final (prefix 4)
        assertThat(calls(p)).containsExactly("[1]w3", "[2, 3]w3", "[4, 6]w3", "[5, 0]w1");
        assertThat(p.paddedTokens()).isEqualTo(3 + 6 + 6 + 2);
        // whole prompts (also every site but hook_z): longest prompt first
        assertThat(calls(LocalBatches.plan(rows, RecomputePath.WHOLE, 2, 8, 12, MinimalCalls.DEFAULT)))
                .containsExactly("[0, 2]w5", "[3, 4]w5", "[6, 1]w5", "[5]w2");
        // resume path: by first patched layer (here all the last block, as unpatched rows), then suffix length
        // (longest first), ties by cache index (prompt first appearance: C, A, B), then row order: s 3: C@2 x3
        // then A@0; s 2: C@3; s 1: C final, B@1. One cache of width 5 for all calls, keys and values too, whatever
        // the minimal path's settings (the reference protocol's bytes were made so)
        LocalBatches.Plan m = LocalBatches.plan(rows, RecomputePath.RESUME, 2, 2, 100, MinimalCalls.LEAST_PADDING);
        assertThat(List.of(m.resume().cacheWidth(), m.resume().pastWidth())).containsExactly(5, 5);
        assertThat(m.promptIndex()).containsExactly(Map.entry(C, 0), Map.entry(A, 1), Map.entry(B, 2));
        assertThat(calls(m)).containsExactly("L1[2, 3]w3", "L1[4, 1]w3", "L1[6, 0]w2", "L1[5]w1");
        // minimal path: last-block patches before the final position change nothing the metric reads, so every
        // row runs its final position only (B@1 is B's final position): suffix 1 each, by cache index, row order
        for (MinimalCalls setting : List.of(MinimalCalls.GREEDY_FULL_PAST, MinimalCalls.LEAST_PADDING))
            assertThat(calls(LocalBatches.plan(rows, RecomputePath.MINIMAL, 2, 2, 100, setting)))
                    .containsExactly("L1[0, 2]w1", "L1[3, 4]w1", "L1[6, 1]w1", "L1[5]w1");
        List<PatchRow> layered = List.of(row(C, -1, 0), new PatchRow(A, List.of(new SitePatch(0, 1, 0, new float[]{1})), new int[]{1}),
                row(B, 1, 2));
        assertThat(calls(LocalBatches.plan(layered, RecomputePath.MINIMAL, 2, 4, 100, MinimalCalls.GREEDY_FULL_PAST)))
                .containsExactly("L0[1]w2", "L1[0, 2]w1");
    }

    @Test
    void minimalPathFollowsTheEnginesLeastPaddingCutAndShortCache() {
        // block-0 rows with suffixes 3, 2, 2 (C@2, C@3, A@1), 2 rows per call: the greedy fill pads 3+3 and 2 tokens,
        // the least-padding cut 3 and 2+2 (one token less, as many calls)
        List<PatchRow> rows = List.of(
                new PatchRow(C, List.of(new SitePatch(0, 3, 0, new float[]{1})), new int[]{1}),
                new PatchRow(A, List.of(new SitePatch(0, 1, 0, new float[]{1})), new int[]{1}),
                new PatchRow(C, List.of(new SitePatch(0, 2, 0, new float[]{1})), new int[]{1}));
        LocalBatches.Plan greedy = LocalBatches.plan(rows, RecomputePath.MINIMAL, 2, 2, 100, MinimalCalls.GREEDY_FULL_PAST);
        assertThat(calls(greedy)).containsExactly("L0[2, 0]w3", "L0[1]w2");
        assertThat(List.of(greedy.resume().cacheWidth(), greedy.resume().pastWidth())).containsExactly(5, 5);
        LocalBatches.Plan least = LocalBatches.plan(rows, RecomputePath.MINIMAL, 2, 2, 100, MinimalCalls.LEAST_PADDING);
        assertThat(calls(least)).containsExactly("L0[2]w3", "L0[0, 1]w2");
        // keys and values up to the job's latest first recomputed position: C@3
        assertThat(List.of(least.resume().cacheWidth(), least.resume().pastWidth())).containsExactly(5, 3);
        assertThat(least.paddedTokens()).isEqualTo(greedy.paddedTokens() - 1);
        // a partition per call: each runs its call as given, over the job's widths, not its own (C@2 alone: 2)
        List<WorkUnit.Part> parts = WorkUnit.partition(least, 1);
        assertThat(parts).extracting(WorkUnit.Part::rows).containsExactly(List.of(2), List.of(0, 1));
        for (WorkUnit.Part part : parts) {
            assertThat(List.of(part.plan().cacheWidth(), part.plan().pastWidth())).containsExactly(5, 3);
            assertThat(part.plan().calls()).singleElement().satisfies(c -> {
                assertThat(c.startLayer()).isZero();
                assertThat(c.rows()).isEqualTo(java.util.stream.IntStream.range(0, part.rows().size()).toArray());
            });
        }
    }

    private static List<String> calls(LocalBatches.Plan p) {
        return p.calls().stream().map(c -> (c.layer() < 0 ? "" : "L" + c.layer()) + Arrays.toString(c.rows()) + "w" + c.width()).toList();
    }

    @Test
    void partitionsAreRunsOfWholeCallsEachRowOnce() {
        List<PatchRow> rows = new ArrayList<>();
        for (int i = 0; i < 30; i++) rows.add(row(List.of(A, B, C).get(i % 3), i % 3 == 1 ? 1 : i % 2, i));
        for (RecomputePath path : RecomputePath.values()) {
            LocalBatches.Plan plan = LocalBatches.plan(rows, path, 2, 4, 1000, MinimalCalls.DEFAULT);
            List<WorkUnit.Part> parts = WorkUnit.partition(plan, 10);
            List<Integer> flat = new ArrayList<>();
            for (WorkUnit.Part u : parts) flat.addAll(u.rows());
            assertThat(flat).as("every distinct row once").hasSize(plan.unique().size()).doesNotHaveDuplicates();
            // every partition is a run of whole calls, holding about equal padded tokens: at most the even
            // share (ceil(rows / 10) partitions) plus half the largest call
            long maxCall = plan.calls().stream().mapToLong(c -> (long) c.rows().length * c.width()).max().orElseThrow();
            double share = plan.paddedTokens() / Math.ceil(plan.unique().size() / 10.0);
            int call = 0;
            for (WorkUnit.Part u : parts) {
                List<Integer> taken = new ArrayList<>();
                long tokens = 0;
                List<List<Integer>> own = new ArrayList<>();
                while (taken.size() < u.rows().size()) {
                    LocalBatches.Call c = plan.calls().get(call++);
                    for (int r : c.rows()) taken.add(r);
                    own.add(Arrays.stream(c.rows()).boxed().toList());
                    tokens += (long) c.rows().length * c.width();
                }
                assertThat(u.rows()).as("%s: a partition ends where a call ends", path).containsExactlyElementsOf(taken);
                assertThat((double) tokens).isLessThanOrEqualTo(share + maxCall / 2.0);
                // resuming paths: the partition's calls are the job's, over the job's cache widths
                assertThat(u.plan() != null).isEqualTo(path.resumes());
                if (u.plan() == null) continue;
                assertThat(List.of(u.plan().cacheWidth(), u.plan().pastWidth()))
                        .containsExactly(plan.resume().cacheWidth(), plan.resume().pastWidth());
                assertThat(u.plan().calls().stream().map(c -> Arrays.stream(c.rows()).mapToObj(u.rows()::get).toList()).toList())
                        .isEqualTo(own);
            }
            assertThat(call).isEqualTo(plan.calls().size());
            assertThat(parts.size()).isGreaterThan(2);
        }
    }

    @Test
    void rowsAndSuffixCapturesSurviveJavaSerialization() throws Exception {
        List<PatchRow> rows = List.of(row(A, 1, 2), row(C, -1, 0), row(B, 1, 5), row(C, 3, 7), row(B, 0, 1));
        LocalBatches.Plan plan = LocalBatches.plan(rows, RecomputePath.MINIMAL, 2, 1, 100, MinimalCalls.DEFAULT);
        WorkUnit.JobData job = roundTrip(WorkUnit.JobData.of(plan.promptIndex(), kv(), Set.of("k", "v")));
        List<WorkUnit.Part> parts = WorkUnit.partition(plan, 1);
        assertThat(parts).hasSizeGreaterThan(2);
        for (int p = 0; p < parts.size(); p++) {
            WorkUnit u = roundTrip(WorkUnit.of(p, parts.size(), PatchSite.HOOK_Z, "job", plan, parts.get(p)));
            List<PatchRow> sent = parts.get(p).engineRows(plan), back = u.patchRows(job);
            assertThat(back).hasSameSizeAs(sent);
            assertThat(Arrays.stream(u.indices()).boxed().toList()).isEqualTo(parts.get(p).rows());
            ResumePlan sentPlan = parts.get(p).plan();
            assertThat(List.of(u.plan().cacheWidth(), u.plan().pastWidth())).isEqualTo(List.of(sentPlan.cacheWidth(), sentPlan.pastWidth()));
            assertThat(u.plan().calls()).hasSameSizeAs(sentPlan.calls());
            for (int c = 0; c < sentPlan.calls().size(); c++) {
                assertThat(u.plan().calls().get(c).startLayer()).isEqualTo(sentPlan.calls().get(c).startLayer());
                assertThat(u.plan().calls().get(c).rows()).isEqualTo(sentPlan.calls().get(c).rows());
            }
            for (int i = 0; i < sent.size(); i++) {
                PatchRow a = sent.get(i), b = back.get(i);
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
        assertThat(WorkUnit.JobData.of(plan.promptIndex(), null, Set.of()).captures(new int[]{0})).isNull();
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
