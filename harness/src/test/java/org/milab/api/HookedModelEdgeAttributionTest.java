package org.milab.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.circuit.BuiltinTasks;
import org.milab.circuit.CircuitConfig;
import org.milab.circuit.CircuitDiscovery;
import org.milab.circuit.CircuitTask;
import org.milab.circuit.EdgeRunner;
import org.milab.circuit.TokenPair;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;
import org.milab.planted.GroundTruth;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Device;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link HookedModel#attributeEdges} on the planted induction model: every edge's EAP and EAP-IG (per pair, means and
 * bootstrap intervals) and both runs' metrics equal what the circuit stage computes for the same task through its own
 * path ({@link EdgeRunner} over the task's {@link TokenPair}s, {@link CircuitDiscovery} with make circuit's bootstrap
 * settings); the top EAP-IG edges hold the previous-token head -> induction head key edge, read here in the test from the
 * planted model's manifest (the API never sees it).
 */
class HookedModelEdgeAttributionTest {
    static final int STEPS = 5;

    @Test
    void edgeScoresEqualTheCircuitStagesAndFindThePlantedKeyEdge(@TempDir Path root) {
        PlantedSpec spec = PlantedSpec.defaults();
        long t0 = System.nanoTime();
        ModelExports.exportPlanted(new ModelLayout(root, spec.modelId()), spec);
        System.out.printf("export %.1f s%n", (System.nanoTime() - t0) / 1e9);
        CircuitDiscovery.Result stage;
        List<TokenPair> pairs;
        String keyEdge;
        try (LabModel m = LabModel.open(root, spec.modelId(), Device.CPU, 0)) {
            JsonNode manifest = m.manifest(GraphVariant.EDGE_MASK);
            GroundTruth truth = GroundTruth.fromJson(manifest.get("ground_truth").toString());
            keyEdge = mib(truth.head(GroundTruth.Role.PREVIOUS_TOKEN)) + "->" + mib(truth.head(GroundTruth.Role.INDUCTION)) + "<k>";
            CircuitTask task = BuiltinTasks.get("induction", m, 8, 6, 0);
            pairs = task.tokenize(m);
            try (EdgeRunner runner = new EdgeRunner(m, pairs, 16)) {
                // exact single-edge effects are not compared here: limit 0 skips them
                stage = CircuitDiscovery.run(runner, task, new CircuitConfig(STEPS, EdgeAttribution.RESAMPLES, 0, 16, 0, 0.9));
            }
        }
        System.out.printf("stage %.1f s %s%n", (System.nanoTime() - t0) / 1e9, stage.phaseSeconds());
        EdgeAttribution api;
        try (HookedModel model = HookedModel.open(spec.modelId(), HookedModel.Options.defaults().withRoot(root))) {
            api = model.attributeEdges(new AttributionTask(pairs.stream()
                    .map(p -> new AttributionTask.Pair(p.clean(), p.corrupt(), p.answer(), p.contrast())).toList(), STEPS));
        }
        System.out.printf("api %.1f s%n", (System.nanoTime() - t0) / 1e9);
        CircuitDiscovery.MethodResult eap = stage.method("eap"), ig = stage.method("eap_ig");
        assertThat(api.edges()).hasSize(stage.edges().size());
        for (EdgeAttribution.EdgeScore e : api.edges()) {
            int i = e.index();
            assertThat(e.name()).isEqualTo(stage.edges().edges().get(i).name());
            assertThat(e.eap()).as(e.name()).isCloseTo(eap.mean()[i], within(eap.mean()[i]));
            assertThat(e.eapLow()).as(e.name()).isCloseTo(eap.ci()[i].low(), within(eap.ci()[i].low()));
            assertThat(e.eapHigh()).as(e.name()).isCloseTo(eap.ci()[i].high(), within(eap.ci()[i].high()));
            assertThat(e.eapIg()).as(e.name()).isCloseTo(ig.mean()[i], within(ig.mean()[i]));
            assertThat(e.eapIgLow()).as(e.name()).isCloseTo(ig.ci()[i].low(), within(ig.ci()[i].low()));
            assertThat(e.eapIgHigh()).as(e.name()).isCloseTo(ig.ci()[i].high(), within(ig.ci()[i].high()));
            for (int p = 0; p < pairs.size(); p++) {
                assertThat(e.eapPerPair()[p]).isCloseTo(eap.perExample()[p][i], within(eap.perExample()[p][i]));
                assertThat(e.eapIgPerPair()[p]).isCloseTo(ig.perExample()[p][i], within(ig.perExample()[p][i]));
            }
        }
        for (int p = 0; p < pairs.size(); p++) {
            assertThat(api.cleanMetric()[p]).isCloseTo(stage.full()[p], within(stage.full()[p]));
            assertThat(api.corruptMetric()[p]).isCloseTo(stage.empty()[p], within(stage.empty()[p]));
        }
        // the scores are not all alike: the ranking has a clear head
        List<EdgeAttribution.EdgeScore> top = api.top(5, EdgeAttribution.Method.EAP_IG);
        System.out.println("top EAP-IG edges: " + top.stream().map(e -> e.name() + " " + e.eapIg()).toList()
                + "; top EAP: " + api.top(5, EdgeAttribution.Method.EAP).stream().map(EdgeAttribution.EdgeScore::name).toList());
        assertThat(top.stream().map(EdgeAttribution.EdgeScore::name)).contains(keyEdge);
        EdgeAttribution.EdgeScore key = api.edge(keyEdge);
        assertThat(key.eapIgLow() > 0 || key.eapIgHigh() < 0).as("the key edge's interval excludes 0: " + key).isTrue();
        assertThat(Math.abs(top.get(0).eapIg())).isGreaterThan(10 * Math.abs(api.top(api.edges().size(), EdgeAttribution.Method.EAP_IG)
                .get(api.edges().size() / 2).eapIg()));
    }

    /** Declared tolerance: the same float32 graphs in the same batches, so equal up to 1e-9 relative (double sums). */
    private static org.assertj.core.data.Offset<Double> within(double x) {
        return org.assertj.core.data.Offset.offset(1e-9 * Math.max(1, Math.abs(x)));
    }

    private static String mib(GroundTruth.HeadTruth h) {
        return "a" + h.layer() + ".h" + h.head();
    }
}
