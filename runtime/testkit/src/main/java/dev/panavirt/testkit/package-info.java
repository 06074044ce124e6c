/** The guest test kit: {@link dev.panavirt.testkit.GuestCompiler} and {@link dev.panavirt.testkit.TestGuest}. */
package dev.panavirt.testkit;
