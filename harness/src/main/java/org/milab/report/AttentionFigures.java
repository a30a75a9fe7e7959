package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.engine.Capture;
import org.milab.graph.Head;
import org.milab.engine.TokenIds;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.milab.stage.RunFolder.bool;
import static org.milab.stage.RunFolder.str;
import static org.milab.report.Vl.arr;
import static org.milab.report.Vl.obj;
import org.milab.stage.RunFolder;

/**
 * Attention pattern views (as CircuitsVis shows them): for each head a verdict names, the query x key
 * grid of {@code hook_pattern} on the run's first positive prompt beside its control prompt, token
 * labels on both axes, the value on hover. Patterns come from one clean capture of the run's model.
 */
final class AttentionFigures {
    static final String SECTION = "Attention patterns";

    private AttentionFigures() {}

    /** The figures, or a sentence saying why there are none. */
    record Result(List<Figure> figures, String note) {}

    static Result build(RunFolder run, LabModel model, List<Head> heads) {
        if (heads.isEmpty()) return new Result(List.of(), "No verdict names a head.");
        if (model == null) return new Result(List.of(), "The model was not available when this report was written "
                + "(export it, then run `make report RUN=" + "results/" + run.dir().getFileName() + "`).");
        String drift = graphDrift(run, model);
        if (drift != null) return new Result(List.of(), drift);
        Optional<String[]> pair = promptPair(run);
        if (pair.isEmpty()) return new Result(List.of(), "The run has no prompt table with a positive prompt and its control.");
        String positive = pair.get()[0], control = pair.get()[1], source = pair.get()[2];
        TokenIds pos = new TokenIds(model.tokenizer().encodeWithBos(positive)), ctl = new TokenIds(model.tokenizer().encodeWithBos(control));
        Set<String> hooks = new LinkedHashSet<>();
        for (Head h : heads) hooks.add(HookNames.hookPattern(h.layer()));
        Map<TokenIds, Capture> caps = model.engine().capture(List.of(pos, ctl), hooks, "report: attention patterns");
        List<Figure> out = new ArrayList<>();
        for (Head h : heads) {
            String id = h.label();
            List<Map<String, Object>> p = cells(model, caps.get(pos), h), c = cells(model, caps.get(ctl), h);
            ObjectNode spec = obj("$schema", Vl.SCHEMA, "hconcat", arr(
                    Charts.attentionGrid("attn_pos_" + id, "positive: " + positive, p),
                    Charts.attentionGrid("attn_ctl_" + id, "control: " + control, c)),
                    "resolve", obj("scale", obj("color", "shared")));
            out.add(new Figure("attention-" + id, SECTION, "Attention of " + id + " (blocks." + h.layer() + ".attn.hook_pattern, head " + h.head() + ")",
                    "Query (row) x key (column) attention weights on the first positive prompt of " + source
                            + " and its control prompt; hover a cell for its value.",
                    spec, List.of("attn_pos_" + id, "attn_ctl_" + id), p.size() + c.size()));
        }
        return new Result(out, null);
    }

    static List<Map<String, Object>> cells(LabModel model, Capture cap, Head h) {
        int[] ids = cap.prompt().ids();
        List<String> labels = new ArrayList<>();
        for (int i = 0; i < ids.length; i++)
            labels.add(i + " " + (ids[i] == model.tokenizer().bosId() ? "BOS" : model.tokenizer().tokenText(ids[i]).strip()));
        List<Map<String, Object>> rows = new ArrayList<>();
        for (int q = 0; q < ids.length; q++)
            for (int k = 0; k <= q; k++) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("query_pos", q);
                r.put("key_pos", k);
                r.put("query", labels.get(q));
                r.put("key", labels.get(k));
                r.put("value", (double) cap.pattern(h.layer(), h.head(), q, k));
                rows.add(r);
            }
        return rows;
    }

    /** The first positive prompt of the first controls (else held-out) seed, its control prompt, and where it came from. */
    static Optional<String[]> promptPair(RunFolder run) {
        for (String stage : List.of("controls", "heldout"))
            for (int seed : run.seeds(stage)) {
                String rel = stage + "/seed" + seed + "/prompts";
                Optional<Table> t = run.table(rel);
                if (t.isEmpty()) continue;
                for (Table.Row r : t.get().rows())
                    if (bool(r, "should_show_induction_behavior") && str(r, "control_prompt") != null && !str(r, "control_prompt").isBlank())
                        return Optional.of(new String[] {str(r, "prompt"), str(r, "control_prompt"), RunFolder.link(rel)});
            }
        return Optional.empty();
    }

    /** Null when the model's graphs are the ones the run used; otherwise why the views are left out. */
    private static String graphDrift(RunFolder run, LabModel model) {
        JsonNode recorded = run.manifest().path("model").path("graph_sha256");
        Object now = model.provenance().get("graph_sha256");
        if (recorded.isMissingNode() || !(now instanceof Map<?, ?> m)) return null;
        String capture = recorded.path("capture").asText("");
        Object current = m.get("capture");
        if (!capture.isEmpty() && current != null && !capture.equals(current.toString()))
            return "The model's capture graph changed since this run (sha256 differs from run_manifest.json), so its attention "
                    + "patterns would not be this run's; views left out.";
        return null;
    }
}
