/**
 * The replay engine: runs a session script (attribute, register and memory operations with expected results)
 * against a target chosen by name ({@link dev.panavirt.replay.targets.SessionTargets}), so a model and the kernel
 * device it stands for can be driven by the same script.
 */
package dev.panavirt.replay;
