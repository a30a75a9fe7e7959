/**
 * Owns: Attribution patching (gradient-based estimates of head effects) and its verification against exact
 * head patching.
 * <p>
 * Uses: May use stage and everything below it; never run, report or a protocol. The order is asserted by
 * ArchitectureTest; docs/architecture.md draws it.
 */
package org.milab.attribution;
