package dev.panavirt.lane;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading the guest's JUnit XML and rebuilding its failures; no lane needed. */
class GuestReportTest {
    private static final String REPORT = """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuite name="JUnit Jupiter" tests="4" skipped="1" failures="1" errors="1" time="0.33">
            <properties>
            <property name="a" value="b &amp; c"/>
            </properties>
            <testcase name="throwsNested()" classname="demo.DemoTest" time="0.147">
            <error message="outer" type="java.lang.IllegalStateException"><![CDATA[java.lang.IllegalStateException: outer
            \tat demo.DemoTest.throwsNested(DemoTest.java:9)
            \tat java.base/java.lang.reflect.Method.invoke(Unknown Source)
            Caused by: java.io.IOException: inner
            \tat demo.Io.read(Native Method)
            \t... 4 more
            ]]></error>
            <system-out><![CDATA[
            unique-id: [engine:junit-jupiter]/[class:demo.DemoTest]/[method:throwsNested()]
            ]]></system-out>
            </testcase>
            <testcase name="skipped()" classname="demo.DemoTest" time="0.017">
            <skipped><![CDATA[org.opentest4j.TestAbortedException: Assumption failed: not here
            \tat demo.DemoTest.skipped(DemoTest.java:8)
            ]]></skipped>
            </testcase>
            <testcase name="passes()" classname="demo.DemoTest" time="0.013"/>
            <testcase name="fails()" classname="demo.DemoTest" time="0.031">
            <failure message="deliberate ==&gt; expected: &lt;1&gt; but was: &lt;2&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: deliberate ==> expected: <1> but was: <2>
            \tat demo.DemoTest.fails(DemoTest.java:7)
            ]]></failure>
            </testcase>
            </testsuite>
            """;

    @Test
    void readsEveryCaseWithItsOutcome(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("TEST-junit-jupiter.xml"), REPORT);
        List<GuestReport.Case> cases = GuestReport.read(dir).cases();
        assertEquals(List.of("throwsNested()", "skipped()", "passes()", "fails()"),
                cases.stream().map(GuestReport.Case::name).toList());
        assertEquals(List.of(GuestReport.Outcome.FAILED, GuestReport.Outcome.SKIPPED, GuestReport.Outcome.PASSED,
                GuestReport.Outcome.FAILED), cases.stream().map(GuestReport.Case::outcome).toList());
        assertEquals("org.opentest4j.TestAbortedException: Assumption failed: not here", cases.get(1).message());
        assertEquals("deliberate ==> expected: <1> but was: <2>", cases.get(3).message());
        assertEquals("DemoTest", cases.get(0).simpleClassName());
        assertEquals(0.147, cases.get(0).seconds());
    }

    @Test
    void rebuildsTheGuestStackTraceAndCauses(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("TEST-junit-jupiter.xml"), REPORT);
        GuestReport.Case c = GuestReport.read(dir).cases().getFirst();
        GuestTestFailure f = GuestTestFailure.fromTrace(c.detail(), c.type(), "DemoTest.throwsNested()");
        assertEquals("[guest DemoTest.throwsNested()] java.lang.IllegalStateException: outer", f.getMessage());
        assertArrayEquals(new StackTraceElement[] {
                new StackTraceElement(null, null, null, "demo.DemoTest", "throwsNested", "DemoTest.java", 9),
                new StackTraceElement(null, "java.base", null, "java.lang.reflect.Method", "invoke", null, -1)},
                f.getStackTrace());
        Throwable cause = f.getCause();
        assertEquals("[guest DemoTest.throwsNested()] java.io.IOException: inner", cause.getMessage());
        assertEquals(1, cause.getStackTrace().length);
        assertEquals(-2, cause.getStackTrace()[0].getLineNumber());
        assertNull(cause.getCause());
    }

    @Test
    void emptyTraceFallsBackToTheReportedType() {
        GuestTestFailure f = GuestTestFailure.fromTrace("", "java.lang.AssertionError", "T.m()");
        assertEquals("[guest T.m()] java.lang.AssertionError", f.getMessage());
        assertEquals(0, f.getStackTrace().length);
    }

    @Test
    void missingReportDirectoryHasNoCases(@TempDir Path dir) throws IOException {
        assertEquals(List.of(), GuestReport.read(dir.resolve("absent")).cases());
    }

    @Test
    void truncatedReportIsAnError(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("TEST-x.xml"), REPORT.substring(0, REPORT.indexOf("<testcase name=\"fails()\"")));
        assertThrows(IOException.class, () -> GuestReport.read(dir));
    }

    @Test
    void unescapesEntities() {
        assertEquals("<a> & \"b\" 'c' A", GuestReport.Xml.unescape("&lt;a&gt; &amp; &quot;b&quot; &apos;c&apos; &#65;"));
        assertEquals("R&D; &unknown;", GuestReport.Xml.unescape("R&D; &unknown;"));
    }
}
