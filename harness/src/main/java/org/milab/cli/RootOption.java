package org.milab.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The project root under which graphs/, manifests/ and results/ live. */
public final class RootOption {
    @Option(names = "--root", defaultValue = ".", order = 99, paramLabel = "DIR",
            description = "Project root holding graphs/, manifests/ and results/. Default: the current folder.")
    Path root;

    /** The root, which must exist: a mistyped --root would otherwise become a new, empty project. */
    public Path root() {
        Path r = root.toAbsolutePath().normalize();
        if (!java.nio.file.Files.isDirectory(r))
            throw new org.milab.util.UserError("--root " + root + " is not a folder" + (java.nio.file.Files.exists(r) ? "." : " (it does not exist)."),
                    "Pass the project root that holds graphs/, manifests/ and results/ (make passes it; create a new one with mkdir first).");
        return r;
    }
}
