package org.milab.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.engine.InterventionEngine.MinimalCalls;
import org.milab.engine.PatchRow;
import org.milab.engine.RecomputePath;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.runtime.Device;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The minimal path with the engine's default least-padding calls on Spark: a job whose rows start at different
 * positions (suffixes of different lengths) split into several partitions gives the local engine's floats bit for
 * bit. Mirroring the greedy fill, or letting each partition plan its own calls or cut its key/value cache at its
 * own latest start position, would not (this job is chosen so that both differ from the local run's).
 */
class SparkPlanTest {
    /** 16 rows of at most 8 padded tokens per call: the token bound cuts calls of long suffixes short. */
    static final int ROWS = 16, TOKENS = 16 * 8, PARTITION_ROWS = 40;

    @Test
    void minimalJobOnSparkEqualsTheLocalEngineBitForBitWithLeastPadding(@TempDir Path root) {
        SparkFixtures.exportPlanted(root);
        SparkFixtures.Job job;
        float[][] expected;
        try (LabModel local = LabModel.open(root, SparkFixtures.MODEL, Device.CPU, 0, ROWS, TOKENS)) {
            assertThat(local.localEngine().minimalCalls()).isEqualTo(MinimalCalls.LEAST_PADDING);
            // rows patched at BOS, the middle and the final position of prompts of 5-14 tokens
            job = SparkFixtures.headJob(local.engine(), 6, 5);
            expected = local.engine().patch(PatchSite.HOOK_Z, job.rows(), "local", job.kv(), RecomputePath.MINIMAL);

            // the job is one the old mirror gets wrong: the least-padding calls are not the greedy fill's, and some
            // partition's own latest start position is before the job's (a cache of its own would be narrower)
            int nLayer = local.config().nLayer();
            LocalBatches.Plan plan = LocalBatches.plan(job.rows(), RecomputePath.MINIMAL, local.localEngine());
            LocalBatches.Plan greedy = LocalBatches.plan(job.rows(), RecomputePath.MINIMAL, nLayer, ROWS, TOKENS,
                    MinimalCalls.GREEDY_FULL_PAST);
            assertThat(callRows(plan)).isNotEqualTo(callRows(greedy));
            assertThat(plan.paddedTokens()).isLessThan(greedy.paddedTokens());
            assertThat(plan.resume().pastWidth()).isLessThan(greedy.resume().pastWidth());
            List<WorkUnit.Part> parts = WorkUnit.partition(plan, PARTITION_ROWS);
            assertThat(parts).hasSizeGreaterThan(2).anySatisfy(p -> assertThat(p.rows().stream()
                    .mapToInt(i -> startPosition(plan.unique().get(i), nLayer)).max().orElseThrow())
                    .isLessThan(plan.resume().pastWidth()));
        }
        try (LabModel m = LabModel.open(root, SparkFixtures.MODEL, Device.CPU, 0, ROWS, TOKENS,
                SparkFailureTest.spark("local[2]", PARTITION_ROWS))) {
            SparkEngine engine = (SparkEngine) m.engine();
            long t0 = System.nanoTime();
            float[][] got = engine.patch(PatchSite.HOOK_Z, job.rows(), "minimal on spark", job.kv(), RecomputePath.MINIMAL);
            System.out.printf("minimal job on local[2]: %d rows in %.1f s%n", job.rows().size(), (System.nanoTime() - t0) / 1e9);
            assertThat(got).hasSameDimensionsAs(expected);
            for (int i = 0; i < got.length; i++) {
                int[] a = new int[got[i].length], b = new int[expected[i].length];
                for (int k = 0; k < a.length; k++) a[k] = Float.floatToRawIntBits(got[i][k]);
                for (int k = 0; k < b.length; k++) b[k] = Float.floatToRawIntBits(expected[i][k]);
                assertThat(a).as("row %d, float bits", i).isEqualTo(b);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> entry = ((List<Map<String, Object>>) engine.describe().get("jobs")).get(0);
            assertThat(entry.get("path")).isEqualTo("minimal");
            assertThat((Integer) entry.get("partitions")).isGreaterThan(2);
            assertThat(entry.get("batches_match_local_engine")).isEqualTo(true);
            assertThat(entry.get("past_positions")).isEqualTo(
                    LocalBatches.plan(job.rows(), RecomputePath.MINIMAL, m.localEngine()).resume().pastWidth());
        }
    }

    private static List<List<Integer>> callRows(LocalBatches.Plan plan) {
        return plan.calls().stream().map(c -> Arrays.stream(c.rows()).boxed().toList()).toList();
    }

    private static int startPosition(PatchRow row, int nLayer) {
        return RecomputePath.MINIMAL.resumeRow(row, nLayer).startPosition();
    }
}
