"""The explorer page in a real browser: Debian's headless Chromium, driven through chromedriver.

Where no browser is installed the test skips with the reason; under CI (CI=true) it must
run, and ``.ci/run`` installs Chromium first. The final screenshot is kept in
``test-artifacts/explorer.png``.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from web_helpers import run_dir_with_eval, start_server

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MAPPING = [3, 8, 0, 6, 1, 9, 2, 7, 4, 5]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1100,1100",
    "--force-device-scale-factor=1",
]


def _require(ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the browser test must run (.ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require(
        Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file(),
        f"no headless browser: {CHROMIUM} and {CHROMEDRIVER} come with Debian's chromium and "
        "chromium-driver packages (apt-get install chromium chromium-driver)",
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _require(False, "selenium is not installed (pip install -r requirements-dev.txt)")
        raise  # unreachable: _require skipped or failed
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_run):
    mapped = run_dir_with_eval(
        tmp_path_factory.mktemp("browser-run"),
        tiny_run / "checkpoints" / "last.pt",
        json.dumps({"category_to_digit": MAPPING}),
    )
    server = start_server(mapped)
    yield server
    server.stop(signal.SIGINT)


def _wait_idle(driver, timeout: float = 60) -> None:
    """Until every image shows what the controls last asked for."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: d.execute_script(
            "const imgs = [...document.querySelectorAll('img[data-wanted]')];"
            "return document.documentElement.dataset.busy === '0' && imgs.length === 3"
            " && imgs.every((i) => i.dataset.wanted === i.dataset.shown && i.naturalWidth > 0);"
        )
    )


def test_page_responds_to_category_slider_and_noise(browser, served):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    driver.get(served.url)
    _wait_idle(driver)

    # buttons and strip run in digit order: the button of digit d is code MAPPING.index(d)
    buttons = driver.find_elements(By.CSS_SELECTOR, "#categories button")
    assert [b.find_element(By.CLASS_NAME, "big").text for b in buttons] == list("0123456789")
    codes = [int(b.get_attribute("data-category")) for b in buttons]
    assert codes == [MAPPING.index(d) for d in range(10)]
    digit = driver.find_element(By.ID, "digit")
    assert driver.execute_script("return arguments[0].naturalWidth", digit) == 384
    assert "code 0 \u2192 digit 3" in driver.find_element(By.ID, "caption").text
    assert driver.find_element(By.ID, "strip-hint").text == "click a digit to select its code"
    before = digit.screenshot_as_png

    # A category: the button of digit 9, code 5.
    buttons[9].click()
    _wait_idle(driver)
    assert buttons[9].get_attribute("aria-pressed") == "true"
    assert buttons[3].get_attribute("aria-pressed") == "false"  # digit 3, code 0
    assert "category=5" in driver.find_element(By.ID, "digit").get_attribute("data-shown")
    after_category = digit.screenshot_as_png
    assert after_category != before

    # A slider: drag c1's thumb to the right, through many intermediate positions.
    slider = driver.find_element(By.ID, "c1")
    actions = ActionChains(driver).move_to_element(slider).click_and_hold()
    for _ in range(12):
        actions.move_by_offset(12, 0)
    actions.release().perform()
    _wait_idle(driver)
    value = float(slider.get_attribute("value"))
    assert value > 0.5
    assert driver.find_element(By.ID, "c1-value").text == f"{value:.2f}"
    after_slider = digit.screenshot_as_png
    assert after_slider != after_category

    # New noise: another seed, another image.
    seed_before = driver.find_element(By.ID, "seed").get_attribute("value")
    driver.find_element(By.ID, "new-noise").click()
    _wait_idle(driver)
    assert driver.find_element(By.ID, "seed").get_attribute("value") != seed_before
    assert digit.screenshot_as_png != after_slider

    # The strips show ten codes and the sweep of the slider just moved.
    strip = driver.find_element(By.ID, "category-grid")
    assert driver.execute_script("return arguments[0].naturalWidth", strip) == 10 * 66 + 2
    assert driver.find_element(By.ID, "sweep-name").text == "c1"
    labels = driver.find_elements(By.CSS_SELECTOR, "#category-strip .labels span")
    assert [s.text for s in labels] == list("0123456789")
    assert [s.get_attribute("title") for s in labels] == [f"code {c}" for c in codes]

    # The keyboard: one Tab stop for the ten buttons, the arrows move the code and focus.
    assert [b.get_attribute("tabindex") for b in buttons].count("0") == 1
    buttons[9].send_keys(Keys.ARROW_RIGHT)  # past the last: round to the first
    _wait_idle(driver)
    assert buttons[0].get_attribute("aria-pressed") == "true"
    assert driver.switch_to.active_element == buttons[0]
    buttons[0].send_keys(Keys.END)
    buttons[9].send_keys(Keys.ARROW_LEFT)
    _wait_idle(driver)
    assert driver.switch_to.active_element == buttons[8]
    assert f"category={codes[8]}&" in digit.get_attribute("data-shown")
    assert [b.get_attribute("tabindex") for b in buttons].index("0") == 8

    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert driver.find_element(By.ID, "status").text == ""

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "explorer.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def test_state_comes_from_the_address_and_a_bad_seed_is_refused(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver = browser
    driver.get(served.url + "#category=2&c1=-1.5&c2=0.25&seed=123&sweep=c2")
    _wait_idle(driver)
    assert driver.find_element(By.ID, "seed").get_attribute("value") == "123"
    assert driver.find_element(By.ID, "c2-value").text == "0.25"
    assert driver.find_element(By.ID, "sweep-name").text == "c2"
    shown = driver.find_element(By.ID, "digit").get_attribute("data-shown")

    # Clearing the seed field is refused in place: a message, no request, no new image.
    seed = driver.find_element(By.ID, "seed")
    seed.send_keys(Keys.CONTROL, "a")
    seed.send_keys(Keys.DELETE)
    assert "seed must be an integer" in driver.find_element(By.ID, "seed-error").text
    assert "invalid" in seed.get_attribute("class")
    _wait_idle(driver)
    assert driver.find_element(By.ID, "digit").get_attribute("data-shown") == shown
    # Typing a new one applies it.
    seed.send_keys("77")
    _wait_idle(driver)
    assert "seed=77&" in driver.find_element(By.ID, "digit").get_attribute("data-shown")
    assert driver.find_element(By.ID, "seed-error").text == ""
    # A seed too large, typed key by key: the valid prefixes' images arrive while the
    # message stays, naming the seed the digits show.
    seed.send_keys("7777777777")
    _wait_idle(driver)
    assert "invalid" in seed.get_attribute("class")
    message = driver.find_element(By.ID, "seed-error").text
    assert "seed must be an integer" in message and "show seed 777777777" in message
    assert "seed=777777777&" in driver.find_element(By.ID, "digit").get_attribute("data-shown")
    assert driver.find_element(By.ID, "status").text == ""


def test_narrow_window_on_a_2x_screen(browser, served):
    """At 400 CSS pixels wide and two device pixels to each, nothing scrolls sideways, the
    large digit fills its frame, drawn from a 384-pixel image (six per 64x64 pixel), and it
    stands above the controls, small enough that the sliders share its screen (below it,
    they were off screen while the digit they move was in view, and the other way round)."""
    driver = browser
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 400, "height": 900, "deviceScaleFactor": 2, "mobile": False},
    )
    try:
        driver.get(served.url)
        _wait_idle(driver)
        sizes = driver.execute_script(
            "const d = document.getElementById('digit').getBoundingClientRect();"
            "const f = document.getElementById('digit-frame').getBoundingClientRect();"
            "return {dpr: window.devicePixelRatio, page: document.documentElement.scrollWidth,"
            " view: document.documentElement.clientWidth, natural:"
            " document.getElementById('digit').naturalWidth,"
            " digit: [d.width, d.height], frame: [f.width, f.height],"
            " frameBottom: f.bottom,"
            " slider: document.getElementById('c2').getBoundingClientRect().bottom,"
            " innerHeight: window.innerHeight};"
        )
        assert sizes["dpr"] == 2
        assert sizes["page"] <= sizes["view"] <= 400, sizes
        assert sizes["natural"] == 384
        assert sizes["digit"] == sizes["frame"], sizes
        assert 200 <= sizes["frame"][0] < 384 and sizes["frame"][0] == sizes["frame"][1]
        assert sizes["frameBottom"] < sizes["slider"] < sizes["innerHeight"], sizes
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "explorer_narrow_2x.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_a_lost_server_is_said_beside_the_digit_and_greys_it(browser, tiny_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    server = start_server(tiny_run)
    try:
        driver.get(server.url)
        _wait_idle(driver)
    finally:
        assert server.stop(signal.SIGINT)[0] == 0
    driver.find_elements(By.CSS_SELECTOR, "#categories button")[4].click()
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: "cannot reach the server" in d.find_element(By.ID, "status").text
    )
    # the message sits under the digit's caption, in the same panel, and the digit is greyed
    panel = driver.find_element(By.CSS_SELECTOR, ".view")
    assert panel.find_element(By.ID, "status").is_displayed()
    assert "stale" in driver.find_element(By.ID, "digit").get_attribute("class")


def test_a_burst_of_slider_moves_sends_two_requests_not_fifty(browser, served):
    """Coalescing: while one request is in flight, newer values replace each other."""
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(served.url + "#category=1&c1=0&c2=0&seed=5&sweep=c1")
    _wait_idle(driver)
    driver.execute_script(
        "performance.clearResourceTimings();"
        "const slider = document.getElementById('c2');"
        "for (let i = 1; i <= 50; i++) {"
        "  slider.value = String(i / 50);"
        "  slider.dispatchEvent(new Event('input', {bubbles: true}));"
        "}"
    )
    _wait_idle(driver)
    sent = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".filter((n) => n.includes('/api/generate'));"
    )
    # The first move's request, then only the last value once that one returned.
    assert len(sent) == 2, sent
    assert "c2=0.02&" in sent[0] and "c2=1.00&" in sent[1]
    assert "c2=1.00&" in driver.find_element(By.ID, "digit").get_attribute("data-shown")
    assert driver.find_element(By.ID, "c2-value").text == "1.00"
