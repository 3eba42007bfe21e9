"""What the browser tests share: headless Chromium under Selenium with the browser
console logged, and the wait for the document a click leads to."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException


def chromium(prefs=None):
    """Headless Chromium (Debian's chromium and chromium-driver), console logged."""
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,860",
                "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.binary_location = "/usr/bin/chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if prefs:
        opts.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def mark_document(driver):
    """Mark the current document, before a click that leaves it."""
    driver.execute_script("window.__mailroomOld = true")


def new_page_loaded(driver):
    """A wait condition: a fresh document (no marker) has finished loading. Chromium
    may answer with an error while it swaps documents (EC.staleness_of then fails with
    "Node with given id does not belong to the document"), so an error means "not yet"."""
    try:
        return driver.execute_script(
            "return window.__mailroomOld === undefined"
            " && document.readyState === 'complete'")
    except WebDriverException:
        return False
