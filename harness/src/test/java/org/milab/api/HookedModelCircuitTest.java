package org.milab.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.atp.EdgeFaithfulness;
import org.milab.atp.MibCircuit;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.circuit.BuiltinTasks;
import org.milab.circuit.CircuitConfig;
import org.milab.circuit.CircuitDiscovery;
import org.milab.circuit.CircuitStage;
import org.milab.circuit.CircuitTask;
import org.milab.circuit.EdgeRunner;
import org.milab.circuit.TokenPair;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Device;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Circuits through the Java API on the planted induction model: {@link HookedModel#faithfulnessSweep} gives, for both
 * rankings, the curve (grid and refined sizes, each with its interval and per-pair metric), CPR, CMD and the smallest
 * circuit keeping 0.9 that the circuit stage ({@link CircuitDiscovery}, {@code make circuit}'s computation) gives for the
 * same task and settings, through its own path ({@link EdgeRunner} over the task's {@link TokenPair}s); pruning and the MIB
 * JSON equal {@code circuit.json}'s; a circuit written and read back is the same; the planted circuit, read here in the
 * test from the manifest's {@code edge_ground_truth} (the API never sees it), keeps at least 0.9 of the behaviour.
 */
class HookedModelCircuitTest {
    static final int STEPS = 5, RESAMPLES = 1000, ROWS = 16;

    @Test
    void sweepsEqualTheCircuitStagesAndThePlantedCircuitIsFaithful(@TempDir Path root) throws Exception {
        PlantedSpec spec = PlantedSpec.defaults();
        ModelExports.exportPlanted(new ModelLayout(root, spec.modelId()), spec);
        CircuitDiscovery.Result stage;
        List<TokenPair> pairs;
        List<String> trueEdges = new ArrayList<>();
        try (LabModel m = LabModel.open(root, spec.modelId(), Device.CPU, 0)) {
            JsonNode manifest = m.manifest(GraphVariant.EDGE_MASK);
            manifest.get("edge_ground_truth").get("edges").forEach(e -> trueEdges.add(e.asText()));
            CircuitTask task = BuiltinTasks.get("induction", m, 8, 6, 0);
            pairs = task.tokenize(m);
            try (EdgeRunner runner = new EdgeRunner(m, pairs, ROWS)) {
                // exact single-edge effects are not part of a sweep: limit 0 skips them
                stage = CircuitDiscovery.run(runner, task, new CircuitConfig(STEPS, RESAMPLES, 0, ROWS, 0, 0.9));
            }
        }
        AttributionTask task = new AttributionTask(pairs.stream()
                .map(p -> new AttributionTask.Pair(p.clean(), p.corrupt(), p.answer(), p.contrast())).toList(), STEPS);
        FaithfulnessOptions o = FaithfulnessOptions.defaults().withBootstrap(RESAMPLES, 0).withThreshold(0.9);
        try (HookedModel model = HookedModel.open(spec.modelId(), HookedModel.Options.defaults().withRoot(root).withBatchLimits(ROWS, 1024))) {
            EdgeAttribution scores = model.attributeEdges(task);
            for (EdgeAttribution.Method method : EdgeAttribution.Method.values()) {
                FaithfulnessCurve api = model.faithfulnessSweep(task, scores, method, o);
                CircuitDiscovery.MethodResult st = stage.method(method == EdgeAttribution.Method.EAP ? "eap" : "eap_ig");
                System.out.printf("%s: CPR %.4f CMD %.4f smallest %s%n", method, api.cpr().value(), api.cmd().value(),
                        api.smallest() == null ? "none" : api.smallest().size());
                assertThat(api.grid()).hasSize(st.curve().size());
                assertThat(api.points()).hasSize(st.curve().size() + st.refined().size());
                List<EdgeFaithfulness.SizePoint> all = new ArrayList<>(st.curve());
                all.addAll(st.refined());
                for (EdgeFaithfulness.SizePoint p : all) {
                    FaithfulnessCurve.Point q = api.points().stream().filter(x -> x.size() == p.size()).findFirst().orElseThrow();
                    assertThat(q.onGrid()).isEqualTo(st.curve().contains(p));
                    assertThat(q.fraction()).isEqualTo(p.fraction());
                    same(q.faithfulness(), p.faithfulness(), method + " size " + p.size());
                    for (int i = 0; i < pairs.size(); i++) assertThat(q.metric()[i]).isCloseTo(p.metric()[i], within(p.metric()[i]));
                }
                same(api.cpr(), st.cpr(), method + " CPR");
                same(api.cmd(), st.cmd(), method + " CMD");
                assertThat(api.smallest()).isNotNull();
                assertThat(api.smallest().size()).isEqualTo(st.smallest().size());
                same(api.smallest().faithfulness(), st.smallest().faithfulness(), method + " smallest");
                for (int i = 0; i < pairs.size(); i++) {
                    assertThat(api.cleanMetric()[i]).isCloseTo(stage.full()[i], within(stage.full()[i]));
                    assertThat(api.corruptMetric()[i]).isCloseTo(stage.empty()[i], within(stage.empty()[i]));
                }
                // the smallest circuit is the ranking's top k, in the stage's order
                List<String> topK = new ArrayList<>();
                for (int j = 0; j < st.smallest().size(); j++) topK.add(stage.edges().edges().get(st.order()[j]).name());
                assertThat(api.smallestCircuit().edges()).containsExactlyElementsOf(topK);
            }

            // the reported circuit (EAP-IG's smallest, pruned as MIB prunes) and its MIB JSON are circuit.json's
            FaithfulnessCurve ig = model.faithfulnessSweep(task, scores, EdgeAttribution.Method.EAP_IG, o);
            Circuit pruned = model.prune(ig.smallestCircuit());
            Set<Integer> stageCircuit = CircuitStage.circuit(stage);
            Set<String> stageNames = new HashSet<>();
            for (int e : stageCircuit) stageNames.add(stage.edges().edges().get(e).name());
            assertThat(pruned.edges()).containsExactlyInAnyOrderElementsOf(stageNames);
            assertThat(model.toMibJson(pruned)).isEqualTo(MibCircuit.json(stage.edges(), stage.method("eap_ig").mean(), stageCircuit) + "\n");

            // written and read back: the same edges and scores
            Path file = root.resolve("circuit.json");
            model.writeCircuit(pruned, file);
            Circuit read = model.readCircuit(file);
            assertThat(read.edges()).containsExactlyInAnyOrderElementsOf(pruned.edges());
            assertThat(read.scores()).isEqualTo(pruned.scores());

            // one circuit measured alone equals its point on the curve: float32 in other batches, so within 1e-4
            Faithfulness alone = model.faithfulness(task, ig.smallestCircuit(), o);
            assertThat(alone.faithfulness().value()).isCloseTo(ig.smallest().faithfulness().value(), org.assertj.core.data.Offset.offset(1e-4));
            assertThat(alone.circuitMetric()).hasSize(pairs.size());
            // pruning changes no patched run (within float32 noise of other batches)
            assertThat(model.faithfulness(task, pruned, o).faithfulness().value())
                    .isCloseTo(alone.faithfulness().value(), org.assertj.core.data.Offset.offset(1e-4));

            // the planted circuit, from the manifest: it keeps the behaviour
            Faithfulness planted = model.faithfulness(task, Circuit.of(trueEdges), o);
            System.out.println("planted circuit " + trueEdges + ": " + planted.faithfulness());
            assertThat(planted.faithfulness().value()).isGreaterThanOrEqualTo(0.9);
            assertThat(planted.circuit().edges()).containsExactlyElementsOf(trueEdges);
            double[] raw = planted.circuitMetric();
            double num = 0, den = 0;
            for (int i = 0; i < raw.length; i++) {
                num += raw[i] - planted.corruptMetric()[i];
                den += planted.cleanMetric()[i] - planted.corruptMetric()[i];
            }
            assertThat(planted.faithfulness().value()).isCloseTo(num / den, org.assertj.core.data.Offset.offset(1e-12));
            assertThat(planted.faithfulness().low()).isLessThanOrEqualTo(planted.faithfulness().value());
            assertThat(planted.faithfulness().high()).isGreaterThanOrEqualTo(planted.faithfulness().value());

            // a score threshold: every edge at least as large as the 4th-ranked one, i.e. the top 4 (no ties there)
            double fourth = Math.abs(ig.smallestCircuit().scores().get(scores.circuit(4, EdgeAttribution.Method.EAP_IG).edges().get(3)));
            assertThat(scores.circuitAbove(fourth, EdgeAttribution.Method.EAP_IG).edges())
                    .containsExactlyElementsOf(scores.circuit(4, EdgeAttribution.Method.EAP_IG).edges());

            // bad input: one message naming the problem
            assertThatThrownBy(() -> model.faithfulness(task, Circuit.of(List.of("a0.h1->a0.h2<k>")), o))
                    .isInstanceOf(UserError.class).hasMessageContaining("'a0.h1->a0.h2<k>' is not an edge");
            Files.writeString(file, Files.readString(file).replace("\"n_layers\" : 2", "\"n_layers\" : 3"));
            assertThatThrownBy(() -> model.readCircuit(file)).isInstanceOf(UserError.class).hasMessageContaining("3 layers");
            assertThatThrownBy(() -> model.faithfulnessSweep(task, scores, EdgeAttribution.Method.EAP, o.withSizes(List.of(1, 100_000))))
                    .isInstanceOf(UserError.class).hasMessageContaining("exceeds");
        }
    }

    private static void same(Estimate api, org.milab.stats.Bootstrap.Interval stage, String what) {
        assertThat(api.value()).as(what).isCloseTo(stage.estimate(), within(stage.estimate()));
        assertThat(api.low()).as(what).isCloseTo(stage.low(), within(stage.low()));
        assertThat(api.high()).as(what).isCloseTo(stage.high(), within(stage.high()));
    }

    /** Declared tolerance: the same float32 graphs in the same batches, so equal up to 1e-9 relative (double sums). */
    private static org.assertj.core.data.Offset<Double> within(double x) {
        return org.assertj.core.data.Offset.offset(1e-9 * Math.max(1, Math.abs(x)));
    }
}
