package org.milab.model.download;

import org.milab.model.ModelConfig;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Finds the checkpoint to use, in this order: a local weights file (argument, else env {@value #WEIGHTS_ENV}),
 * the cache, a download. A local file must match the pin (size + sha256) unless unpinned files are allowed, in
 * which case it is used and recorded as unpinned. config.json is resolved alongside: a {@code config.json}
 * beside a local weights file wins; otherwise the pinned one from the cache or a download.
 */
public final class WeightsResolver {
    public static final String WEIGHTS_ENV = "WEIGHTS";
    public static final String CONFIG_FILE = "config.json";
    /** The command-line switch that callers map to {@code allowUnpinned}; named in error messages. */
    public static final String ALLOW_UNPINNED_FLAG = "--allow-unpinned";

    /** The weights and the config that describes them. */
    public record ResolvedModel(ResolvedWeights weights, ResolvedWeights config) {
        /** True when both files are the pinned release. */
        public boolean pinned() {
            return weights.pinned() && config.pinned();
        }

        public ModelConfig modelConfig() {
            try {
                return ModelConfig.read(config.file());
            } catch (IllegalArgumentException e) {
                throw new UserError(e.getMessage(), "Supply the config.json that belongs to " + weights.file()
                        + " (place it beside the weights file).", e);
            }
        }
    }

    private final WeightsFetcher fetcher;
    private final PinnedFile weightsPin;
    private final PinnedFile configPin;
    private final Map<String, String> env;

    public WeightsResolver(WeightsFetcher fetcher, PinnedFile weightsPin, PinnedFile configPin, Map<String, String> env) {
        this.fetcher = fetcher;
        this.weightsPin = weightsPin;
        this.configPin = configPin;
        this.env = Map.copyOf(env);
    }

    /** The pinned GPT-2 small, with cache, endpoint and {@value #WEIGHTS_ENV} taken from the environment. */
    public static WeightsResolver gpt2() {
        Map<String, String> env = System.getenv();
        return new WeightsResolver(new WeightsFetcher(WeightsFetcher.Settings.fromEnvironment(env)),
                PinnedFile.GPT2_WEIGHTS, PinnedFile.GPT2_CONFIG, env);
    }

    /**
     * @param weightsArg     a weights file given on the command line, or null to consult {@value #WEIGHTS_ENV}
     * @param allowUnpinned  accept a local weights/config file that is not the pinned release
     * @throws UserError when no acceptable file can be found or fetched
     */
    public ResolvedModel resolve(Path weightsArg, boolean allowUnpinned) {
        Optional<Path> local = Optional.ofNullable(weightsArg)
                .or(() -> Optional.ofNullable(env.get(WEIGHTS_ENV)).filter(s -> !s.isBlank()).map(s -> Path.of(s.strip())));
        if (local.isEmpty()) {
            ResolvedWeights w = fromCacheOrDownload(weightsPin);
            return new ResolvedModel(w, fromCacheOrDownload(configPin));
        }
        ResolvedWeights w = fromLocal(local.get(), weightsPin, allowUnpinned,
                "use the pinned GPT-2 " + weightsPin.fileName() + " (unset WEIGHTS to download it)");
        Path beside = w.file().toAbsolutePath().getParent().resolve(CONFIG_FILE);
        if (Files.isRegularFile(beside))
            return new ResolvedModel(w, fromLocal(beside, configPin, allowUnpinned,
                    "use the config.json published with the pinned weights"));
        if (!w.pinned())
            throw new UserError("The unpinned weights file " + w.file() + " has no " + CONFIG_FILE + " beside it,"
                    + " so its architecture is unknown.",
                    "Copy the checkpoint's config.json to " + beside + ".");
        return new ResolvedModel(w, fromCacheOrDownload(configPin));
    }

    private ResolvedWeights fromCacheOrDownload(PinnedFile pin) {
        Optional<Path> cached = fetcher.cached(pin);
        if (cached.isPresent())
            return new ResolvedWeights(cached.get(), pin.sha256(), pin.size(), true, ResolvedWeights.CACHE);
        Path p = fetcher.download(pin); // verified against the pin before it is installed
        return new ResolvedWeights(p, pin.sha256(), pin.size(), true, ResolvedWeights.DOWNLOAD);
    }

    private static ResolvedWeights fromLocal(Path file, PinnedFile pin, boolean allowUnpinned, String pinnedFix) {
        if (!Files.isRegularFile(file))
            throw new UserError("The file " + file + " (from WEIGHTS or the command line) does not exist or is not"
                    + " a regular file.", "Give the path of " + pin.fileName() + ", or unset WEIGHTS to use the"
                    + " cached or downloaded copy.");
        long size;
        try {
            size = Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String sha = Hashing.sha256(file);
        boolean pinned = size == pin.size() && sha.equals(pin.sha256());
        if (!pinned && !allowUnpinned)
            throw new UserError("The file " + file + " is not the pinned " + pin.repo() + " " + pin.fileName()
                    + " (revision " + pin.revision() + "): it has " + size + " bytes and sha256 " + sha
                    + ", the pin has " + pin.size() + " bytes and sha256 " + pin.sha256() + ".",
                    "Either " + pinnedFix + ", or pass " + ALLOW_UNPINNED_FLAG + " to use this file anyway (results are then"
                            + " recorded as unpinned).");
        return new ResolvedWeights(file.toAbsolutePath(), sha, size, pinned, ResolvedWeights.LOCAL);
    }
}
