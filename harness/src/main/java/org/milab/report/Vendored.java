package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.util.Hashing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The chart libraries inlined into every report: the exact minified builds of pinned npm packages, vendored
 * as resources by {@code tools/report-js/vendor.mjs} and listed with their sha256 in {@code vendor/vendor.json}.
 * Each file is checked against its recorded sha256 when loaded, so a report never carries a library other
 * than the pinned one.
 */
public final class Vendored {
    static final String DIR = "vendor/";
    static final String MANIFEST = DIR + "vendor.json";

    /** One library: npm package and version, the resource file, its sha256, and its licence file. */
    public record Library(String pkg, String version, String file, String sha256, String license) {}

    private Vendored() {}

    public static List<Library> libraries() {
        JsonNode m;
        try {
            m = Vl.JSON.readTree(bytes(MANIFEST));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Library> out = new ArrayList<>();
        for (JsonNode l : m.path("libraries"))
            out.add(new Library(l.path("package").asText(), l.path("version").asText(), l.path("file").asText(),
                    l.path("sha256").asText(), l.path("license").asText()));
        return out;
    }

    /** The library's code, checked against its sha256, without its trailing source-map comment (no lookup of a .map file). */
    public static String script(Library l) {
        byte[] b = bytes(DIR + l.file());
        String actual = Hashing.sha256(b);
        if (!actual.equals(l.sha256()))
            throw new IllegalStateException("Vendored " + l.file() + " has sha256 " + actual + ", vendor.json records " + l.sha256()
                    + "; re-run node tools/report-js/vendor.mjs");
        return new String(b, StandardCharsets.UTF_8).replaceAll("\\n?//# sourceMappingURL=\\S+\\s*$", "\n");
    }

    static byte[] bytes(String resource) {
        try (InputStream in = Vendored.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("Missing resource org/milab/report/" + resource);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String text(String resource) {
        return new String(bytes(resource), StandardCharsets.UTF_8);
    }
}
