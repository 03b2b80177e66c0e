"""Fixtures shared by the test folders: ``browser``, headless Chromium through selenium and
Debian's ``chromium-driver`` (report.html, the status page). Without Chromium a browser test is
skipped, except in CI (``CI=true``), where it fails. ``screenshots``: where the browser tests
save the README's images; a temporary folder, so no test writes into the repository, unless
``IBBOT_SCREENSHOTS`` names one (docs/screenshots sets it to docs/)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are missing: .ci/run must install them")
        pytest.skip("no chromium/chromedriver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()



@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    folder = os.environ.get("IBBOT_SCREENSHOTS")
    return Path(folder) if folder else tmp_path
