package dev.panavirt.bench.report;

import dev.panavirt.bench.Via;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.VectorGraphicsEncoder;
import org.knowm.xchart.style.Styler;

/** The chart of every path's cost relative to C, per operation, drawn with XChart (PNG and SVG). */
final class RatioChart {
    private RatioChart() {}

    private static final Color[] COLORS = {
        new Color(0x1b, 0x6e, 0xc2), // panavirt
        new Color(0x5a, 0xa9, 0xe6), // FFM + errno
        new Color(0x9c, 0xcf, 0xf2), // FFM raw
        new Color(0xd9, 0x5f, 0x02), // JNA
        new Color(0x75, 0x70, 0xb3), // jnr-ffi
    };

    /** Writes {@code base}.png and {@code base}.svg. */
    static void write(Report report, Path base, String settings) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String> ops = report.operations();
        CategoryChart chart = new CategoryChartBuilder().width(1400).height(700)
                .title("Median time per call relative to C (1.0 = C; lower is better)")
                .xAxisTitle(settings + "; error bars: 95% bootstrap interval of the ratio of medians (its longer side)")
                .yAxisTitle("× C").build();
        var st = chart.getStyler();
        st.setLegendPosition(Styler.LegendPosition.OutsideS);
        st.setLegendLayout(Styler.LegendLayout.Horizontal);
        st.setChartBackgroundColor(Color.WHITE);
        st.setPlotGridVerticalLinesVisible(false);
        st.setYAxisMin(0.0);
        st.setYAxisDecimalPattern("0.0");
        st.setErrorBarsColorSeriesColor(false);
        st.setErrorBarsColor(Color.DARK_GRAY);
        st.setAnnotationLineColor(Color.BLACK);
        st.setAnnotationLineStroke(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                new float[] {6f, 4f}, 0f));
        st.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
        st.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        st.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
        st.setXAxisLabelRotation(ops.size() > 6 ? 15 : 0);
        // The axis fits the bars, not the error bars: on a noisy machine one bad iteration can make an error
        // bar dozens of times taller than every bar. Error bars are capped at the top (values: the report).
        double maxBar = 0;
        for (Via v : report.chartSeries()) {
            for (String op : ops) {
                maxBar = Math.max(maxBar, report.ratio(op, v).map(Robust.Estimate::value).orElse(0.0));
            }
        }
        double top = Math.ceil(Math.max(2.0, maxBar * 1.25) * 2) / 2;
        st.setYAxisMax(top);
        List<Color> colors = new ArrayList<>();
        for (Via v : report.chartSeries()) {
            List<Double> y = new ArrayList<>();
            List<Double> err = new ArrayList<>();
            for (String op : ops) {
                Optional<Robust.Estimate> r = report.ratio(op, v);
                double mean = r.map(Robust.Estimate::value).orElse(0.0);
                double e = r.map(x -> Double.isNaN(x.halfWidth()) ? 0.0 : x.halfWidth()).orElse(0.0);
                y.add(mean);
                err.add(Math.min(e, top - mean));
            }
            chart.addSeries(v.label(), ops, y, err);
            colors.add(COLORS[Math.min(v.ordinal() - 1, COLORS.length - 1)]);
        }
        st.setSeriesColors(colors.toArray(Color[]::new));
        chart.addAnnotation(new AnnotationLine(1.0, false, false));
        BitmapEncoder.saveBitmap(chart, base + ".png", BitmapEncoder.BitmapFormat.PNG);
        VectorGraphicsEncoder.saveVectorGraphic(chart, base + ".svg", VectorGraphicsEncoder.VectorGraphicsFormat.SVG);
    }
}
