package org.milab.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The project root under which graphs/, manifests/ and results/ live. */
public final class RootOption {
    @Option(names = "--root", defaultValue = ".", description = "project root (default: current folder)")
    Path root;

    public Path root() {
        return root.toAbsolutePath().normalize();
    }
}
