package org.milab.cli;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphExporter;

import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.util.UserError;

import java.nio.file.Path;

/** Which export route a model name takes. */
final class Models {
    private Models() {}

    static GraphExporter.Exported export(ModelLayout layout, Path weights, boolean allowUnpinned, Path bpeDir,
                                         PlantedSpec planted) {
        if (layout.modelId().equals(PlantedInductionModel.MODEL_ID)) {
            if (weights != null)
                throw new UserError("MODEL=planted-induction is generated; it takes no WEIGHTS.",
                        "Drop WEIGHTS, or choose another MODEL name for your checkpoint.");
            return ModelExports.exportPlanted(layout, planted);
        }
        return ModelExports.exportGpt2Family(layout, weights, allowUnpinned, bpeDir);
    }
}
