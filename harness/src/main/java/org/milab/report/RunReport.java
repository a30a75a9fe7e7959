package org.milab.report;

import org.milab.graph.Head;
import org.milab.lab.LabModel;
import org.milab.stage.HeadVerdict.Outcome;
import org.milab.util.AtomicFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.protocol.v2.V2Verdicts;

/**
 * Writes a run's {@code report.html}: the verdict of every protocol the run holds and the figures behind it,
 * from the run's tables (and, for attention views, one capture on the run's model). Called at the end of
 * every run and by {@code milab report} for an existing one.
 */
public final class RunReport {
    public static final String FILE = "report.html";
    /** The attention views and distributions show at most this many heads. */
    static final int MAX_NAMED_HEADS = 6;
    /** The first screen after the verdict: the figures that answer the run's question. */
    static final String ANSWER = "The answer in figures";
    static final List<String> SECTIONS = List.of(ANSWER, V2Figures.SECTION, EffectFigures.SECTION, AttentionFigures.SECTION, "Logit lens",
            "Failure taxonomy", "Metric calibration");

    private RunReport() {}

    /**
     * @param root  the repository root (for the model manifest holding a ground truth)
     * @param model the run's model, or null (attention views are then left out, with a note)
     * @return the written file
     */
    public static Path write(Path root, Path runDir, LabModel model) {
        RunFolder run = new RunFolder(runDir);
        RunVerdict v = RunVerdict.read(root, run);
        List<Head> grid = EffectFigures.grid(run, v);
        List<Head> named = namedHeads(v);
        List<Figure> figures = new ArrayList<>();
        Map<String, String> notes = new LinkedHashMap<>();
        List<Figure> answer = new ArrayList<>();
        v.v2().ifPresent(p -> {
            CircuitFigure.build(run, p).ifPresent(f -> answer.add(f.in(ANSWER)));
            answer.addAll(V2Figures.answer(run, p, grid, ANSWER));
            V2Figures.Result rest = V2Figures.rest(run, p, grid);
            figures.addAll(rest.figures());
            if (rest.note() != null) notes.put(V2Figures.SECTION, rest.note());
        });
        // an edge-level circuit (make circuit) answers with its faithfulness curve and its graph, after v2's own
        answer.addAll(CircuitFigures.build(run, ANSWER));
        // without v2, the reference sweep's positives-vs-control view is the answer
        boolean referenceOnly = v.v2().isEmpty();
        EffectFigures.sweepPositivesVsControl(run).ifPresent(f -> {
            if (referenceOnly) answer.add(f.in(ANSWER));
            else figures.add(f);
        });
        for (Figure f : EffectFigures.sweepHeatmaps(run, grid)) {
            if (referenceOnly && f.id().equals("sweep-heatmap-positive")) answer.add(f.in(ANSWER));
            else figures.add(f);
        }
        figures.addAll(EffectFigures.heldoutHeatmaps(run, grid));
        EffectFigures.heldoutDistributions(run, named).ifPresent(figures::add);
        AttentionFigures.Result attention = AttentionFigures.build(run, model, named);
        // the attention of each head a protocol kept answers "what does it do"; the rest stay in their section
        Set<String> kept = new java.util.HashSet<>();
        for (ProtocolVerdict p : v.protocols()) p.with(Outcome.KEPT).forEach(h -> kept.add("attention-" + h.head().label()));
        for (Figure f : attention.figures()) {
            if (kept.contains(f.id())) answer.add(f.in(ANSWER));
            else figures.add(f);
        }
        // compact enough that the verdict and at least four figures fit one 1366 x 768 screen (attention views keep their size)
        figures.addAll(0, answer.stream().map(f -> f.id().startsWith("attention-") ? f : Charts.firstScreen(f, grid)).toList());
        // on a large model (GPT-2 small: 144 heads) every heatmap is that compact, five to a row instead of three
        if (Charts.largeGrid(grid)) figures.replaceAll(f -> Charts.isHeatmap(f) ? Charts.firstScreen(f, grid) : f);
        if (attention.note() != null) notes.put(AttentionFigures.SECTION, attention.note());
        StageFigures.logitLens(run).ifPresent(figures::add);
        StageFigures.taxonomy(run).ifPresent(figures::add);
        StageFigures.calibration(run).ifPresent(figures::add);
        if (v.reference().isPresent() && v.v2().isEmpty())
            notes.put(V2Figures.SECTION, "This run has no protocol v2 results (no `" + RunFolder.link(V2Verdicts.VERDICTS) + "`).");
        Path out = runDir.resolve(FILE);
        AtomicFiles.writeString(out, ReportHtml.page(run, v, figures, notes, SECTIONS));
        return out;
    }

    /**
     * The heads the verdicts name, most telling first: kept by a protocol, then the ground truth's target
     * heads (found or missed) and in-circuit heads, then decoys that fooled a stage, then partly surviving heads; at most
     * {@link #MAX_NAMED_HEADS}. Without truth or kept heads, the heads that reached the last stage.
     */
    static List<Head> namedHeads(RunVerdict v) {
        Set<Head> out = new LinkedHashSet<>();
        for (ProtocolVerdict p : v.protocols()) p.with(Outcome.KEPT).forEach(h -> out.add(h.head()));
        if (v.truth().known())
            for (ProtocolVerdict p : v.protocols()) {
                TruthComparison c = TruthComparison.of(p, v.truth());
                c.targets().forEach(t -> out.add(t.head()));
            }
        v.truth().inCircuit().forEach(t -> out.add(t.head()));
        if (v.truth().known())
            for (ProtocolVerdict p : v.protocols())
                // built decoys before noise heads, then the ones that got furthest
                TruthComparison.of(p, v.truth()).fooled().stream()
                        .sorted(java.util.Comparator.comparing((TruthComparison.Fooled f) -> f.truth().roleKey().equals("noise"))
                                .thenComparing(f -> -f.passes().size()))
                        .forEach(f -> out.add(f.truth().head()));
        for (ProtocolVerdict p : v.protocols()) p.with(Outcome.PARTLY).forEach(h -> out.add(h.head()));
        for (ProtocolVerdict p : v.protocols()) {
            String last = p.heads().stream().map(HeadVerdict::stage).max(String::compareTo).orElse("");
            p.heads().stream().filter(h -> h.stage().equals(last)).forEach(h -> out.add(h.head()));
        }
        return out.stream().limit(MAX_NAMED_HEADS).toList();
    }
}
