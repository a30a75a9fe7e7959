package org.milab.bench;

import java.nio.file.Path;

/**
 * What one {@code milab bench} run measures (the command's options, checked).
 *
 * @param enginePaths    held-out engine rows: "minimal", "legacy", "both" (alternating within each round) or
 *                       "resume" (minimal alternating with the whole-block resume path)
 * @param peerPython     a Python with torch (and onnxruntime) for the peer and the library ceilings; null: none
 * @param peerCheckpoint the safetensors checkpoint the benchmark model was exported from (the peer loads it)
 */
public record BenchPlan(BenchSettings settings, int batch, int tokens, int repeats, int patchSample, int candidates,
                        int rounds, String enginePaths, boolean skipPatching, boolean skipWhole, boolean skipAttribution,
                        int attributionPairs, int attributionExactPairs, boolean skipScaling, boolean tuning,
                        int tuningRounds, boolean profile, String peerPython, Path peerCheckpoint) {
    boolean minimal() {
        return !enginePaths.equals("legacy");
    }

    boolean legacy() {
        return enginePaths.equals("legacy") || enginePaths.equals("both");
    }

    /** "resume": the minimal path alternating with the previous one (RESUME, the reference protocol's). */
    boolean resume() {
        return enginePaths.equals("resume");
    }
}
