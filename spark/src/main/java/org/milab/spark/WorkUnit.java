package org.milab.spark;

import org.milab.engine.Capture;
import org.milab.engine.PatchRow;
import org.milab.engine.ResumePlan;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One Spark partition of a patch job: a run of consecutive calls of the local engine's plan
 * ({@link LocalBatches}), its rows in the order that makes the executor's engine make the same calls.
 * Prompts and their cached activations are the job's {@link JobData}, which reaches each executor once
 * (a broadcast).
 *
 * @param id   partition index in the job
 * @param of   the job's partition count
 * @param rows the rows, each naming its index in the plan's distinct rows and its prompt in {@link JobData}
 * @param plan on the resuming paths, the partition's calls of the job's plan (indices into {@code rows}) with
 *             the job's cache widths, which the executor runs as given; null on the others
 */
record WorkUnit(int id, int of, PatchSite site, String label, Row[] rows, ResumePlan plan) implements Serializable {

    /** A {@link PatchRow} as sent: its index, prompt, metric tokens and overrides (one entry per override). */
    record Row(int index, int prompt, int[] metricTokens, int[] layer, int[] position, int[] head, float[][] value)
            implements Serializable {}

    /** Named hook arrays of one prompt, with their shapes. */
    record Hooks(String[] name, long[][] shape, float[][] data) implements Serializable {}

    /**
     * What every partition of a job shares: the distinct prompts, and for the cached paths each prompt's
     * cached activations (null on the whole-prompt path).
     */
    record JobData(int[][] prompt, Hooks[] kv) implements Serializable {
        /**
         * @param index   the job's distinct prompts, numbered as the plan numbers them
         * @param kvHooks the hooks the cached paths read; a prompt sends those its capture holds
         */
        static JobData of(Map<TokenIds, Integer> index, Map<TokenIds, Capture> kv, Set<String> kvHooks) {
            int[][] prompts = index.keySet().stream().map(TokenIds::ids).toArray(int[][]::new);
            if (kv == null) return new JobData(prompts, null);
            Hooks[] hooks = new Hooks[prompts.length];
            index.forEach((t, p) -> {
                Capture c = kv.get(t);
                if (c == null) throw new IllegalStateException("no cached activations for " + t);
                String[] names = kvHooks.stream().filter(c.hooks()::containsKey).toArray(String[]::new);
                long[][] shapes = new long[names.length][];
                float[][] data = new float[names.length][];
                for (int h = 0; h < names.length; h++) {
                    shapes[h] = c.shapes().get(names[h]);
                    data[h] = c.hook(names[h]);
                }
                hooks[p] = new Hooks(names, shapes, data);
            });
            return new JobData(prompts, hooks);
        }

        /** The captures of {@code prompts} as the engine takes them, or null for the whole-prompt path. */
        Map<TokenIds, Capture> captures(int[] prompts) {
            if (kv == null) return null;
            Map<TokenIds, Capture> out = new HashMap<>();
            for (int p : prompts) {
                Map<String, float[]> data = new LinkedHashMap<>();
                Map<String, long[]> shapes = new LinkedHashMap<>();
                for (int h = 0; h < kv[p].name().length; h++) {
                    data.put(kv[p].name()[h], kv[p].data()[h]);
                    shapes.put(kv[p].name()[h], kv[p].shape()[h]);
                }
                TokenIds t = new TokenIds(prompt[p]);
                out.put(t, new Capture(t, new float[0], data, shapes));
            }
            return out;
        }
    }

    /**
     * A partition before it is sent: distinct-row indices in the order the executor's engine gets them, and on
     * the resuming paths its calls of the job's plan, indexing into {@code rows}, with the job's cache widths
     * (the minimal path's short cache is as wide as the whole job's latest start position, not the partition's).
     */
    record Part(List<Integer> rows, ResumePlan plan) {
        /** The rows as the executor's engine gets them. */
        List<PatchRow> engineRows(LocalBatches.Plan plan) {
            return rows.stream().map(plan.unique()::get).toList();
        }
    }

    /**
     * The job's partitions: runs of consecutive calls of {@code plan} (a call is never split; on the resuming
     * paths a run stays within one start layer), as many as {@code partitionRows} rows each would make,
     * balanced by padded tokens (the compute). A function of the rows, the batch limits and
     * {@code partitionRows} only, never of the cluster.
     */
    static List<Part> partition(LocalBatches.Plan plan, int partitionRows) {
        ResumePlan resume = plan.resume();
        int count = Math.max(1, (plan.unique().size() + partitionRows - 1) / partitionRows);
        double target = (double) plan.paddedTokens() / count;
        List<List<LocalBatches.Call>> runs = new ArrayList<>();
        List<LocalBatches.Call> cur = new ArrayList<>();
        long tokens = 0;
        int layer = Integer.MIN_VALUE;
        for (LocalBatches.Call call : plan.calls()) {
            long t = (long) call.rows().length * call.width();
            // the call goes where most of it fits
            if (!cur.isEmpty() && (tokens + t / 2.0 > target || resume != null && call.layer() != layer)) {
                runs.add(cur);
                cur = new ArrayList<>();
                tokens = 0;
            }
            cur.add(call);
            tokens += t;
            layer = call.layer();
        }
        if (!cur.isEmpty()) runs.add(cur);
        List<Part> out = new ArrayList<>(runs.size());
        for (List<LocalBatches.Call> run : runs) {
            List<Integer> rows = new ArrayList<>();
            List<ResumePlan.Call> calls = new ArrayList<>(run.size());
            for (LocalBatches.Call c : run) {
                calls.add(new ResumePlan.Call(c.layer(), java.util.stream.IntStream.range(rows.size(), rows.size() + c.rows().length).toArray()));
                for (int r : c.rows()) rows.add(r);
            }
            out.add(new Part(rows, resume == null ? null : new ResumePlan(calls, resume.cacheWidth(), resume.pastWidth())));
        }
        return out;
    }

    /** The partition as sent: its rows referring to the job's prompts, and its calls on the resuming paths. */
    static WorkUnit of(int id, int of, PatchSite site, String label, LocalBatches.Plan plan, Part part) {
        Row[] rows = new Row[part.rows().size()];
        for (int i = 0; i < rows.length; i++)
            rows[i] = row(part.rows().get(i), plan.unique().get(part.rows().get(i)), plan.promptIndex());
        return new WorkUnit(id, of, site, label, rows, part.plan());
    }

    private static Row row(int index, PatchRow r, Map<TokenIds, Integer> promptIndex) {
        List<SitePatch> o = r.overrides();
        int n = o.size();
        int[] layer = new int[n], position = new int[n], head = new int[n];
        float[][] value = new float[n][];
        for (int j = 0; j < n; j++) {
            layer[j] = o.get(j).layer();
            position[j] = o.get(j).position();
            head[j] = o.get(j).head();
            value[j] = o.get(j).value();
        }
        return new Row(index, promptIndex.get(r.prompt()), r.metricTokens(), layer, position, head, value);
    }

    /** The rows as the engine takes them, in plan order. */
    List<PatchRow> patchRows(JobData job) {
        Map<Integer, TokenIds> prompts = new HashMap<>();
        List<PatchRow> out = new ArrayList<>(rows.length);
        for (Row r : rows) {
            List<SitePatch> o = new ArrayList<>(r.layer().length);
            for (int j = 0; j < r.layer().length; j++)
                o.add(new SitePatch(r.layer()[j], r.position()[j], r.head()[j], r.value()[j]));
            out.add(new PatchRow(prompts.computeIfAbsent(r.prompt(), p -> new TokenIds(job.prompt()[p])), o, r.metricTokens()));
        }
        return out;
    }

    /** The distinct prompt indices of this partition's rows. */
    int[] prompts() {
        return java.util.Arrays.stream(rows).mapToInt(Row::prompt).distinct().toArray();
    }

    /** Each row's index in the plan's distinct rows. */
    int[] indices() {
        int[] out = new int[rows.length];
        for (int i = 0; i < rows.length; i++) out[i] = rows[i].index();
        return out;
    }
}
