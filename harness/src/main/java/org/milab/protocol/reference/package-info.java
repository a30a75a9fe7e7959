/**
 * Owns: The reference protocol: a bit-exact replica of the Python study (stages S3-S19), its reference-
 * specific patching helpers ({@link org.milab.protocol.reference.HeadPatching}, {@link
 * org.milab.protocol.reference.PositionLabel}), its held-out benchmark matrix, the catalog of its
 * tables ({@link org.milab.protocol.reference.ReferenceTables}) and its verdicts ({@link
 * org.milab.protocol.reference.ReferenceVerdicts}). Keep it bit-exact: its parity tests pin every byte.
 * <p>
 * Uses: May use stage, lab, engine, prompts, stats, tables and the export packages; never run, report or
 * another protocol. The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.protocol.reference;
