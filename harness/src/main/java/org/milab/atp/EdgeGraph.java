package org.milab.atp;

import org.milab.graph.EdgeNames;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every edge of a model's computational graph (nodes {@code input}, {@code a{l}.h{h}}, {@code m{l}}, {@code logits};
 * head inputs split {@code <q>}, {@code <k>}, {@code <v>}) in MIB's naming and order of the edge-masked graph's mask inputs
 * ({@code edge_mask.a{l}} [3, H, n_l], {@code edge_mask.m{l}} [n_l + H], {@code edge_mask.logits} [N]), so an edge's
 * index is its position in the concatenation of all mask inputs of one row.
 */
public class EdgeGraph {

    /** One edge: upstream node index and name, downstream input name, its mask input and offset there. */
    public record Edge(int index, int upstream, String upstreamName, String downstream, String name,
                       String maskInput, int offset, int downstreamLayer) {}

    private final ModelConfig config;
    private final List<Edge> edges = new ArrayList<>();
    /** mask input name -> its size per row, in graph order. */
    private final Map<String, Integer> maskSizes = new LinkedHashMap<>();

    public EdgeGraph(ModelConfig c) {
        this.config = c;
        int H = c.nHead();
        for (int l = 0; l < c.nLayer(); l++) {
            int n = EdgeNames.upstreamBefore(c, l, false);
            String mask = EdgeNames.maskAttn(l);
            maskSizes.put(mask, 3 * H * n);
            for (int which = 0; which < 3; which++)
                for (int h = 0; h < H; h++)
                    for (int u = 0; u < n; u++)
                        add(u, "a" + l + ".h" + h + "<" + EdgeNames.QKV[which] + ">", mask, (which * H + h) * n + u, l);
            int nm = EdgeNames.upstreamBefore(c, l, true);
            maskSizes.put(EdgeNames.maskMlp(l), nm);
            for (int u = 0; u < nm; u++) add(u, "m" + l, EdgeNames.maskMlp(l), u, l);
        }
        int all = EdgeNames.upstreamCount(c);
        maskSizes.put(EdgeNames.MASK_LOGITS, all);
        for (int u = 0; u < all; u++) add(u, EdgeNames.LOGITS, EdgeNames.MASK_LOGITS, u, c.nLayer());
    }

    private void add(int upstream, String downstream, String mask, int offset, int layer) {
        String up = EdgeNames.upstreamName(config, upstream);
        edges.add(new Edge(edges.size(), upstream, up, downstream, up + "->" + downstream, mask, offset, layer));
    }

    public ModelConfig config() {
        return config;
    }

    public List<Edge> edges() {
        return edges;
    }

    public int size() {
        return edges.size();
    }

    public Map<String, Integer> maskSizes() {
        return maskSizes;
    }

    /** The upstream node names (input, a{l}.h{h}, m{l}) in graph order. */
    public List<String> upstreamNames() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < EdgeNames.upstreamCount(config); i++) out.add(EdgeNames.upstreamName(config, i));
        return out;
    }

    /** The index of the edge called {@code name}, or -1. */
    public int indexOf(String name) {
        for (Edge e : edges) if (e.name().equals(name)) return e.index();
        return -1;
    }
}
