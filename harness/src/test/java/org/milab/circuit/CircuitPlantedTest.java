package org.milab.circuit;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;
import org.milab.planted.GroundTruth;
import org.milab.planted.PlantedSpec;
import org.milab.planted.PlantedSuccessorModel;
import org.milab.runtime.Device;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Edge-level circuit discovery on planted induction models, graded against the ground truth read from the
 * manifest here in the test (discovery never sees it): the smallest EAP-IG circuit with exact faithfulness >= 0.9
 * holds previous-token head -> induction head &lt;k&gt; and induction head -> logits and touches no decoy head;
 * the EAP-IG edge ranking separates the true edges from the rest (AUROC >= 0.95).
 */
class CircuitPlantedTest {

    @Test
    void defaultLayout(@TempDir Path root) {
        check(root, PlantedSpec.defaults());
    }

    @Test
    void deep3LayoutWithBackup(@TempDir Path root) {
        check(root, PlantedSpec.preset("deep3"));
    }

    /** The second planted behaviour: induction head -> MLP -> logits (successor of the induced token). */
    @Test
    void successorThroughAnMlp(@TempDir Path root) {
        ModelExports.exportPlantedSuccessor(root, PlantedSpec.DEFAULT_SEED, PlantedSpec.DEFAULT_NOISE_STD);
        check(root, PlantedSuccessorModel.MODEL_ID, "successor");
    }

    static void check(Path root, PlantedSpec spec) {
        ModelExports.exportPlanted(new ModelLayout(root, spec.modelId()), spec);
        check(root, spec.modelId(), "induction");
    }

    static void check(Path root, String modelId, String taskName) {
        try (LabModel m = LabModel.open(root, modelId, Device.CPU, 0)) {
            JsonNode manifest = m.manifest(GraphVariant.EDGE_MASK);
            GroundTruth truth = GroundTruth.fromJson(manifest.get("ground_truth").toString());
            Set<String> trueEdges = new HashSet<>();
            manifest.get("edge_ground_truth").get("edges").forEach(e -> trueEdges.add(e.asText()));
            String prev = mib(truth.head(GroundTruth.Role.PREVIOUS_TOKEN)), ind = mib(truth.head(GroundTruth.Role.INDUCTION));
            Set<String> decoys = new HashSet<>();
            for (GroundTruth.HeadTruth h : truth.heads())
                if (!h.inCircuit() && h.role() != GroundTruth.Role.NOISE) decoys.add(mib(h));

            List<String> truthNodes = new ArrayList<>();
            manifest.get("edge_ground_truth").get("nodes").forEach(n -> truthNodes.add(n.asText()));
            String reader = truthNodes.get(truthNodes.size() - 2); // the node that writes the answer: the induction head or the MLP
            CircuitTask task = BuiltinTasks.get(taskName, m, 8, 6, 0);
            try (EdgeRunner runner = new EdgeRunner(m, task.tokenize(m), 16)) {
                CircuitDiscovery.Result r = CircuitDiscovery.run(runner, task, new CircuitConfig(5, 500, 0, 16, 48, 0.9));
                System.out.println(modelId + ": " + CircuitStage.markdown(r) + "discovery seconds " + r.seconds());
                List<String> circuit = new ArrayList<>();
                for (int e : CircuitStage.circuit(r)) circuit.add(r.edges().edges().get(e).name());
                System.out.println("circuit " + circuit);
                CircuitDiscovery.MethodResult ig = r.method("eap_ig");
                for (org.milab.atp.EdgeFaithfulness.SizePoint p : ig.curve()) System.out.printf("eap_ig size %d faithfulness %.3f%n", p.size(), p.faithfulness().estimate());
                double auroc = Auroc.of(ig.mean(), r.edges(), trueEdges);
                System.out.println("AUROC eap_ig " + auroc + " eap " + Auroc.of(r.method("eap").mean(), r.edges(), trueEdges));

                // the behaviour is there: clean minus corrupt metric clearly positive
                assertThat(java.util.Arrays.stream(r.full()).average().orElseThrow() - java.util.Arrays.stream(r.empty()).average().orElseThrow())
                        .isGreaterThan(2.0);
                assertThat(circuit).contains(prev + "->" + ind + "<k>", reader + "->logits");
                if (!reader.equals(ind)) assertThat(circuit).contains(ind + "->" + reader);
                // pruning is exact: the pruned circuit's patched runs equal the unpruned top-k's
                float[] pruned = runner.uniformMask(0f), topK = runner.uniformMask(0f);
                for (int e : CircuitStage.circuit(r)) pruned[e] = 1f;
                for (int j = 0; j < ig.smallest().size(); j++) topK[ig.order()[j]] = 1f;
                float[][] both = runner.logits(List.of(new EdgeRunner.Row(0, pruned), new EdgeRunner.Row(0, topK)));
                for (int v = 0; v < both[0].length; v++) assertThat((double) both[0][v]).isCloseTo(both[1][v], org.assertj.core.data.Offset.offset(1e-3));
                for (String e : circuit)
                    for (String d : decoys) assertThat(e).as("decoy %s in the circuit", d).doesNotContain(d + "->").doesNotContain("->" + d + "<");
                assertThat(auroc).isGreaterThanOrEqualTo(0.95);
                assertThat(ig.smallest().faithfulness().estimate()).isGreaterThanOrEqualTo(0.9);
            }
        }
    }

    private static String mib(GroundTruth.HeadTruth h) {
        return "a" + h.layer() + ".h" + h.head();
    }
}
