/**
 * Owns: Fetching pinned GPT-2 weights and resolving them to verified files (hash-checked, resumable, atomic).
 * <p>
 * Uses: May use model and util. The order is asserted by ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.model.download;
