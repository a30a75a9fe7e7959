/**
 * Owns: The contract between protocols and the run and report around them: {@link
 * org.milab.stage.StageContext} (what a stage may ask of its run), {@link org.milab.stage.RunConfig}, the
 * verdict records every protocol answers with, {@link org.milab.stage.RunFolder} (a finished run read by
 * table path), where a stage table lives ({@link org.milab.stage.StageTable}) and the typed provenance of a
 * run ({@link org.milab.stage.RunManifest}) and of its tables ({@link org.milab.stage.TableProvenance}).
 * <p>
 * Uses: May use lab, engine, prompts, stats, tables and the export packages; never run, report or a protocol.
 * The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.stage;
