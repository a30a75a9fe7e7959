package org.milab.cli;

import org.milab.protocol.v2.V2Protocol;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.List;

/** Protocol v2's counts (everything else it decides with is fixed and registered in v2/protocol.json). */
public final class V2Options {
    @Option(names = "--v2-seeds", description = "protocol v2 prompt seeds, comma separated (default 1,2,3)") String seeds;
    @Option(names = "--v2-prompts", defaultValue = "16", description = "v2 prompt pairs per family and seed (default 16). Default: ${DEFAULT-VALUE}.") int prompts;
    @Option(names = "--v2-probes", defaultValue = "16", description = "v2 attention probes per length and seed (default 16). Default: ${DEFAULT-VALUE}.") int probes;
    @Option(names = "--v2-resamples", defaultValue = "2000", description = "v2 bootstrap resamples (>= 1000). Default: ${DEFAULT-VALUE}.") int resamples;

    V2Protocol.Counts counts() {
        List<Integer> s = seeds == null ? V2Protocol.Counts.full().seeds() : parse(seeds);
        return new V2Protocol.Counts(s, prompts, probes, resamples);
    }

    private static List<Integer> parse(String s) {
        try {
            return Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).map(Integer::parseInt).toList();
        } catch (NumberFormatException e) {
            throw new org.milab.util.UserError("--v2-seeds '" + s + "' is not a comma-separated list of integers.",
                    "e.g. --v2-seeds 1,2,3 (SEEDS=1,2,3 for make run-v2)");
        }
    }
}
