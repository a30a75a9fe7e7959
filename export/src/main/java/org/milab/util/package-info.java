/**
 * Owns: Small helpers every module shares: atomic file writes, hashing, provenance, progress, the one Jackson
 * mapper ({@link org.milab.util.Json}) and {@link org.milab.util.UserError}, the error that names the problem
 * and the fix.
 * <p>
 * Uses: Uses no lab package: it is the bottom layer. The order is asserted by ArchitectureTest;
 * docs/architecture.md draws it.
 */
package org.milab.util;
