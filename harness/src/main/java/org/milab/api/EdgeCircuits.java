package org.milab.api;

import org.milab.atp.EdgeFaithfulness;
import org.milab.atp.EdgeGraph;
import org.milab.atp.EdgePasses;
import org.milab.atp.MibCircuit;
import org.milab.atp.PromptPair;
import org.milab.lab.LabModel;
import org.milab.stats.Bootstrap;
import org.milab.util.AtomicFiles;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@link HookedModel}'s circuit calls over the core the circuit stage runs ({@code org.milab.atp}: {@link EdgeFaithfulness},
 * {@link MibCircuit}), so a circuit's faithfulness, a sweep's curve, CPR, CMD and smallest circuit, the pruning and the
 * MIB JSON are {@code make circuit}'s for the same pairs, metric, bootstrap and batch size.
 */
final class EdgeCircuits {
    private final LabModel model;
    private final EdgeGraph graph;
    private final int batchRows;

    EdgeCircuits(LabModel model, int batchRows) {
        this.model = model;
        this.graph = new EdgeGraph(model.config());
        this.batchRows = batchRows;
    }

    Faithfulness faithfulness(List<PromptPair> pairs, Circuit circuit, FaithfulnessOptions o) {
        Set<Integer> in = indices(circuit);
        float[] mask = new float[graph.size()];
        for (int e : in) mask[e] = 1f;
        EdgeFaithfulness.ExampleMetric metric = metric(pairs, o);
        try (EdgePasses passes = new EdgePasses(model, graph, pairs, batchRows)) {
            EdgeFaithfulness.Baseline base = EdgeFaithfulness.baseline(passes, metric);
            EdgeFaithfulness.SizePoint p = EdgeFaithfulness.curve(EdgeFaithfulness.direct(passes), "circuit", graph.size(),
                    List.of(in.size()), k -> mask, base, metric, bootstrap(o)).get(0);
            return new Faithfulness(circuit, o.metric().id(), Estimate.of(p.faithfulness()), p.metric(), base.full(), base.empty());
        }
    }

    FaithfulnessCurve sweep(List<PromptPair> pairs, EdgeAttribution scores, EdgeAttribution.Method method, FaithfulnessOptions o) {
        if (scores.edges().size() != graph.size())
            throw new UserError("The edge scores have " + scores.edges().size() + " edges; model '" + model.id() + "''s graph has "
                    + graph.size() + ".", "Rank the edges with attributeEdges on this model.");
        int E = graph.size();
        List<Integer> sizes = o.sizes() == null ? EdgeFaithfulness.sizeGrid(E) : o.sizes();
        if (sizes.get(sizes.size() - 1) > E)
            throw new UserError("Sweep size " + sizes.get(sizes.size() - 1) + " exceeds the " + E + " edges of model '" + model.id() + "'.",
                    "Declare sizes of at most " + E + " (FaithfulnessOptions.withSizes), or null for the default grid.");
        int[] order = scores.order(method);
        EdgeFaithfulness.ExampleMetric metric = metric(pairs, o);
        EdgeFaithfulness.Sweep sw;
        EdgeFaithfulness.Baseline base;
        try (EdgePasses passes = new EdgePasses(model, graph, pairs, batchRows)) {
            base = EdgeFaithfulness.baseline(passes, metric);
            sw = EdgeFaithfulness.sweep(EdgeFaithfulness.direct(passes), method.name().toLowerCase(java.util.Locale.ROOT), E, order,
                    sizes, base, metric, bootstrap(o), o.threshold());
        }
        List<FaithfulnessCurve.Point> points = new ArrayList<>();
        for (EdgeFaithfulness.SizePoint p : sw.curve()) points.add(point(p, true));
        for (EdgeFaithfulness.SizePoint p : sw.refined()) points.add(point(p, false));
        points.sort(Comparator.comparingInt(FaithfulnessCurve.Point::size));
        FaithfulnessCurve.Point smallest = sw.smallest() == null ? null
                : points.stream().filter(p -> p.size() == sw.smallest().size()).findFirst().orElseThrow();
        return new FaithfulnessCurve(method, o.metric().id(), E, List.copyOf(points), Estimate.of(sw.cpr()), Estimate.of(sw.cmd()),
                o.threshold(), smallest, smallest == null ? null : scores.circuit(smallest.size(), method),
                base.full(), base.empty());
    }

    Circuit prune(Circuit circuit) {
        return circuit(MibCircuit.prune(indices(circuit), graph), circuit.scores());
    }

    String mibJson(Circuit circuit) {
        double[] score = null;
        if (!circuit.scores().isEmpty()) {
            score = new double[graph.size()];
            for (EdgeGraph.Edge e : graph.edges()) score[e.index()] = circuit.scores().getOrDefault(e.name(), Double.NaN);
        }
        return MibCircuit.json(graph, score, indices(circuit)) + "\n";
    }

    void write(Circuit circuit, Path file) {
        AtomicFiles.writeString(file, mibJson(circuit));
    }

    Circuit read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new UserError("Cannot read circuit file " + file + ": " + e.getMessage(), "Check the path and its permissions.", e);
        }
        MibCircuit.Read r = MibCircuit.read(text, graph, file.toString());
        Map<String, Double> scores = new LinkedHashMap<>();
        for (EdgeGraph.Edge e : graph.edges()) if (!Double.isNaN(r.scores()[e.index()])) scores.put(e.name(), r.scores()[e.index()]);
        return circuit(r.edges(), scores);
    }

    /** The circuit of edge indices {@code in}, in graph order. */
    private Circuit circuit(Set<Integer> in, Map<String, Double> scores) {
        return new Circuit(new TreeSet<>(in).stream().map(e -> graph.edges().get(e).name()).toList(), scores);
    }

    /** The circuit's edge indices; an unknown name is refused. */
    private Set<Integer> indices(Circuit circuit) {
        Map<String, Integer> index = new LinkedHashMap<>();
        for (EdgeGraph.Edge e : graph.edges()) index.put(e.name(), e.index());
        Set<Integer> out = new TreeSet<>();
        for (String name : circuit.edges()) {
            Integer i = index.get(name);
            if (i == null)
                throw new UserError("'" + name + "' is not an edge of model '" + model.id() + "'.", "Name edges as MIB does: "
                        + "input->a0.h1<q>, a0.h1->a1.h2<k>, a1.h2->m1, m1->logits (heads a{layer}.h{head}, MLPs m{layer}).");
            out.add(i);
        }
        return out;
    }

    private static EdgeFaithfulness.ExampleMetric metric(List<PromptPair> pairs, FaithfulnessOptions o) {
        org.milab.atp.TaskMetric m = o.metric().core();
        return (logits, clean, i) -> m.of(logits, clean, pairs.get(i).trueToken(), pairs.get(i).wrongToken());
    }

    private static Bootstrap bootstrap(FaithfulnessOptions o) {
        return new Bootstrap(o.resamples(), o.seed(), Bootstrap.DEFAULT_LEVEL);
    }

    private static FaithfulnessCurve.Point point(EdgeFaithfulness.SizePoint p, boolean onGrid) {
        return new FaithfulnessCurve.Point(p.size(), p.fraction(), Estimate.of(p.faithfulness()), p.metric(), onGrid);
    }
}
