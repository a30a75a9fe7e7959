package org.milab.runtime;

/**
 * What actually ran, for run manifests.
 *
 * @param requested      the device the user asked for
 * @param provider       ONNX Runtime execution provider used ("CPUExecutionProvider" / "CUDAExecutionProvider")
 * @param fallbackReason why {@code auto} fell back to CPU, or null
 * @param intraOpThreads ORT intra-op threads every session runs with (a request of 0 resolved to one per processor:
 *                       {@link ModelSessions#intraOpThreads(int)})
 * @param ortVersion     ONNX Runtime native library version
 * @param ortArtifact    which Maven artifact is on the classpath (onnxruntime or onnxruntime_gpu)
 */
public record ExecutionInfo(Device requested, String provider, String fallbackReason, int intraOpThreads,
                            String ortVersion, String ortArtifact) {}
