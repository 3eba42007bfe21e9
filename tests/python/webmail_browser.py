#!/usr/bin/env python3
"""Webmail in a real browser: headless Chromium driven by Selenium (issue 14).

As the user: log in, open the message delivered by SMTP (subject --subject) and reply
to it, find the reply in Sent; send a message with --attachment to oneself and
download it again (compared byte for byte); open the HTML message (subject --html)
whose scripts, event handlers, SVG and remote images must run and load nothing (its
page may log only the policy's refusals; nothing may log "pwned"; the loopback server
the test runs records requests); change the password, log out and log in with the new
one. No console errors on any other page. With --screenshots DIR, saves the inbox and
a message there. Prints "ok" and exits 0, or fails with the reason.
"""
import argparse
import os
import sys
import time
import urllib.request

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from mailroom_browser import chromium, mark_document, new_page_loaded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base", help="http://127.0.0.1:PORT")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--new-password", required=True)
    ap.add_argument("--subject", required=True)
    ap.add_argument("--html", required=True)
    ap.add_argument("--attachment", required=True)
    ap.add_argument("--downloads", required=True)
    ap.add_argument("--recorder", required=True,
                    help="URL answering how many requests the loopback server saw")
    ap.add_argument("--screenshots")
    a = ap.parse_args()

    driver = chromium({
        "download.default_directory": a.downloads,
        "download.prompt_for_download": False,
    })
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": a.downloads})
    except WebDriverException:
        pass
    wait = WebDriverWait(driver, 30)
    errors = []
    everything = []

    def collect_console(allow_policy=False):
        for entry in driver.get_log("browser"):
            everything.append(entry)
            if entry.get("level") != "SEVERE":
                continue
            if allow_policy and "Content Security Policy" in entry.get("message", ""):
                continue
            errors.append(entry)

    def open_page(path):
        driver.get(a.base + path)
        collect_console()

    def navigate(click):
        mark_document(driver)
        click()
        wait.until(new_page_loaded)

    def submit(form):
        navigate(form.find_element(By.CSS_SELECTOR, "button[type=submit]").click)
        collect_console()

    def notice():
        return driver.find_element(By.CSS_SELECTOR, ".notice").text

    def form(action):
        return driver.find_element(By.CSS_SELECTOR, f"form[action='{action}']")

    def log_in(password):
        open_page("/login")
        driver.find_element(By.NAME, "user").send_keys(a.user)
        driver.find_element(By.NAME, "password").send_keys(password)
        submit(driver.find_element(By.TAG_NAME, "form"))
        assert driver.current_url.endswith("/mail/"), driver.current_url

    try:
        log_in(a.password)
        assert driver.find_element(By.TAG_NAME, "h1").text == "Inbox"
        if a.screenshots:
            driver.save_screenshot(os.path.join(a.screenshots, "webmail-inbox.png"))

        # Open the message delivered by SMTP and reply to it.
        link = driver.find_element(By.LINK_TEXT, a.subject)
        navigate(link.click)
        collect_console()
        assert a.subject in driver.find_element(By.CSS_SELECTOR, "dd.subject").text
        if a.screenshots:
            driver.save_screenshot(os.path.join(a.screenshots, "webmail-message.png"))
        navigate(driver.find_element(By.LINK_TEXT, "Reply").click)
        collect_console()
        compose = driver.find_element(By.CSS_SELECTOR, "form.compose")
        assert compose.find_element(By.NAME, "subject").get_attribute("value") == "Re: " + a.subject
        compose.find_element(By.NAME, "body").send_keys("Friday works for me.")
        submit(compose)
        assert "Sent to" in notice(), notice()
        open_page("/mail/?f=Sent")
        assert "Re: " + a.subject in driver.page_source, driver.page_source

        # An attachment to oneself, downloaded again.
        with open(a.attachment, "rb") as f:
            original = f.read()
        name = os.path.basename(a.attachment)
        open_page("/mail/compose")
        compose = driver.find_element(By.CSS_SELECTOR, "form.compose")
        compose.find_element(By.NAME, "to").send_keys(a.user)
        compose.find_element(By.NAME, "subject").send_keys("File for myself")
        compose.find_element(By.NAME, "body").send_keys("See the attachment.")
        compose.find_element(By.NAME, "attachment").send_keys(a.attachment)
        submit(compose)
        assert "Sent to" in notice(), notice()
        navigate(driver.find_element(By.LINK_TEXT, "File for myself").click)
        collect_console()
        driver.find_element(By.LINK_TEXT, name).click()
        target = os.path.join(a.downloads, name)
        deadline = time.time() + 30
        while time.time() < deadline and not (
                os.path.exists(target) and os.path.getsize(target) == len(original)):
            time.sleep(0.2)
        with open(target, "rb") as f:
            assert f.read() == original, "the download differs from the upload"
        collect_console()

        # The HTML message: nothing runs, nothing loads.
        open_page("/mail/")
        navigate(driver.find_element(By.LINK_TEXT, a.html).click)
        frame = driver.find_element(By.CSS_SELECTOR, "iframe.html")
        sandbox = frame.get_attribute("sandbox")
        assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox, sandbox
        driver.switch_to.frame(frame)
        wait.until(lambda d: "Hello" in d.find_element(By.TAG_NAME, "body").text)
        assert not driver.find_elements(By.TAG_NAME, "script")
        assert not driver.find_elements(By.TAG_NAME, "svg")
        driver.switch_to.default_content()
        assert driver.title != "pwned", driver.title
        # Give a straggling request the time to reach the loopback server.
        time.sleep(1)
        collect_console(allow_policy=True)
        assert not [e for e in everything if "pwned" in e.get("message", "")], everything
        seen = urllib.request.urlopen(a.recorder, timeout=10).read().decode()
        assert seen == "0", f"{seen} requests reached the loopback server"
        # Asked for, the remote images load (and prove the recorder sees requests).
        navigate(driver.find_element(By.LINK_TEXT, "Load images").click)
        deadline = time.time() + 30
        while time.time() < deadline and urllib.request.urlopen(
                a.recorder, timeout=10).read().decode() == "0":
            time.sleep(0.2)
        collect_console(allow_policy=True)
        assert not [e for e in everything if "pwned" in e.get("message", "")], everything

        # Change the password, log out, log in with the new one.
        open_page("/mail/password")
        f = form("/mail/password")
        f.find_element(By.NAME, "old_password").send_keys(a.password)
        f.find_element(By.NAME, "new_password").send_keys(a.new_password)
        f.find_element(By.NAME, "new_password2").send_keys(a.new_password)
        submit(f)
        assert "Your password is changed." in notice(), notice()
        submit(driver.find_element(By.CSS_SELECTOR, "form.logout"))
        assert driver.current_url.endswith("/login"), driver.current_url
        log_in(a.new_password)

        collect_console()
        assert not errors, errors
    finally:
        driver.quit()
    print("ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        raise
