package dev.tally;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tally.config.TallyConfig;
import dev.tally.testing.TallyClient;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The like-button page in two headless Chromium sessions against a real node: likes, views and live
 * viewers update in both. Uses the system's Chromium and chromedriver (Debian packages {@code
 * chromium}, {@code chromium-driver}; bin/test-deps installs them). Screenshots go to {@code
 * target/browser/}.
 */
class BrowserIT {

  private static final File CHROMIUM = new File("/usr/bin/chromium");
  private static final File CHROMEDRIVER = new File("/usr/bin/chromedriver");
  private static final Path SHOTS =
      Path.of(System.getProperty("basedir", "."), "target", "browser");
  private static final long POST = 777;

  @TempDir Path dir;
  private Tally node;
  private String url;
  private final List<WebDriver> drivers = new ArrayList<>();
  private final List<ChromeDriverService> services = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    assertThat(CHROMIUM).as("Chromium (Debian package chromium; run bin/test-deps)").exists();
    assertThat(CHROMEDRIVER)
        .as("chromedriver (Debian package chromium-driver; run bin/test-deps)")
        .exists();
    Files.createDirectories(SHOTS);
    node =
        Tally.start(
            TallyConfig.parse(new String[] {"--host", "127.0.0.1"}, Map.of())
                .withPortAndDataDir(0, dir.resolve("data")),
            Clock.systemUTC());
    url = "http://127.0.0.1:" + node.port() + "/posts/" + POST;
  }

  @AfterEach
  void stop() {
    for (WebDriver d : drivers) {
      try {
        d.quit();
      } catch (RuntimeException e) {
        // the browser is gone already
      }
    }
    for (ChromeDriverService s : services) {
      s.stop();
    }
    if (node != null) {
      node.close();
    }
  }

  private WebDriver browser(String name) throws Exception {
    // the driver is given explicitly, so Selenium Manager never looks for (or downloads) one
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER)
            .usingAnyFreePort()
            .withLogFile(SHOTS.resolve("chromedriver-" + name + ".log").toFile())
            .build();
    services.add(service);
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM);
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--window-size=720,1100",
        "--user-data-dir=" + Files.createDirectories(dir.resolve("profile-" + name)));
    WebDriver d = new ChromeDriver(service, options);
    drivers.add(d);
    return d;
  }

  private static String text(WebDriver d, String id) {
    return d.findElement(By.id(id)).getText().trim();
  }

  private static String attr(WebDriver d, String id, String attribute) {
    return d.findElement(By.id(id)).getDomAttribute(attribute);
  }

  private static void await(WebDriver d, Duration within, String id, String want) {
    new WebDriverWait(d, within, Duration.ofMillis(20))
        .withMessage(() -> "#" + id + " should read '" + want + "' but reads '" + text(d, id) + "'")
        .until(x -> want.equals(text(x, id)));
  }

  private static void shot(WebDriver d, String name) throws Exception {
    byte[] png = ((TakesScreenshot) d).getScreenshotAs(OutputType.BYTES);
    Files.write(SHOTS.resolve(name + ".png"), png);
  }

  @Test
  void likeInOneBrowser_showsInBoth_andLiveBadgeCountsBoth() throws Exception {
    WebDriver a = browser("a");
    WebDriver b = browser("b");
    a.get(url);
    b.get(url);
    try {
      for (WebDriver d : List.of(a, b)) {
        await(d, Duration.ofSeconds(10), "live-count", "2");
        await(d, Duration.ofSeconds(5), "view-count", "2"); // one view per page load
        await(d, Duration.ofSeconds(5), "like-count", "0");
        assertThat(attr(d, "conn-status", "data-state")).isEqualTo("live");
        assertThat(d.findElement(By.id("live-badge")).getText()).isEqualTo("2 watching");
        assertThat(attr(d, "like-button", "aria-pressed")).isEqualTo("false");
      }
      shot(a, "1-both-watching");

      a.findElement(By.id("like-button")).click();
      long clicked = System.nanoTime();
      await(a, Duration.ofSeconds(1), "like-count", "1");
      await(b, Duration.ofSeconds(1), "like-count", "1");
      assertThat(Duration.ofNanos(System.nanoTime() - clicked)).isLessThan(Duration.ofSeconds(1));
      assertThat(attr(a, "like-button", "aria-pressed")).isEqualTo("true");
      assertThat(attr(b, "like-button", "aria-pressed")).isEqualTo("false");
      assertThat(new TallyClient(node.port()).count(POST, "likes")).isEqualTo(1);
      Thread.sleep(400); // let the heart animation settle for the picture
      shot(a, "2-liked-a");
      shot(b, "2-liked-b");

      a.findElement(By.id("like-button")).click(); // unlike
      clicked = System.nanoTime();
      await(a, Duration.ofSeconds(1), "like-count", "0");
      await(b, Duration.ofSeconds(1), "like-count", "0");
      assertThat(Duration.ofNanos(System.nanoTime() - clicked)).isLessThan(Duration.ofSeconds(1));
      assertThat(attr(a, "like-button", "aria-pressed")).isEqualTo("false");

      // the like is remembered by the browser across page loads
      a.findElement(By.id("like-button")).click();
      await(b, Duration.ofSeconds(1), "like-count", "1");
      a.navigate().refresh();
      await(a, Duration.ofSeconds(5), "like-count", "1");
      assertThat(attr(a, "like-button", "aria-pressed")).isEqualTo("true");
      await(b, Duration.ofSeconds(5), "view-count", "3");
      await(b, Duration.ofSeconds(5), "live-count", "2");

      // without EventSource the page polls and heartbeats: still counted, still updated
      b.get(url + "?transport=polling");
      new WebDriverWait(b, Duration.ofSeconds(5))
          .until(x -> "polling".equals(attr(x, "conn-status", "data-state")));
      await(b, Duration.ofSeconds(8), "live-count", "2");
      await(a, Duration.ofSeconds(8), "live-count", "2");
      a.findElement(By.id("like-button")).click(); // unlike again
      await(b, Duration.ofSeconds(8), "like-count", "0");
      shot(b, "3-polling-b");
    } catch (AssertionError | RuntimeException e) {
      shot(a, "failed-a");
      shot(b, "failed-b");
      throw e;
    }
  }
}
