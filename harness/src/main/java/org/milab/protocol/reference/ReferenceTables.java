package org.milab.protocol.reference;

import org.milab.stage.StageTable;

/**
 * The catalog of the reference protocol's tables that are read outside the stage that writes them (by later
 * stages, {@link ReferenceVerdicts} and the report): each built from its stage's own folder and table name.
 * Per-seed tables take the seed in {@link StageTable#path(int)}.
 */
public final class ReferenceTables {
    private ReferenceTables() {}

    /** S12: every swept head across the sweep seeds, with its replication status. */
    public static final StageTable SWEEP = new StageTable(SweepConsolidationStage.DIR, SweepConsolidationStage.TABLE);
    /** S13: the registered held-out candidate set. */
    public static final StageTable CANDIDATES = new StageTable(HeldoutCandidateStage.DIR, HeldoutCandidateStage.TABLE);
    /** S14 per candidate (per seed). */
    public static final StageTable HELDOUT_BY_CANDIDATE = new StageTable(HeldoutRobustnessStage.DIR, HeldoutRobustnessStage.BY_CANDIDATE);
    /** S14 per prompt (per seed). */
    public static final StageTable HELDOUT_RESULTS = new StageTable(HeldoutRobustnessStage.DIR, HeldoutRobustnessStage.RESULTS);
    /** S15: held-out survival across seeds. */
    public static final StageTable HELDOUT = new StageTable(HeldoutConsolidationStage.DIR, HeldoutConsolidationStage.BY_CANDIDATE);
    /** S16 consolidated: the final characterization status of every candidate. */
    public static final StageTable CHARACTERIZATION =
            new StageTable(CharacterizationConsolidationStage.DIR, CharacterizationConsolidationStage.BY_CANDIDATE);
    /** S18: the failure modes of every head. */
    public static final StageTable TAXONOMY = new StageTable(FailureTaxonomyStage.DIR, FailureTaxonomyStage.BY_HEAD);
    /** S19: the calibration bank, scored. */
    public static final StageTable CALIBRATION = new StageTable(MetricCalibrationStage.DIR, MetricCalibrationStage.BY_EXAMPLE);
}
