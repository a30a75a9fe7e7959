package org.milab.diagnosis;

import org.milab.catalog.ZooModels;
import org.milab.model.ModelConfig;
import org.milab.model.SafetensorsFile;
import org.milab.util.UserError;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Diagnoses committed zoo models from their files ({@code zoo/<model>/}): {@code make zoo-diagnose} runs
 * {@link #main} with full counts and writes {@code zoo/<model>/diagnosis.json} and {@code diagnosis.arrow}.
 */
public final class ZooDiagnosis {
    private ZooDiagnosis() {}

    /** Diagnoses the zoo model in {@code modelDir} (its SHA256SUMS checked first). */
    public static InductionDiagnosis.Result diagnose(Path modelDir, InductionDiagnosis.Settings s) {
        ZooModels.verifySums(modelDir);
        List<String> vocab = ZooModels.readVocab(modelDir.resolve(ZooModels.VOCAB));
        int bos = vocab.indexOf(ZooModels.BOS);
        if (bos < 0) throw new UserError(modelDir + "/" + ZooModels.VOCAB + " has no " + ZooModels.BOS + ".",
                "Retrain the model with tools/zoo/train.py (make zoo).");
        // every token but the two specials: the ids the trainer's random spans use
        List<Integer> span = new ArrayList<>();
        for (int i = 0; i < vocab.size(); i++)
            if (!vocab.get(i).equals(ZooModels.BOS) && !vocab.get(i).equals(ZooModels.UNK)) span.add(i);
        ModelConfig config = ModelConfig.read(modelDir.resolve(ZooModels.CONFIG));
        try (SafetensorsFile ckpt = SafetensorsFile.open(modelDir.resolve(ZooModels.WEIGHTS), config)) {
            return InductionDiagnosis.run(modelDir.getFileName().toString(), ckpt, bos, span, s, DiagnosisThresholds.DEFAULT);
        }
    }

    /** Arguments: the zoo folder, then model names (none: every model in it). */
    public static void main(String[] args) {
        try {
            if (args.length < 1) throw new UserError("Usage: ZooDiagnosis <zoo dir> [model ...]", "Name the zoo folder (zoo).");
            Path zoo = Path.of(args[0]);
            List<String> models = args.length > 1 ? List.of(args).subList(1, args.length) : ZooModels.names(zoo);
            if (models.isEmpty()) throw new UserError("No zoo models in " + zoo + ".", "Train them first: make zoo.");
            for (String m : models) {
                long t0 = System.nanoTime();
                InductionDiagnosis.Result r = diagnose(zoo.resolve(m), InductionDiagnosis.Settings.FULL);
                DiagnosisFiles.write(zoo.resolve(m), r);
                System.out.printf("%s: first-copy loss %.3f, second-copy %.3f; induction %s, previous-token %s, negative %s, "
                                + "not involved %s (%.0f s) -> %s%n", m, r.firstCopyLoss().estimate(), r.secondCopyLoss().estimate(),
                        r.headsOf(HeadClass.INDUCTION), r.headsOf(HeadClass.PREVIOUS_TOKEN), r.headsOf(HeadClass.NEGATIVE),
                        r.headsOf(HeadClass.NOT_INVOLVED), (System.nanoTime() - t0) / 1e9,
                        zoo.resolve(m).resolve(DiagnosisFiles.JSON_FILE));
            }
        } catch (UserError e) {
            System.err.println("zoo-diagnose: " + e.getMessage());
            System.exit(2);
        }
    }
}
