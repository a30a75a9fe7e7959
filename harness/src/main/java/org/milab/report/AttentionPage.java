package org.milab.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.engine.Capture;
import org.milab.engine.TokenIds;
import org.milab.graph.Head;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.util.AtomicFiles;
import org.milab.util.UserError;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Attention on a prompt of the user's own ({@code inspect --html}): one small offline page with each chosen
 * head's query x key pattern, tokens labelled, the value on hover (CircuitsVis' attention view).
 */
public final class AttentionPage {
    public static final String FILE = "attention.html";
    /** Without --head, every head is drawn only up to this many (a planted model); more must be chosen. */
    static final int MAX_DEFAULT_HEADS = 32;

    private AttentionPage() {}

    /** The heads to draw: the given ones (each checked against the model), else every head of a small model. */
    public static List<Head> heads(LabModel model, List<String> given) {
        int nLayer = model.config().nLayer(), nHead = model.config().nHead();
        List<Head> out = new ArrayList<>();
        if (given.isEmpty()) {
            if (nLayer * nHead > MAX_DEFAULT_HEADS)
                throw new UserError("--html draws the attention of chosen heads, and " + model.id() + " has " + nLayer * nHead + " heads.",
                        "Name them with --head, e.g. --head L5H1 --head L6H9.");
            for (int l = 0; l < nLayer; l++) for (int h = 0; h < nHead; h++) out.add(new Head(l, h));
            return out;
        }
        for (String g : given) {
            Head h;
            try {
                h = Head.parse(g);
            } catch (RuntimeException e) {
                throw new UserError("--head " + g + " is not a head name.", "Write heads as L<layer>H<head>, e.g. --head L1H2.");
            }
            if (h.layer() < 0 || h.layer() >= nLayer || h.head() < 0 || h.head() >= nHead)
                throw new UserError("--head " + g + " does not exist in " + model.id() + " (" + nLayer + " layers x " + nHead + " heads).",
                        "Choose a head between L0H0 and L" + (nLayer - 1) + "H" + (nHead - 1) + ".");
            out.add(h);
        }
        return out;
    }

    /** Captures the prompt's attention patterns and writes the page to {@code dir}/attention.html. */
    public static Path write(Path dir, LabModel model, String prompt, List<Head> heads) {
        TokenIds ids = new TokenIds(model.promptTokens(prompt));
        Set<String> hooks = new LinkedHashSet<>();
        for (Head h : heads) hooks.add(HookNames.hookPattern(h.layer()));
        Capture cap = model.engine().capture(List.of(ids), hooks, "inspect: attention patterns").get(ids);
        List<Figure> figures = new ArrayList<>();
        for (Head h : heads) {
            List<Map<String, Object>> cells = AttentionFigures.cells(model, cap, h);
            String mark = "attn_pos_" + h.label();
            ObjectNode spec = Charts.attentionGrid(mark, h.label(), cells);
            spec.put("$schema", Vl.SCHEMA);
            figures.add(new Figure("attention-" + h.label(), "", "Attention of " + h.label(),
                    "blocks." + h.layer() + ".attn.hook_pattern, head " + h.head() + "; query (row) x key (column).", spec, List.of(mark), cells.size()));
        }
        Path out = dir.resolve(FILE);
        AtomicFiles.writeString(out, ReportHtml.standalone("Attention on your prompt (" + model.id() + ")",
                "Prompt `" + prompt + "` (" + ids.ids().length + " tokens, BOS first); hover a cell for its value.", figures));
        return out;
    }
}
