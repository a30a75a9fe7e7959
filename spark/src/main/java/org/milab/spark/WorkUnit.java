package org.milab.spark;

import org.milab.engine.Capture;
import org.milab.engine.PatchRow;
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
 * One Spark partition of a patch job: a block of prompts and a block of their rows, with the cached keys
 * and values those prompts' suffix rows attend to, so an executor needs nothing else but the graphs.
 *
 * @param id     partition index in the job
 * @param of     the job's partition count
 * @param prompt the distinct prompts of this partition's rows
 * @param rows   the rows, each naming its index in the job and its prompt in {@link #prompt}
 * @param kv     per prompt, the captured suffix hooks (hook_k, hook_v of every layer); null: whole-prompt path
 */
record WorkUnit(int id, int of, PatchSite site, String label, int[][] prompt, Row[] rows, Hooks[] kv)
        implements Serializable {

    /** A {@link PatchRow} as sent: its job index, prompt, metric tokens and overrides (one entry per override). */
    record Row(int index, int prompt, int[] metricTokens, int[] layer, int[] position, int[] head, float[][] value)
            implements Serializable {}

    /** Named hook arrays of one prompt, with their shapes. */
    record Hooks(String[] name, long[][] shape, float[][] data) implements Serializable {}

    /**
     * The job's partitions, a function of the rows and {@code partitionRows} only (never of the cluster, so
     * any cluster size computes the same batches): rows are grouped by prompt in first-appearance order;
     * a prompt with more rows than {@code partitionRows} is split into blocks of that size; consecutive
     * blocks are packed into one partition while it stays within {@code partitionRows}.
     */
    static List<WorkUnit> plan(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv,
                               Set<String> kvHooks, int partitionRows) {
        Map<TokenIds, List<Integer>> byPrompt = new LinkedHashMap<>();
        for (int i = 0; i < rows.size(); i++) byPrompt.computeIfAbsent(rows.get(i).prompt(), p -> new ArrayList<>()).add(i);
        List<List<Integer>> parts = new ArrayList<>();
        List<Integer> cur = new ArrayList<>();
        for (List<Integer> group : byPrompt.values())
            for (int from = 0; from < group.size(); from += partitionRows) {
                List<Integer> block = group.subList(from, Math.min(group.size(), from + partitionRows));
                if (!cur.isEmpty() && cur.size() + block.size() > partitionRows) {
                    parts.add(cur);
                    cur = new ArrayList<>();
                }
                cur.addAll(block);
            }
        if (!cur.isEmpty()) parts.add(cur);
        List<WorkUnit> out = new ArrayList<>(parts.size());
        for (int p = 0; p < parts.size(); p++) out.add(unit(p, parts.size(), site, label, rows, parts.get(p), kv, kvHooks));
        return out;
    }

    private static WorkUnit unit(int id, int of, PatchSite site, String label, List<PatchRow> rows, List<Integer> idx,
                                 Map<TokenIds, Capture> kv, Set<String> kvHooks) {
        Map<TokenIds, Integer> promptIndex = new LinkedHashMap<>();
        Row[] wire = new Row[idx.size()];
        for (int i = 0; i < idx.size(); i++) {
            PatchRow r = rows.get(idx.get(i));
            int p = promptIndex.computeIfAbsent(r.prompt(), t -> promptIndex.size());
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
            wire[i] = new Row(idx.get(i), p, r.metricTokens(), layer, position, head, value);
        }
        int[][] prompts = promptIndex.keySet().stream().map(TokenIds::ids).toArray(int[][]::new);
        Hooks[] hooks = null;
        if (kv != null) {
            hooks = new Hooks[prompts.length];
            int p = 0;
            for (TokenIds t : promptIndex.keySet()) {
                Capture c = kv.get(t);
                if (c == null) throw new IllegalStateException("no cached keys/values for " + t);
                String[] names = kvHooks.toArray(String[]::new);
                long[][] shapes = new long[names.length][];
                float[][] data = new float[names.length][];
                for (int h = 0; h < names.length; h++) {
                    shapes[h] = c.shapes().get(names[h]);
                    data[h] = c.hook(names[h]);
                }
                hooks[p++] = new Hooks(names, shapes, data);
            }
        }
        return new WorkUnit(id, of, site, label, prompts, wire, hooks);
    }

    /** The rows as the engine takes them. */
    List<PatchRow> patchRows() {
        List<TokenIds> prompts = new ArrayList<>();
        for (int[] p : prompt) prompts.add(new TokenIds(p));
        List<PatchRow> out = new ArrayList<>(rows.length);
        for (Row r : rows) {
            List<SitePatch> o = new ArrayList<>(r.layer().length);
            for (int j = 0; j < r.layer().length; j++)
                o.add(new SitePatch(r.layer()[j], r.position()[j], r.head()[j], r.value()[j]));
            out.add(new PatchRow(prompts.get(r.prompt()), o, r.metricTokens()));
        }
        return out;
    }

    /** The suffix captures as the engine takes them, or null for the whole-prompt path. */
    Map<TokenIds, Capture> captures() {
        if (kv == null) return null;
        Map<TokenIds, Capture> out = new HashMap<>();
        for (int p = 0; p < prompt.length; p++) {
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

    int[] indices() {
        int[] out = new int[rows.length];
        for (int i = 0; i < rows.length; i++) out[i] = rows[i].index();
        return out;
    }
}
