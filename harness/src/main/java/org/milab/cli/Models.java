package org.milab.cli;

import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphExporter;

import java.nio.file.Path;

/** Which export route a model name takes. */
final class Models {
    private Models() {}

    static GraphExporter.Exported export(ModelLayout layout, Path weights, boolean allowUnpinned, Path bpeDir) {
        return ModelExports.exportGpt2Family(layout, weights, allowUnpinned, bpeDir);
    }
}
