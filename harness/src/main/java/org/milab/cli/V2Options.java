package org.milab.cli;

import org.milab.protocol.v2.V2Protocol;
import picocli.CommandLine.Option;

import java.util.List;

/** Protocol v2's counts (everything else it decides with is fixed and registered in v2/protocol.json). */
public final class V2Options {
    @Option(names = "--v2-seeds", description = "protocol v2 prompt seeds, comma separated, distinct, 0-1e9 (default 1,2,3)") String seeds;
    @Option(names = "--v2-prompts", defaultValue = "16", description = "v2 prompt pairs per family and seed (>= 4; bounded by memory and time). Default: ${DEFAULT-VALUE}.") int prompts;
    @Option(names = "--v2-probes", defaultValue = "16", description = "v2 attention probes per length and seed (>= 2; bounded by memory and time). Default: ${DEFAULT-VALUE}.") int probes;
    @Option(names = "--v2-sequential", defaultValue = "on", description = "on: the registered sequential design of the "
            + "causal tests (heads decisively null on the first quarter of the pairs stop for futility; docs/protocol-v2.md); "
            + "off: every head on every pair. Registered in protocol.json. Default: ${DEFAULT-VALUE}.") String sequential;
    @Option(names = "--v2-resamples", defaultValue = "2000", description = "v2 bootstrap resamples (>= 1000). Default: ${DEFAULT-VALUE}.") int resamples;

    /** The counts, each checked (ranges and distinct seeds here; memory and time by {@link ResourceEstimate}). */
    V2Protocol.Counts counts() {
        List<Integer> s = seeds == null ? V2Protocol.Counts.full().seeds()
                : OptionChecks.seeds("--v2-seeds", seeds, "--v2-seeds 1,2,3 (SEEDS=1,2,3 for make run-v2)");
        OptionChecks.bounded("--v2-prompts", prompts, 4, Integer.MAX_VALUE, "protocol v2 needs >= 4 prompts per family");
        OptionChecks.bounded("--v2-probes", probes, 2, Integer.MAX_VALUE, "protocol v2 needs >= 2 probes per length");
        OptionChecks.bounded("--v2-resamples", resamples, 1000, Integer.MAX_VALUE, "protocol v2 needs >= 1000 bootstrap resamples");
        boolean design = OptionChecks.onOff("--v2-sequential", sequential, "the registered sequential design",
                "every head on every pair");
        return new V2Protocol.Counts(s, prompts, probes, resamples, design);
    }

    /** {@code counts}' lower bound of memory and time on model {@code c}. */
    static ResourceEstimate.Need need(org.milab.model.ModelConfig c, V2Protocol.Counts counts) {
        return ResourceEstimate.v2(c, counts.seeds().size(), counts.promptsPerFamily(), counts.probesPerLength(),
                counts.bootstrapResamples());
    }

    static ResourceEstimate.Count[] named(V2Protocol.Counts k) {
        V2Protocol.Counts d = V2Protocol.Counts.full();
        return new ResourceEstimate.Count[]{new ResourceEstimate.Count("--v2-prompts", k.promptsPerFamily(), d.promptsPerFamily()),
                new ResourceEstimate.Count("--v2-probes", k.probesPerLength(), d.probesPerLength()),
                new ResourceEstimate.Count("--v2-resamples", k.bootstrapResamples(), d.bootstrapResamples()),
                new ResourceEstimate.Count("--v2-seeds (count)", k.seeds().size(), d.seeds().size())};
    }
}
