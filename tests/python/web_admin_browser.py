#!/usr/bin/env python3
"""The web admin in a real browser: headless Chromium driven by Selenium.

Logs in, adds a user, adds a mapping, presses Connect Now, views the queue, and
checks that the browser logged no console errors (a Content-Security-Policy violation
is one). With --screenshots DIR, saves the status and users pages there. Prints "ok"
and exits 0, or fails with the reason.
"""
import argparse
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from mailroom_browser import chromium, mark_document, new_page_loaded


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base", help="http://127.0.0.1:PORT")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--connection", required=True)
    ap.add_argument("--screenshots")
    a = ap.parse_args()

    driver = chromium()
    wait = WebDriverWait(driver, 30)
    errors = []

    def collect_console():
        for entry in driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                errors.append(entry)

    def open_page(path):
        driver.get(a.base + path)
        collect_console()

    def submit(form):
        mark_document(driver)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(new_page_loaded)
        collect_console()

    def notice():
        return driver.find_element(By.CSS_SELECTOR, ".notice").text

    def fill_and_submit(page, form_id, fields):
        open_page(page)
        form = driver.find_element(By.ID, form_id)
        for name, text in fields:
            form.find_element(By.NAME, name).send_keys(text)
        submit(form)

    try:
        # Log in.
        open_page("/login")
        driver.find_element(By.NAME, "user").send_keys(a.user)
        driver.find_element(By.NAME, "password").send_keys(a.password)
        submit(driver.find_element(By.TAG_NAME, "form"))
        assert driver.current_url.endswith("/admin/"), driver.current_url
        assert driver.find_element(By.TAG_NAME, "h1").text == "Status"
        assert a.connection in driver.page_source
        if a.screenshots:
            driver.save_screenshot(os.path.join(a.screenshots, "web-status.png"))

        # Add a user.
        fill_and_submit("/admin/users", "add-user",
                        [("name", "dave"), ("password", "dave-secret-1")])
        assert "Created user dave" in notice(), notice()
        rows = driver.find_elements(By.CSS_SELECTOR, "#users tr[data-user=dave]")
        assert len(rows) == 1, driver.page_source
        if a.screenshots:
            driver.save_screenshot(os.path.join(a.screenshots, "web-users.png"))

        # Add a mapping.
        fill_and_submit("/admin/mappings", "add-mapping",
                        [("address", "sales@example.com"), ("target", "dave")])
        assert "Added the mapping sales@example.com -> dave" in notice(), notice()
        table = driver.find_element(By.ID, "mappings")
        values = [i.get_attribute("value") for i in table.find_elements(By.NAME, "address")]
        assert "sales@example.com" in values, values

        # Connect Now on the connection's row.
        open_page("/admin/")
        buttons = [b for b in driver.find_elements(By.CSS_SELECTOR, "form[action$='/connect'] button")
                   if b.text == "Connect Now"]
        assert buttons, driver.page_source
        form = buttons[0].find_element(By.XPATH, "./ancestor::form")
        submit(form)
        assert "Asked the server to connect" in notice(), notice()

        # A schedule, through the form of its own.
        fill_and_submit("/admin/schedules", "add-schedule",
                        [("name", "morning"), ("at", "08:00")])
        assert "Added morning." in notice(), notice()
        assert driver.find_element(By.TAG_NAME, "h1").text == "Schedules"

        # The queue.
        open_page("/admin/queue")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Outgoing queue"
        assert "The queue is empty." in driver.page_source

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
