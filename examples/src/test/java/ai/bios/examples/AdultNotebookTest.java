package ai.bios.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.tools.nsc.Settings;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;
import scala.tools.nsc.interpreter.shell.ReplReporterImpl;

/**
 * examples/notebooks/AdultQuickstart.scala runs as a notebook runs it: cell by cell in Scala's REPL
 * (the compiler Spark is built with), against a SparkSession bound as {@code spark} that has the Bios
 * plugin, and reaches the accuracy, the save/reload equality and the SavedModel export it shows.
 *
 * <p>As in spark-shell, the REPL writes its classes to a directory that Spark serves to executors
 * ({@code -Yrepl-outdir} and {@code spark.repl.class.outputDir}), so code defined in a cell (the
 * notebook's label-cleaning UDF) runs inside Spark tasks.
 */
class AdultNotebookTest {
  private static final Path NOTEBOOK = Paths.get("notebooks/AdultQuickstart.scala");
  private static final Pattern CELL = Pattern.compile("^// ---- cell: (.+) ----$");

  /** One notebook cell: its title and its code (comments included, as a user pastes it). */
  record Cell(String title, String code) {}

  static List<Cell> cells(Path notebook) throws IOException {
    List<Cell> cells = new ArrayList<>();
    String title = null;
    StringBuilder code = new StringBuilder();
    for (String line : Files.readAllLines(notebook, StandardCharsets.UTF_8)) {
      Matcher m = CELL.matcher(line);
      if (m.matches()) {
        if (title != null) {
          cells.add(new Cell(title, code.toString()));
        }
        title = m.group(1);
        code.setLength(0);
      } else if (title != null) {
        code.append(line).append('\n');
      }
    }
    if (title != null) {
      cells.add(new Cell(title, code.toString()));
    }
    return cells;
  }

  @Test
  void theAdultNotebookRunsCellByCellInTheScalaReplAndItsModelScoresAbove84Percent(@TempDir Path tmp) throws Exception {
    List<Cell> cells = cells(NOTEBOOK);
    assertEquals(List.of("Cluster configuration", "Parameters", "Load and clean the data", "The pipeline", "Train",
        "Evaluate", "Training summary", "Save and reload", "Export a SavedModel"),
        cells.stream().map(Cell::title).toList(), "the notebook's cells, in order");

    Path classes = Files.createDirectories(tmp.resolve("repl-classes"));
    PrintStream console = System.out;
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    // Everything printed, by the cells and by the plugin's progress thread, is kept and still shown.
    PrintStream tee = new PrintStream(new Tee(console, all), true, StandardCharsets.UTF_8);
    ClassLoader testLoader = Thread.currentThread().getContextClassLoader();
    System.setOut(tee);
    SparkSession spark = SparkSession.builder().master("local[2]").appName("AdultNotebookTest")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.plugins", "ai.bios.spark.BiosPlugin")
        // What spark-shell does: executors load the REPL's classes from this directory, served by the driver.
        .config("spark.repl.class.outputDir", classes.toString())
        .config("spark.sql.artifact.isolation.enabled", "false")
        .getOrCreate();
    try {
      IMain repl = repl(classes, tee);
      try {
        run("bind spark", () -> repl.bind("spark", "org.apache.spark.sql.SparkSession", spark, repl.bind$default$4()), all);
        for (Cell cell : cells) {
          run(cell.title(), () -> repl.interpret(cell.code()), all);
          if (cell.title().equals("Parameters")) {
            // As papermill does: a cell injected after the parameters cell points it at this checkout and a temp dir.
            String data = Paths.get("data/adult").toAbsolutePath().toString();
            String work = tmp.resolve("work").toAbsolutePath().toString();
            run("injected parameters",
                () -> repl.interpret("val dataDir = \"" + data + "\"\nval workDir = \"" + work + "\"\n"), all);
          }
        }

        double accuracy = (Double) value(repl, "accuracy");
        assertTrue(accuracy > 0.84, "accuracy " + accuracy);
        assertEquals(Boolean.TRUE, value(repl, "samePredictions"), "the reloaded pipeline predicts what the fitted one did");
        String exported = value(repl, "exportedFiles").toString();
        assertTrue(exported.contains("saved_model.pb"), "the SavedModel listing: " + exported);
        String out = all.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("Bios progress plugin on"), "the configuration cell sees the plugin");
        int epochsRun = ((ai.bios.spark.TrainingSummary) value(repl, "summary")).epochsRun();
        assertTrue(epochsRun >= 4 && epochsRun <= 12, "epochs run with early stopping (patience 3, at most 12): " + epochsRun);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("bios: epoch " + epochsRun + " step ")),
            "the plugin's progress line for the last epoch run");
        assertTrue(out.lines().anyMatch(l -> l.matches("\\|epoch\\| *train_loss\\|.*val_loss\\|.*")), "the history table is shown");
        assertTrue(out.contains("\"workers\":[{\"rank\":0"), "the summary's JSON, with its per-worker entries");
      } finally {
        repl.close();
      }
    } finally {
      spark.stop();
      System.setOut(console);
      Thread.currentThread().setContextClassLoader(testLoader);
    }
  }

  /** A REPL compiling against this JVM's classpath and writing its classes to {@code classes}. */
  private static IMain repl(Path classes, PrintStream out) {
    Settings settings = new Settings();
    // Surefire may start the JVM from a manifest-only jar; it passes the real classpath in this property.
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> args = List.of("-Yrepl-class-based", "-Yrepl-outdir", classes.toString(), "-classpath", classpath);
    scala.Tuple2<Object, scala.collection.immutable.List<String>> parsed =
        settings.processArguments(scala.jdk.javaapi.CollectionConverters.asScala(args).toList(), true);
    assertTrue((Boolean) parsed._1(), "REPL settings " + args);
    IMain repl = new IMain(settings, new ReplReporterImpl(settings, new PrintWriter(out, true)));
    assertTrue(repl.initializeCompiler(), "the REPL's compiler starts");
    // As spark-shell does: code run on this thread (the driver) sees the REPL's classes.
    Thread.currentThread().setContextClassLoader(repl.classLoader());
    return repl;
  }

  /** Runs one cell with Scala's Console on the tee; fails naming the cell and showing what it printed. */
  private static void run(String title, scala.Function0<Results.Result> cell, ByteArrayOutputStream all) {
    int from = all.size();
    Results.Result result = scala.Console.withOut(System.out, cell);
    if (result != Results.Success$.MODULE$) {
      byte[] bytes = all.toByteArray();
      fail("notebook cell '" + title + "': " + result + "\n"
          + new String(bytes, from, bytes.length - from, StandardCharsets.UTF_8));
    }
  }

  private static Object value(IMain repl, String term) {
    scala.Option<Object> v = repl.valueOfTerm(term);
    assertTrue(v.isDefined(), "the notebook defines " + term);
    return v.get();
  }

  /** Writes to two streams. */
  private static final class Tee extends OutputStream {
    private final OutputStream a;
    private final OutputStream b;

    Tee(OutputStream a, OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public synchronized void write(int c) throws IOException {
      a.write(c);
      b.write(c);
    }

    @Override
    public synchronized void write(byte[] buf, int off, int len) throws IOException {
      a.write(buf, off, len);
      b.write(buf, off, len);
    }

    @Override
    public synchronized void flush() throws IOException {
      a.flush();
      b.flush();
    }
  }
}
