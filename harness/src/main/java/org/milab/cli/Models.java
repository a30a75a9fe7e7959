package org.milab.cli;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.catalog.ModelNames;
import org.milab.catalog.ZooModels;
import org.milab.graph.GraphExporter;

import org.milab.planted.PlantedLayout;
import org.milab.planted.PlantedSpec;
import org.milab.planted.PlantedSuccessorModel;
import org.milab.util.UserError;

import java.nio.file.Path;

/** Which export route a model name takes. */
final class Models {
    private Models() {}

    /** The planted-model options of {@code make export}; {@code layout} may be null (the model name decides). */
    record PlantedOptions(String layout, long seed, double noiseStd) {}

    static GraphExporter.Exported export(ModelLayout layout, Path weights, boolean allowUnpinned, Path bpeDir,
                                         PlantedOptions planted) {
        String id = layout.modelId();
        if (PlantedLayout.isPlanted(id)) {
            if (weights != null)
                throw new UserError("MODEL=" + id + " is generated (names starting with " + PlantedLayout.MODEL_PREFIX
                        + " are planted models); it takes no WEIGHTS.",
                        "Drop WEIGHTS, or choose another MODEL name for your checkpoint.");
            if (PlantedSuccessorModel.isSuccessorModel(id)) { // the second planted behaviour, on the layout the name or option gives
                PlantedLayout l = PlantedSuccessorModel.layoutForModel(id, planted.layout());
                return ModelExports.exportPlantedSuccessor(layout, new PlantedSpec(l, planted.seed(), planted.noiseStd()));
            }
            PlantedLayout l = PlantedLayout.forModel(id, planted.layout());
            return ModelExports.exportPlanted(layout, new PlantedSpec(l, planted.seed(), planted.noiseStd()));
        }
        if (planted.layout() != null)
            throw new UserError("--planted-layout applies to planted models, not to MODEL=" + id + ".",
                    "Use MODEL=planted-induction (or planted-<name>) with --planted-layout, or drop the option.");
        if (ZooModels.isZoo(id)) {
            if (weights != null)
                throw new UserError("MODEL=" + id + " is a committed zoo model (names starting with " + ZooModels.PREFIX
                        + " are read from " + ZooModels.DIR + "/); it takes no WEIGHTS.",
                        "Drop WEIGHTS, or choose another MODEL name for your checkpoint.");
            return ZooModels.export(layout, layout.root().resolve(ZooModels.DIR));
        }
        // without WEIGHTS only gpt2 itself may be fetched: any other name is a typo or a checkpoint the user must give
        if (weights == null && !ModelNames.exportableByName(id)) throw ModelNames.unknown(layout.root(), id);
        return ModelExports.exportGpt2Family(layout, weights, allowUnpinned, bpeDir);
    }
}
