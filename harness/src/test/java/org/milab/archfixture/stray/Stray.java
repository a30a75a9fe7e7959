package org.milab.archfixture.stray;

/** Planted violation: a package no layer declares. */
public class Stray {
}
