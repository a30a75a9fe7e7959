/**
 * Short programs using the public Java API ({@code org.milab.api}) only, run by the tests against the planted
 * model; docs/api.md shows their output.
 */
package org.milab.examples;
