package org.milab.bench;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonNode;
import org.milab.graph.MatMulProbe;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The same MatMul as {@link MatMulCeiling}, the same probe graph, through ONNX Runtime's Python API and
 * through PyTorch (tools/peer/ceiling.py), right beside the Java probe: if the Java probe were still
 * under-measuring, the Python rates would show it.
 */
public final class LibraryCeilings {
    private LibraryCeilings() {}

    /** One library's rate at one shape, with the threads it ran on (the engine's: a ceiling on fewer would flatter it). */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Rate(int callsPerRound, List<Double> roundGflops, double gflops, String version, int threads) {}

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Shape(int rows, int k, int n, Rate ortPython, Rate torch) {
        public String row() {
            return String.format(Locale.ROOT, "| MatMul [%d,%d]x[%d,%d]: ONNX Runtime %s Python API (IOBinding, %d threads); PyTorch %s (out=, %d threads) | %.1f; %.1f GFLOP/s |",
                    rows, k, k, n, ortPython.version(), ortPython.threads(), torch.version(), torch.threads(), ortPython.gflops(), torch.gflops());
        }
    }

    public record Result(List<Shape> shapes) {
        public double ortGflops(int rows) {
            return shapes.stream().filter(s -> s.rows() == rows).mapToDouble(s -> s.ortPython().gflops()).max().orElse(Double.NaN);
        }

        public double torchGflops(int rows) {
            return shapes.stream().filter(s -> s.rows() == rows).mapToDouble(s -> s.torch().gflops()).max().orElse(Double.NaN);
        }
    }

    public static Result run(String python, Path root, Path workDir, List<Integer> rows, int threads) {
        List<String> cmd = new ArrayList<>(List.of(python, root.resolve("tools/peer/ceiling.py").toString(),
                "--threads", Integer.toString(threads)));
        for (int m : rows) {
            Path probe = workDir.resolve("matmul_probe_m" + m + ".onnx");
            try {
                Files.createDirectories(workDir);
                Files.write(probe, MatMulProbe.model(m, MatMulCeiling.K, MatMulCeiling.N));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            cmd.addAll(List.of("--probe", m + ":" + probe));
        }
        Path out = workDir.resolve("ceiling.json");
        cmd.addAll(List.of("--out", out.toString()));
        JsonNode n = TorchPeer.runPython(cmd, out, "ceiling probe");
        List<Shape> shapes = new ArrayList<>();
        try {
            for (JsonNode s : n.path("shapes")) shapes.add(BenchJson.MAPPER.treeToValue(s, Shape.class));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Result(shapes);
    }
}
