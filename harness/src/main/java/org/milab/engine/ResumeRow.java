package org.milab.engine;

import java.util.List;

/**
 * Where a hook_z row starts on the minimal path, and which of its patches can change the metric. The metric
 * reads the final position's logits only, and in the last block a position's output reaches no other
 * position: last-block patches before the final position change nothing the metric reads, so they are
 * dropped ({@code effective}). The row starts at the earliest block and position of the rest; a row left
 * without patches (a baseline) runs the last block at its final position.
 *
 * @param startLayer    the first block the row recomputes
 * @param startPosition the first position (its suffix start)
 * @param effective     the patches that can change the metric, in the row's order
 */
public record ResumeRow(int startLayer, int startPosition, List<SitePatch> effective) {
    public ResumeRow {
        effective = List.copyOf(effective);
    }

    /** Every patch kept: the row starts at its earliest patched block and position ({@link RecomputePath#RESUME}). */
    public static ResumeRow allPatches(PatchRow row, int nLayer) {
        List<SitePatch> all = row.overrides();
        return new ResumeRow(all.stream().mapToInt(SitePatch::layer).min().orElse(nLayer - 1),
                all.stream().mapToInt(SitePatch::position).min().orElse(row.prompt().length() - 1), all);
    }

    public static ResumeRow of(PatchRow row, int nLayer) {
        int fin = row.prompt().length() - 1;
        List<SitePatch> eff = row.overrides().stream().filter(o -> o.layer() < nLayer - 1 || o.position() == fin).toList();
        return new ResumeRow(eff.stream().mapToInt(SitePatch::layer).min().orElse(nLayer - 1),
                eff.stream().mapToInt(SitePatch::position).min().orElse(fin), eff);
    }
}
