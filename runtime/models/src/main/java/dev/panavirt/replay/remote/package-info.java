/**
 * A session target on the other side of a process boundary: the calls a {@link dev.panavirt.replay.SessionRunner}
 * makes, written as text lines ({@link Calls}), run by a program elsewhere (the cross-architecture lanes' kernel
 * agent, {@code lane/agent}), and its answers played back ({@link AnsweredTarget}) so the same runner prints the
 * kernel's results in the same form as a model's; {@link KernelDiff} compares the two line by line.
 */
package dev.panavirt.replay.remote;
