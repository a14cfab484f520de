"""A real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, and the
reference login page's screens as the tests use them."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.stackutil import alive

WAIT_S = 20.0


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a profile of its own; chromedriver and the browser stopped after
    (checked by pid). Binary and driver paths are given, so Selenium downloads nothing."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", f"--user-data-dir={profile}", "--lang=ja"):  # fmt: skip
        options.add_argument(arg)
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_S)
    pid = service.process.pid
    try:
        yield driver
    finally:
        driver.quit()
    assert not alive(pid)


class LoginPage:
    """The seed's screens: login, forced change, done (login/page/)."""

    def __init__(self, driver: WebDriver, url: str) -> None:
        self.driver, self.url = driver, url
        self.wait = WebDriverWait(driver, WAIT_S)

    def open(self) -> None:
        self.driver.get(self.url)
        self.wait.until(ec.visibility_of_element_located((By.ID, "login-form")))

    def _fill(self, **fields: str) -> None:
        for field, value in fields.items():
            box = self.driver.find_element(By.ID, field)
            box.clear()
            box.send_keys(value)

    def _submit(self, button: str) -> None:
        """Click, then wait until the page's script has written its answer (a new screen or
        a new message): the marker the page clears before each request."""
        self.driver.execute_script("document.body.dataset.answered = '';")
        self.driver.find_element(By.ID, button).click()
        self.wait.until(lambda d: d.execute_script("return document.body.dataset.answered"))

    def login(self, number: str, password: str) -> str:
        """Log in; the screen shown after it (`login`, `change` or `done`)."""
        self._fill(number=number, password=password)
        self._submit("login-button")
        return self.screen()

    def change(self, current: str, new: str, again: str | None = None) -> str:
        self._fill(current=current, new1=new, new2=new if again is None else again)
        self._submit("change-button")
        return self.screen()

    def screen(self) -> str:
        for name in ("login", "change", "done"):
            if self.driver.find_element(By.ID, f"screen-{name}").is_displayed():
                return name
        raise AssertionError("no screen shown")

    def message(self) -> str:
        box = self.driver.find_element(By.ID, "message")
        return box.text if box.is_displayed() else ""

    def reasons(self) -> list[tuple[str, str]]:
        items = self.driver.find_elements(By.CSS_SELECTOR, "#reasons li")
        return [(li.get_attribute("data-code") or "", li.text) for li in items]

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    def back_to_login(self) -> None:
        self.driver.find_element(By.ID, "again-button").click()
        self.wait.until(ec.visibility_of_element_located((By.ID, "login-form")))
