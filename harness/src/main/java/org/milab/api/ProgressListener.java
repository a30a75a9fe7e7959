package org.milab.api;

/**
 * Told how far a long call has come; the library itself never prints (no progress bars, nothing on stdout).
 * Called on the calling thread after each ONNX Runtime call.
 */
@FunctionalInterface
public interface ProgressListener {
    /** Hears nothing. */
    ProgressListener NONE = (task, done, total) -> {};

    /**
     * @param task  what is running, e.g. "runWithPatches"
     * @param done  units (runs or prompts) finished so far
     * @param total units of the whole call
     */
    void progress(String task, long done, long total);
}
