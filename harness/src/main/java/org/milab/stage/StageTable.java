package org.milab.stage;

/**
 * Where a stage writes one of its tables inside a run folder: {@code <dir>/<name>.arrow}, or
 * {@code <dir>/seed<N>/<name>.arrow} for a per-seed stage. Protocols declare their tables once as these (see
 * {@code protocol.reference.ReferenceTables}); the stages that write them, the verdict readers and the report
 * all use the same value, so a renamed table cannot leave a reader on a stale path.
 */
public record StageTable(String dir, String name) {
    /** The table's path relative to the run folder, without {@code .arrow}. */
    public String path() {
        return dir + "/" + name;
    }

    /** The per-seed table's path relative to the run folder, without {@code .arrow}. */
    public String path(int seed) {
        return dir + "/seed" + seed + "/" + name;
    }
}
