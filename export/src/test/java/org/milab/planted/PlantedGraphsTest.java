package org.milab.planted;

import ai.onnxruntime.OrtException;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphExporter;
import org.milab.graph.GraphVariant;
import org.milab.graph.ReferenceCheck;
import org.milab.model.ReferenceGpt2;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The planted model as `make export MODEL=planted-induction` produces it: its ONNX graphs agree with the
 * reference forward pass, and every behavioural check of the planted circuit passes on the graphs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PlantedGraphsTest {
    Planted planted;
    GraphExporter.Exported exported;
    PlantedGraphRunner graphs;

    @BeforeAll
    void export(@TempDir Path root) {
        planted = PlantedInductionModel.build(PlantedSpec.defaults());
        exported = ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        graphs = new PlantedGraphRunner(exported.graphDir(), planted.checkpoint().config());
    }

    @AfterAll
    void close() {
        graphs.close();
    }

    @Test
    void captureMatchesTheReferenceForwardPass() throws OrtException {
        List<int[]> prompts = List.of(planted.idsWithBos(List.of("A", "B", "C", "D", "A", "B", "C")),
                planted.idsWithBos(List.of("red", "blue", "green", "X", "Y", "Z")),
                planted.idsWithBos(List.of("one", "two", "three", "four", "one", "two", "three", "four", "one", "two", "three")));
        // residual entries reach ~65 here, so float32 rounding needs a relative term on top of 1e-4
        ReferenceCheck.assertCaptureMatches(graphs.sessions(), new ReferenceGpt2(planted.checkpoint()), prompts, 1e-4, 1e-5);
    }

    @Test
    void manifestsCarryTheGroundTruth() {
        JsonNode gt = exported.manifests().get(GraphVariant.PATCH_Z).get("ground_truth");
        assertThat(gt).isNotNull();
        List<String> roles = new ArrayList<>();
        gt.get("heads").forEach(h -> roles.add(h.get("layer").asInt() + ":" + h.get("head").asInt() + ":" + h.get("role").asText()));
        assertThat(roles).contains("1:2:INDUCTION", "0:1:PREVIOUS_TOKEN", "1:0:DUPLICATE_TOKEN_NULL_OV");
        assertThat(exported.manifests().get(GraphVariant.CAPTURE).get("model").get("unembedding").asText()).startsWith("untied");
    }

    @Test
    void everyPlantedBehaviourHoldsOnTheExportedGraphs() {
        PlantedChecks.Report report = PlantedChecks.run(planted, graphs);
        System.out.println(report.render());
        assertThat(report.checks()).isNotEmpty();
        assertThat(report.checks().stream().filter(c -> !c.passed()).map(PlantedChecks.Check::name).toList()).isEmpty();
    }
}
