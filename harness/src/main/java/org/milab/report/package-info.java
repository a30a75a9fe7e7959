/**
 * Owns: The run report: reads a finished run folder and renders verdict Markdown, HTML and figures. It
 * decides nothing: each protocol's verdicts come from that protocol ({@code ReferenceVerdicts}, {@code
 * V2Verdicts}). Also the standalone attention page of {@code inspect --html} ({@code AttentionPage}).
 * <p>
 * Uses: May use the protocols, attribution, stage and everything below; never run or cli. The order is
 * asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.report;
