package org.milab.planted;

import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;

import java.util.Map;

/** A planted model whose ground truth lies: the same weights, some heads given other roles (and those roles' gains). */
final class Relabel {
    private Relabel() {}

    /** Every head whose role is a key of {@code swap} gets the mapped role and the OV gain of the head that had it. */
    static Planted roles(Planted p, Map<Role, Role> swap) {
        GroundTruth g = p.groundTruth();
        var heads = g.heads().stream().map(h -> {
            Role to = swap.getOrDefault(h.role(), h.role());
            double gain = to == h.role() ? h.ovGain()
                    : g.heads(to).stream().mapToDouble(HeadTruth::ovGain).findFirst().orElse(0);
            return new HeadTruth(h.layer(), h.head(), h.name(), to, h.inCircuit(), h.fools(), h.mechanism(), gain);
        }).toList();
        GroundTruth lie = new GroundTruth(g.model(), g.seed(), g.noiseStd(), g.answerHead(), g.constants(), heads,
                g.preset(), g.layout(), g.layers());
        return new Planted(p.spec(), p.checkpoint(), p.vocabulary(), p.tokenizerJson(), lie);
    }
}
