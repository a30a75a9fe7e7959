package org.milab.model.download;

import java.net.URI;
import java.util.Map;

/**
 * A file of a Hugging Face repository pinned to one revision, with the size and SHA-256 it must have.
 * Downloads come from {@code <endpoint>/<repo>/resolve/<revision>/<fileName>}; the endpoint defaults to the
 * public hub and can be pointed at a mirror (or a test server) with {@value #ENDPOINT_ENV}.
 */
public record PinnedFile(String repo, String revision, String fileName, long size, String sha256) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    public static final String ENDPOINT_ENV = "MILAB_HF_ENDPOINT";

    /**
     * The other way forward whenever GPT-2 cannot be had: the generated planted model needs no download and
     * runs every command (appended to every "GPT-2 not available" fix).
     */
    public static final String WITHOUT_GPT2 = "Or work without GPT-2: `make demo` runs the whole lab offline on the "
            + "generated planted model, and `make export MODEL=planted-induction` then MODEL=planted-induction on any "
            + "command does the same step by step.";

    private static final String GPT2_REPO = "openai-community/gpt2";
    private static final String GPT2_REVISION = "607a30d783dfa663caf39e06633721c8d4cfcd7e";

    /** GPT-2 small weights (124,439,808 parameters, F32, tied embeddings, with 12 attn.bias mask buffers). */
    public static final PinnedFile GPT2_WEIGHTS = new PinnedFile(GPT2_REPO, GPT2_REVISION, "model.safetensors",
            548_105_171L, "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707");

    /**
     * The BPE vocabulary at the same revision. Assumed byte-identical to OpenAI's encoder.json (same size and
     * token map, see shared/gpt2/README.md); if the hub's bytes differ, the hash check refuses the download.
     */
    public static final PinnedFile GPT2_VOCAB = new PinnedFile(GPT2_REPO, GPT2_REVISION, "vocab.json",
            1_042_301L, "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783");

    /** The BPE merges at the same revision; assumed byte-identical to OpenAI's vocab.bpe (see above). */
    public static final PinnedFile GPT2_MERGES = new PinnedFile(GPT2_REPO, GPT2_REVISION, "merges.txt",
            456_318L, "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5");

    /** The config.json published with {@link #GPT2_WEIGHTS}. */
    public static final PinnedFile GPT2_CONFIG = new PinnedFile(GPT2_REPO, GPT2_REVISION, "config.json",
            665L, "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4");

    public PinnedFile {
        if (!sha256.matches("[0-9a-f]{64}"))
            throw new IllegalArgumentException("sha256 must be 64 lowercase hex digits: " + sha256);
        if (size < 1) throw new IllegalArgumentException("a pinned file has at least one byte: " + size);
        if (fileName.contains("/") || fileName.startsWith("."))
            throw new IllegalArgumentException("fileName must be a plain file name: " + fileName);
    }

    /** The download URL on the endpoint named by {@value #ENDPOINT_ENV}, else the public hub. */
    public URI url() {
        return url(endpoint(System.getenv()));
    }

    public URI url(String endpoint) {
        String base = endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
        return URI.create(base + "/" + repo + "/resolve/" + revision + "/" + fileName);
    }

    /** The endpoint configured in {@code env}, else {@link #DEFAULT_ENDPOINT}. */
    public static String endpoint(Map<String, String> env) {
        String e = env.get(ENDPOINT_ENV);
        return e == null || e.isBlank() ? DEFAULT_ENDPOINT : e.strip();
    }

    @Override
    public String toString() {
        return repo + "@" + revision + "/" + fileName + " (" + size + " bytes, sha256 " + sha256 + ")";
    }
}
