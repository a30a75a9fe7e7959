package org.milab.report;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.stats.Num;
import org.milab.util.Json;

/**
 * The page: one self-contained HTML file (styles, the vendored chart libraries, every figure's spec and
 * data inline; no network). Sections: run header, the verdict (opening lines and a sortable table per
 * head, both protocols), then the figures grouped by section.
 */
final class ReportHtml {
    private ReportHtml() {}

    /** @param notes per section, a sentence shown where a section has no figure (why it is missing) */
    static String page(RunFolder run, RunVerdict v, List<Figure> figures, Map<String, String> notes, List<String> sections) {
        StringBuilder b = open("milab run " + v.runId() + ": " + v.model());
        b.append("<h1>Run <code>").append(esc(v.runId())).append("</code> on <code>").append(esc(v.model())).append("</code></h1>\n");
        b.append("<p id=\"render-status\" class=\"note\">Rendering figures (needs JavaScript)...</p>\n");
        b.append("<h2 id=\"verdict\">Verdict</h2>\n<ul class=\"verdict\">\n");
        for (String line : VerdictMarkdown.opening(v).subList(2, VerdictMarkdown.opening(v).size())) {
            boolean sub = line.startsWith("  - ");
            b.append(sub ? "<ul><li>" : "<li>").append(inline(line.replaceFirst("^\\s*- ", ""))).append(sub ? "</li></ul>\n" : "</li>\n");
        }
        b.append("</ul>\n");
        List<String> shown = sections.stream().filter(s -> notes.containsKey(s) || figures.stream().anyMatch(f -> f.section().equals(s))).toList();
        b.append("<nav id=\"toc\"><b>Contents:</b> ");
        for (String section : shown) b.append("<a href=\"#").append(slug(section)).append("\">").append(esc(section)).append("</a> &middot; ");
        b.append("<a href=\"#evidence\">Evidence per head</a> &middot; <a href=\"#run-details\">Run details</a></nav>\n");
        for (String section : shown) {
            List<Figure> in = figures.stream().filter(f -> f.section().equals(section)).toList();
            String note = notes.get(section);
            b.append("<h2 id=\"").append(slug(section)).append("\">").append(esc(section)).append("</h2>\n");
            if (note != null) b.append("<p class=\"note\">").append(inline(note)).append("</p>\n");
            b.append(grid(in));
        }
        b.append("<h2 id=\"evidence\">Evidence per head</h2>\n<p class=\"note\">One line per head: the number that decided it, "
                + "with its 95% CI where the protocol computes one; click a row's <i>all numbers</i> for every score and the reason.</p>\n")
                .append(verdictTable(v));
        b.append("<h2 id=\"run-details\">Run details</h2>\n<details><summary>model, hashes, seeds, device, command, wall time</summary>\n")
                .append(header(run, v)).append("</details>\n");
        return close(b, figures);
    }

    /**
     * A page of figures without a run (e.g. {@code inspect --html}): title, one paragraph, the figures, the same
     * offline policy, libraries and render check as a run's report.
     */
    static String standalone(String title, String intro, List<Figure> figures) {
        StringBuilder b = open(title);
        b.append("<h1>").append(esc(title)).append("</h1>\n<p id=\"render-status\" class=\"note\">Rendering figures (needs JavaScript)...</p>\n")
                .append("<p>").append(inline(intro)).append("</p>\n").append(grid(figures));
        return close(b, figures);
    }

    /** The document head: offline content security policy, title, styles. */
    private static StringBuilder open(String title) {
        return new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; ")
                .append("style-src 'unsafe-inline'; img-src data:\">\n")
                .append("<title>").append(esc(title)).append("</title>\n<style>\n")
                .append(Vendored.text("report.css")).append("</style>\n</head>\n<body>\n");
    }

    private static String grid(List<Figure> in) {
        StringBuilder b = new StringBuilder("<div class=\"grid\">\n");
        for (Figure f : in)
            b.append("<figure class=\"milab-figure").append(Charts.isCompact(f) ? " compact" : "").append("\" id=\"").append(f.id()).append("\" data-mark-names=\"")
                    .append(String.join(",", f.markNames())).append("\" data-expected-items=\"").append(f.expectedItems())
                    .append("\"><figcaption><b>").append(inline(f.title())).append("</b>").append(inline(f.caption()))
                    .append("</figcaption><div class=\"chart\"></div></figure>\n");
        return b.append("</div>\n").toString();
    }

    /** The libraries (inlined), the figures' specs and the render script, then the end of the document. */
    private static String close(StringBuilder b, List<Figure> figures) {
        b.append("<h2>Libraries</h2>\n<p class=\"note\">Charts: ");
        List<Vendored.Library> libs = Vendored.libraries();
        b.append(String.join(", ", libs.stream().map(l -> esc(l.pkg()) + " " + esc(l.version()) + " (sha256 <code>"
                + l.sha256().substring(0, 12) + "</code>, BSD-3-Clause)").toList())).append(", inlined; this file needs no network.</p>\n");
        for (Vendored.Library l : libs) b.append("<script>\n").append(Vendored.script(l)).append("\n</script>\n");
        ArrayNode specs = Vl.JSON.createArrayNode();
        for (Figure f : figures) specs.add(Vl.obj("id", f.id(), "spec", f.spec()));
        b.append("<script type=\"application/json\" id=\"milab-figures\">").append(json(specs)).append("</script>\n");
        b.append("<script>\n").append(Vendored.text("report.js")).append("</script>\n</body>\n</html>\n");
        return b.toString();
    }

    private static String header(RunFolder run, RunVerdict v) {
        JsonNode m = run.manifest(), model = m.path("model"), cfg = m.path("config");
        Map<String, String> rows = new LinkedHashMap<>();
        rows.put("model", v.model() + " (checkpoint sha256 " + model.path("checkpoint_sha256").asText("?") + ", pinned: "
                + model.path("checkpoint_pinned").asText("?") + ")");
        rows.put("protocols", String.join(", ", v.protocols().stream().map(ProtocolVerdict::title).toList()));
        rows.put("config sha256", org.milab.util.Hashing.sha256(json(cfg)) + " (the run config as run_manifest.json records it)");
        m.path("hashes").fields().forEachRemaining(e -> rows.put(e.getKey().replace('_', ' ') + " sha256", e.getValue().asText()));
        StringBuilder seeds = new StringBuilder();
        cfg.fields().forEachRemaining(e -> {
            if (e.getKey().endsWith("seeds")) seeds.append(seeds.length() == 0 ? "" : "; ").append(e.getKey().replace('_', ' ')).append(' ').append(e.getValue());
        });
        rows.put("seeds", seeds.toString());
        rows.put("device", model.path("execution_provider").asText("?") + " (requested " + model.path("device_requested").asText("?") + ")"
                + (model.has("device_fallback_reason") ? "; fallback: " + model.path("device_fallback_reason").asText() : ""));
        rows.put("code commit", m.path("code_git_commit").asText("?"));
        rows.put("ONNX Runtime", model.path("onnxruntime_version").asText("?") + ", Java " + m.path("java").asText("?"));
        rows.put("command", m.path("command").asText("?"));
        rows.put("wall time", Num.sig(m.path("wall_seconds").asDouble(Double.NaN)) + " s (" + m.path("started_utc").asText("?") + " to "
                + m.path("finished_utc").asText("?") + ")");
        StringBuilder b = new StringBuilder("<dl class=\"header\">\n");
        rows.forEach((k, val) -> b.append("<dt>").append(esc(k)).append("</dt><dd>").append(esc(val)).append("</dd>\n"));
        return b.append("</dl>\n").toString();
    }

    /** The id of a section's heading: lower case, words joined by '-'. */
    static String slug(String section) {
        return section.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }

    /**
     * One sortable table over both protocols, a line per (protocol, head): role, outcome, the deciding number with
     * its CI; every score, the status, the reason and the source table behind a click.
     */
    private static String verdictTable(RunVerdict v) {
        boolean truth = v.truth().known();
        StringBuilder b = new StringBuilder("<table class=\"verdicts\" id=\"verdict-table\">\n<thead><tr><th>protocol</th><th>head</th>"
                + "<th>role tested</th><th>outcome</th><th>decided at</th><th>deciding number [95% CI]</th>"
                + (truth ? "<th>ground truth</th>" : "") + "<th>details</th></tr></thead>\n<tbody>\n");
        for (ProtocolVerdict p : v.protocols())
            for (HeadVerdict h : p.heads()) {
                java.util.Optional<HeadVerdict.Score> d = "v2".equals(p.id()) ? V2Figures.decidingScore(h) : h.scores().stream().findFirst();
                b.append("<tr class=\"").append(h.outcome().label().replace(' ', '-')).append("\" data-protocol=\"").append(p.id())
                        .append("\" data-head=\"").append(h.head().label()).append("\"><td>").append(esc(p.id())).append("</td><td data-sort=\"")
                        .append(String.format("%04d%04d", h.head().layer(), h.head().head())).append("\">").append(h.head().label())
                        .append("</td><td>").append(esc(h.role())).append("</td><td class=\"outcome\">")
                        .append(h.outcome().label()).append("</td><td>").append(esc(h.stage())).append("</td><td data-sort=\"")
                        .append(d.map(s -> String.valueOf(s.value())).orElse("")).append("\">")
                        .append(d.map(s -> "<code>" + esc(s.name()) + "</code> " + esc(s.text())).orElse("")).append("</td>");
                if (truth) b.append("<td>").append(esc(v.truth().of(h.head()).map(Truth.TruthHead::describe).orElse(""))).append("</td>");
                b.append("<td><details><summary>all numbers</summary><p>status <code>").append(esc(h.status())).append("</code>; ")
                        .append(esc(String.join("; ", h.scores().stream().map(ReportHtml::scoreText).toList())))
                        .append("</p><p>").append(inline(h.reason())).append("</p><p>source: <a href=\"").append(esc(h.table())).append("\">")
                        .append(esc(h.table())).append("</a></p></details></td></tr>\n");
            }
        return b.append("</tbody>\n</table>\n").toString();
    }

    /** A score for people: p-values below 1e-16 as "< 1e-16", others to 4 significant digits with the CI. */
    static String scoreText(HeadVerdict.Score s) {
        return s.name() + " " + (s.name().startsWith("p_") && !s.hasCi() ? Num.p(s.value()) : s.text());
    }

    private static final Pattern LINK = Pattern.compile("\\[([^\\]]+)]\\(([^)\\s]+)\\)");

    /** The few inline Markdown forms the verdict lines use: **bold**, `code`, [text](link). */
    static String inline(String md) {
        String s = esc(md).replaceAll("\\*\\*(.+?)\\*\\*", "<strong>$1</strong>").replaceAll("`([^`]+)`", "<code>$1</code>");
        Matcher m = LINK.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) m.appendReplacement(out, Matcher.quoteReplacement("<a href=\"" + m.group(2) + "\">" + m.group(1) + "</a>"));
        return m.appendTail(out).toString();
    }

    static String esc(String s) {
        if (s == null) return "";
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** JSON safe inside a script element: every '<' escaped (it only occurs inside strings). */
    private static String json(Object node) {
        try {
            return Json.COMPACT.writeValueAsString(node).replace("<", "\\u003c");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
