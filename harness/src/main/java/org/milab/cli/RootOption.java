package org.milab.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The project root under which graphs/, manifests/ and results/ live. */
public final class RootOption {
    @Option(names = "--root", defaultValue = ".", order = 99, paramLabel = "DIR",
            description = "Project root holding graphs/, manifests/ and results/. Default: the current folder.")
    Path root;

    public Path root() {
        return root.toAbsolutePath().normalize();
    }
}
