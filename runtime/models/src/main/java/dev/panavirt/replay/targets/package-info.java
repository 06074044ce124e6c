/**
 * The targets the replay engine can drive, by name ({@link dev.panavirt.replay.targets.SessionTargets}): each
 * adapts one software model to {@link dev.panavirt.replay.SessionTarget}. The models know nothing of the engine.
 */
package dev.panavirt.replay.targets;
