package org.milab.atp;

import org.milab.graph.HookNames;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * A component AtP scores: one attention head (its hook_z slice), a whole attention layer (hook_attn_out), an
 * MLP (hook_mlp_out) or the residual stream entering a block (hook_resid_pre).
 *
 * @param head  the head for {@link Kind#HEAD}, else -1
 * @param mibId the node's name in MIB's circuit format ({@code a{l}.h{h}}, {@code m{l}}, {@code input} for the
 *              embeddings, i.e. hook_resid_pre of block 0), or null where MIB has no such node
 */
public record AttributionNode(Kind kind, int layer, int head, String hook, String id, String mibId) {
    public enum Kind { HEAD, ATTN, MLP, RESID_PRE }

    /** Every node of a model: per layer its heads, then attention layer, MLP and residual. */
    public static List<AttributionNode> all(ModelConfig c) {
        List<AttributionNode> out = new ArrayList<>();
        for (int l = 0; l < c.nLayer(); l++) {
            for (int h = 0; h < c.nHead(); h++)
                out.add(new AttributionNode(Kind.HEAD, l, h, HookNames.hookZ(l), "L" + l + "H" + h, "a" + l + ".h" + h));
            out.add(new AttributionNode(Kind.ATTN, l, -1, HookNames.hookAttnOut(l), "attn" + l, null));
            out.add(new AttributionNode(Kind.MLP, l, -1, HookNames.hookMlpOut(l), "mlp" + l, "m" + l));
            out.add(new AttributionNode(Kind.RESID_PRE, l, -1, HookNames.hookResidPre(l), "resid_pre" + l, l == 0 ? "input" : null));
        }
        return out;
    }

    /** The node's slice of its hook at one position: [offset, offset + width) of the position's values. */
    int offset(ModelConfig c) {
        return kind == Kind.HEAD ? head * c.dHead() : 0;
    }

    int width(ModelConfig c) {
        return kind == Kind.HEAD ? c.dHead() : c.dModel();
    }

    /** Values per position in the node's hook tensor. */
    static int stride(ModelConfig c) {
        return c.dModel(); // hook_z is [pos, head, d_head]: n_head x d_head = d_model per position too
    }
}
