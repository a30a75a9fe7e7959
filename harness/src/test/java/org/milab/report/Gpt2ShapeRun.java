package org.milab.report;

import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.protocol.v2.V2Protocol;
import org.milab.run.Pipeline;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.stage.RunConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * A real {@code make run-all} on a model of GPT-2 small's head layout (12 layers x 12 heads), at reduced counts:
 * random weights (nothing planted, no known answer) over a word-level vocabulary holding every reference
 * prompt word and every v2 pool word, d_model 48 (4 per head) so export and run stay cheap. The reference
 * progression, protocol v2 and the comparison of both run on it exactly as on any exported model; the report
 * is the one the run writes with the model open (so with attention views).
 */
final class Gpt2ShapeRun {
    static final String MODEL = "gpt2-shape";
    static final int LAYERS = 12, HEADS = 12, D_MODEL = 48, CONTEXT = 64;
    /** The reference at reduced counts: 2 seeds everywhere (consolidation needs two), few prompts per family. */
    static final RunConfig REFERENCE = new RunConfig(MODEL, "gpt2-shape", List.of(0, 1), 8, List.of(0), 4, 6, 4,
            List.of(10, 11), 8, 4, 20, null, RunConfig.FRAME_TL, List.of(20, 21), 6, 2);
    /** v2 at reduced counts: 1 seed, 4 pairs per family, 4 probes per length, the minimum 1000 resamples. */
    static final V2Protocol.Counts V2 = new V2Protocol.Counts(List.of(1), 4, 4, 1000);

    private Gpt2ShapeRun() {}

    /** Exports the model under {@code root}, runs run-all on it and returns the finished run folder. */
    static Path run(Path root, long seed) {
        TreeSet<String> words = new TreeSet<>(LabFixtures.referenceWords());
        words.addAll(V2Protocol.SYMBOLS);
        words.addAll(V2Protocol.WORDS);
        words.addAll(V2Protocol.NUMBERS);
        List<String> vocab = new ArrayList<>(List.of("<|endoftext|>", "<unk>"));
        vocab.addAll(words);
        ModelConfig cfg = new ModelConfig(LAYERS, HEADS, D_MODEL, vocab.size(), CONTEXT, 1e-5, ModelConfig.GELU_TANH, false);
        LabFixtures.exportRandomWordModel(root, MODEL, seed, vocab, cfg);
        try (LabModel m = LabModel.open(root, MODEL, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, REFERENCE, m);
            Pipeline p = new Pipeline(ctx);
            p.allWithV2(V2);
            p.finish("test run-all gpt2-shape");
            return ctx.finalDir();
        }
    }
}
