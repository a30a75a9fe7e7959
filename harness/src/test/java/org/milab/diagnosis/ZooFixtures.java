package org.milab.diagnosis;

import org.milab.catalog.ZooModels;

import java.nio.file.Path;
import java.util.List;

/** Where the committed zoo is, for tests (the project root is Maven's milab.root). */
public final class ZooFixtures {
    private ZooFixtures() {}

    public static Path zooDir() {
        return Path.of(System.getProperty("milab.root", "..")).toAbsolutePath().normalize().resolve(ZooModels.DIR);
    }

    /** Every committed zoo model; a test over them fails when there are none (the zoo is part of the repo). */
    public static List<String> models() {
        List<String> m = ZooModels.names(zooDir());
        if (m.isEmpty()) throw new IllegalStateException("no zoo models under " + zooDir() + " (zoo/<name>/model.safetensors)");
        return m;
    }
}
