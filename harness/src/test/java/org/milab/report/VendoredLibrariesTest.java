package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.milab.util.Hashing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The chart libraries inlined into report.html are exactly the pinned npm builds: each vendored file matches
 * the sha256 in vendor.json, each version matches the pin in tools/report-js/package.json and the lock file,
 * and (where `npm ci --prefix tools/report-js` has run, as `make test` does) each file is byte-identical to the
 * installed package's build.
 */
class VendoredLibrariesTest {
    static Path repoRoot() {
        String root = System.getProperty("milab.root");
        if (root == null) fail("System property milab.root is not set; run the tests through Maven (make test).");
        return Path.of(root);
    }

    @Test
    void vendoredFilesMatchTheirRecordedSha256AndThePins() throws Exception {
        List<Vendored.Library> libs = Vendored.libraries();
        assertThat(libs).extracting(Vendored.Library::pkg).containsExactly("vega", "vega-lite", "vega-embed");
        Path tool = repoRoot().resolve("tools/report-js");
        ObjectMapper json = new ObjectMapper();
        JsonNode pins = json.readTree(tool.resolve("package.json").toFile()).path("dependencies");
        JsonNode lock = json.readTree(tool.resolve("package-lock.json").toFile()).path("packages");
        for (Vendored.Library l : libs) {
            assertThat(Hashing.sha256(Vendored.bytes(Vendored.DIR + l.file()))).as(l.file()).isEqualTo(l.sha256());
            assertThat(Vendored.bytes(Vendored.DIR + l.license())).as(l.license()).isNotEmpty();
            assertThat(pins.path(l.pkg()).asText()).as("package.json pin of %s", l.pkg()).isEqualTo(l.version());
            assertThat(lock.path("node_modules/" + l.pkg()).path("version").asText()).as("lock of %s", l.pkg()).isEqualTo(l.version());
            assertThat(Vendored.script(l)).doesNotContain("sourceMappingURL=").doesNotContain("</script");
        }
    }

    @Test
    void vendoredFilesAreTheInstalledPackagesBuilds() throws Exception {
        Path modules = repoRoot().resolve("tools/report-js/node_modules");
        if (!Files.isDirectory(modules.resolve("vega"))) {
            System.out.println("VendoredLibrariesTest: " + modules + " is not installed (npm ci --prefix tools/report-js); "
                    + "compared with vendor.json only");
            org.junit.jupiter.api.Assumptions.abort("tools/report-js/node_modules is not installed");
        }
        for (Vendored.Library l : Vendored.libraries()) {
            JsonNode pkg = new ObjectMapper().readTree(modules.resolve(l.pkg()).resolve("package.json").toFile());
            assertThat(pkg.path("version").asText()).isEqualTo(l.version());
            Path build = modules.resolve(l.pkg()).resolve("build").resolve(l.file());
            assertThat(Hashing.sha256(build)).as("node_modules/%s/build/%s", l.pkg(), l.file()).isEqualTo(l.sha256());
        }
    }
}
